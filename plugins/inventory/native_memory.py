"""Big buffers given back to the operating system as soon as they are freed (glibc's malloc).

A harvest handles pages of megabytes each: the response body, its text, the page pickled to and
from the page worker. glibc serves a block that big with its own ``mmap`` (unmapped again when
freed) only while the block is above its *mmap threshold*, and that threshold is dynamic: each
such block freed raises it to the block's size, up to 32 MiB. After the first few pages the
pages' buffers therefore come from the heap, which a long listing fragments: the process keeps
memory it has freed. Measured over a generated CKAN listing (``benchmarks/harvest.py``,
2026-11-29), the harvest's own process peaked at 263–267 MiB for 1,000,000 datasets against
226–228 MiB for 100,000; with the threshold fixed at 1 MiB, 238–246 against 211–213. The
harvest's CPU seconds stayed within the machine's spread (89–98 CPU s for 1,000,000 either way;
a freshly mapped block costs its page faults). Trimming the heap every 64 pages instead, or a
4 MiB threshold, left the peak where it was.

Only blocks of a megabyte or more are affected, a few per page; the small objects that make up
most of a process are served as before. The setting holds for the rest of the process (glibc has
no way back to the dynamic threshold): where validation and publish follow in the same process
(``inventory run``, ``airflow dags test``) they run with it too, which measured the same (the whole
benchmark with ``MALLOC_MMAP_THRESHOLD_=1048576``: publishing 1,000,000 datasets 370.6 CPU s and
701 MiB against 369.3 and 717 without; validation 23.2 and 630 against 23.7 and 639).
"""

from __future__ import annotations

import ctypes
import functools
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
LARGE_BUFFER = 1 << 20


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc, with the signatures used here; else None."""
    try:
        libc = ctypes.CDLL(None)  # the C library this process already uses
        libc.gnu_get_libc_version  # only glibc has it; musl's mallopt does nothing
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


def unmap_large_buffers(threshold: int = LARGE_BUFFER) -> bool:
    """Have blocks of ``threshold`` bytes or more mapped and unmapped on their own from now on, in
    this whole process. True when done; False where the C library is not glibc (nothing changes).

    The heap's free top is trimmed beyond twice the threshold too (glibc's own ratio), and once now:
    a block is only mapped on its own when the heap has no room for it, and a heap whose threshold
    had risen keeps up to twice that free at its top.
    """
    libc = _glibc()
    if libc is None:
        return False
    done = libc.mallopt(M_MMAP_THRESHOLD, int(threshold)) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 2 * int(threshold)) == 1
    if not done:
        log.debug("mallopt refused a threshold of %d bytes", threshold)
        return False
    return trim()


def trim() -> bool:
    """Give the C heap's free memory back to the system now (``malloc_trim``): after a step that
    freed a lot, so that the next step in the same process starts from what is really in use.
    False where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
