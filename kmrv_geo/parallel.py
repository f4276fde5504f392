"""Run independent tasks of one step in forked worker processes: page sets of thousands of pages.

Writing a field-check page is Python work (clipping, encoding, HTML), so threads would wait on the GIL; forked
processes share the step's layers without copying or pickling them (copy-on-write), and each returns only
what it wrote. Where ``fork`` is not available (Windows, macOS's default) or there is one core or few tasks,
the tasks run here, one after another, with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

CORES = max(1, min(4, os.cpu_count() or 1))
"""Cores a step uses at most (the machine's, up to four): worker processes here, threads for GEOS and PROJ calls
(:func:`kmrv_geo.overlay.threaded`, the ellipsoidal measuring)."""
WORKERS = CORES
"""Worker processes at most."""

_TASK: Callable[..., Any] | None = None
"""The function the forked workers run (inherited through ``fork``: closures need no pickling)."""
_BACKGROUND: Callable[[], Any] | None = None
"""The call a :class:`Background` process runs (inherited through ``fork`` likewise)."""


def _run(args: tuple) -> Any:
    assert _TASK is not None
    return _TASK(*args)


def forked_map(func: Callable[..., Any], tasks: Sequence[tuple], *, workers: int | None = None) -> Iterator[Any]:
    """``func(*task)`` for each task, in forked processes when that pays; results in task order.

    Parameters
    ----------
    func : callable
        Any function, closures included (the workers inherit it through ``fork``); its results must pickle.
        It must not rely on changes it makes to this process's memory: in a worker they are lost.
    tasks : sequence of tuple
        The arguments of each call.
    workers : int, optional
        Processes at most (default :data:`WORKERS`); 1 runs every task here.

    Yields
    ------
    object
        Each task's result, in the order of ``tasks``, as soon as it and the ones before it are done.
    """
    global _TASK
    workers = WORKERS if workers is None else workers
    workers = min(workers, len(tasks))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for task in tasks:
            yield func(*task)
        return
    _TASK = func
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(_run, tasks)
    finally:
        _TASK = None


def _run_background() -> Any:
    assert _BACKGROUND is not None
    return _BACKGROUND()


class Background:
    """One call running in a forked process while this process goes on (at once, here, where ``fork`` is missing
    or there is one core).

    Parameters
    ----------
    func : callable
        Called with no arguments; closures included (inherited through ``fork``). Its result must pickle; what it
        changes in memory is lost (it may write files).

    Examples
    --------
    >>> job = Background(lambda: 6 * 7)
    >>> job.result()
    42
    """

    def __init__(self, func: Callable[[], Any]) -> None:
        global _BACKGROUND
        self._pool = None
        self._value: Any = None
        if CORES <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            self._value = func()
            return
        _BACKGROUND = func
        try:
            self._pool = multiprocessing.get_context("fork").Pool(1)
        finally:
            _BACKGROUND = None
        self._pending = self._pool.apply_async(_run_background)

    def result(self) -> Any:
        """Wait for the call and return its result (its exception is raised here)."""
        if self._pool is None:
            return self._value
        try:
            self._value = self._pending.get()
        finally:
            self._pool.close()
            self._pool.join()
            self._pool = None
        return self._value

    def cancel(self) -> None:
        """Stop the call if it still runs (a run that failed does not wait for it)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def map_blocks(func: Callable[[int, int], Any], n: int, *, block: int, bar=None) -> Iterator[Any]:
    """``func(start, stop)`` over consecutive blocks of ``range(n)``, in forked workers when there is more than one
    block (:func:`forked_map`); results in block order.

    Parameters
    ----------
    func : callable
        Does the items ``start … stop − 1`` (e.g. writes those pages) and returns what the caller gathers.
    n : int
        Items in all.
    block : int
        Items per call.
    bar : tqdm progress bar, optional
        Advanced by each block's size as its result arrives.
    """
    blocks = [(start, min(start + block, n)) for start in range(0, n, block)]
    results = forked_map(func, blocks, workers=None if len(blocks) > 1 else 1)
    for (start, stop), result in zip(blocks, results, strict=True):
        if bar is not None:
            bar.update(stop - start)
        yield result
