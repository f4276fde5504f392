"""Keep the process's resident memory close to what it holds (glibc's allocator, Linux only).

A run allocates and frees gigabytes of short-lived arrays on several threads. glibc gives each thread group its
own heap ("arena", up to eight per core) and keeps freed memory for reuse, so the resident size grows well past
what is live. Two standard allocator settings keep it down: fewer arenas (``M_ARENA_MAX``, as the environment
variable ``MALLOC_ARENA_MAX`` would) and handing free memory back after a phase that freed much
(``malloc_trim``). Elsewhere (other C libraries, Windows, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""``mallopt`` parameter number of the arena limit (glibc ``malloc.h``)."""
ARENAS = 2
"""Arenas allowed: the vectorised GEOS calls run on a few threads, which share them."""


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc only: musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas() -> bool:
    """Allow :data:`ARENAS` heaps, unless ``MALLOC_ARENA_MAX`` is set; call before threads start. True if set."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, ARENAS))


def release_free_memory() -> None:
    """Hand memory freed by the last phase back to the operating system (``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
