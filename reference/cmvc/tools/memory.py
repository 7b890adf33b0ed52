"""Process memory policy of the command-line tools: keep freed memory for reuse.

RIFE's full-resolution tensors are tens of MB each.  glibc serves blocks above its mmap threshold
(at most 32 MB by default) with fresh mappings and unmaps them on free, so every such tensor is paid
for again in page faults (docs/experiments.md §4.4).  Raising the mmap and trim thresholds makes glibc
keep freed blocks in the heap, which is what the CLI wants; a library caller decides for its own
process (call :func:`retain_freed_memory`), since the process then keeps its peak heap.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

THRESHOLD = 1 << 30  # bytes: blocks up to 1 GiB come from the heap, and up to 1 GiB of it is kept
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_done: bool | None = None


def retain_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed large blocks instead of unmapping them; False where the C
    library is not glibc (nothing is changed).  Idempotent."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
            _done = bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, THRESHOLD))
    return _done
