"""Buffers of a megabyte or more on mappings of their own, returned to the system when freed.

glibc serves an allocation of 128 KiB or more from a mapping of its own, which `free`
returns to the system at once; but each time it frees one, it raises that threshold to the
buffer's size (up to 32 MiB). After the first batch of documents near 16 MB, every later
batch, every copy the driver makes of it and every RECORD line of that size came from the
heap instead, where the small objects of the decoded documents around them kept the freed
space from going back. Fixing the threshold at 1 MiB, six documents of 15.9 MB
(benchmarks/target_memory.py) took the tap's peak RSS from 322 MB to 243 MB and the target's
from 257 MB to 249 MB. A buffer under 1 MiB (a batch of ordinary documents is about that)
is served as before.

Only the commands call this, at start: a program that imports the connectors as a library
keeps its own allocator settings, as does anyone who set `MALLOC_MMAP_THRESHOLD_`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD_BYTES = 1 << 20


def map_large_buffers_separately() -> bool:
    """Fix glibc's mapping threshold at 1 MiB; False where the C library is not glibc or it was set."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    with contextlib.suppress(OSError, AttributeError):
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, THRESHOLD_BYTES))
    return False
