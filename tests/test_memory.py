"""The allocator settings that keep a run's resident memory close to what it holds (glibc)."""

from __future__ import annotations

import sys

import pytest

from kmrv_geo import memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._glibc() is None, reason="glibc only")
def test_arenas_are_limited_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_arenas() is True
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False  # the user's setting stands
    memory.release_free_memory()  # hands free heap back; must not fail


def test_without_glibc_both_are_no_ops(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.limit_arenas() is False
    memory.release_free_memory()
