"""Handing freed host memory back to the operating system between scoring batches.

glibc's allocator keeps freed blocks for reuse, and its mmap threshold rises to the largest block freed so far, so
blocks of many sizes (one set per batch shape) end up on the heap and stay resident: measured, a process scoring
2,000 ARC-Easy documents peaked 11 % above one scoring 200 with no more live data (BENCHMARKS.md, target 5).
`malloc_trim(0)` after each batch returns the free pages; allocation itself is unchanged (fixing the threshold
instead, `MALLOC_MMAP_THRESHOLD_`, also bounds the peak but mmaps every large tensor: 40 % slower, measured).
A no-op where glibc's `malloc_trim` is not available (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL("libc.so.6"), "malloc_trim", None)
    except OSError:
        return None


def release_free_host_memory() -> None:
    """Return the allocator's free pages to the OS (glibc `malloc_trim(0)`); costs well under a millisecond on a
    process holding a model, against ~0.1-1 s per scoring batch."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
