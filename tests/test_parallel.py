"""Forked workers for page sets: same results, in order, as running the tasks here."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from kmrv_geo.parallel import forked_map

FORK = "fork" in multiprocessing.get_all_start_methods()


def test_results_come_back_in_task_order_from_forked_workers():
    base = 7  # a closure: the workers inherit it, nothing is pickled but the tasks and results
    results = list(forked_map(lambda a, b: (a * b + base, os.getpid()), [(k, k + 1) for k in range(12)], workers=2))
    assert [value for value, _ in results] == [k * (k + 1) + 7 for k in range(12)]
    if FORK:
        assert os.getpid() not in {pid for _, pid in results}


def test_one_worker_runs_the_tasks_here():
    results = list(forked_map(lambda a: (a, os.getpid()), [(1,), (2,)], workers=1))
    assert results == [(1, os.getpid()), (2, os.getpid())]


def test_an_error_in_a_worker_reaches_the_caller():
    def task(k):
        if k == 3:
            raise ValueError(f"task {k} failed")
        return k

    with pytest.raises(ValueError, match="task 3 failed"):
        list(forked_map(task, [(k,) for k in range(6)], workers=2))


def test_a_background_call_runs_in_its_own_process_and_returns_or_raises():
    import time

    from kmrv_geo.parallel import Background

    job = Background(lambda: (os.getpid(), 6 * 7))
    pid, value = job.result()
    assert value == 42 and (pid != os.getpid()) == FORK
    assert job.result() == (pid, 42)  # asked again: the same result

    def fail():
        raise ValueError("no such layer")

    with pytest.raises(ValueError, match="no such layer"):
        Background(fail).result()
    slow = Background(lambda: time.sleep(60))
    start = time.perf_counter()
    slow.cancel()
    assert time.perf_counter() - start < 10
