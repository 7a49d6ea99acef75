"""inventory.native_memory: big blocks mapped on their own once the threshold is fixed.

Checked in a fresh interpreter, since the setting is for the whole process: glibc's
``mallinfo2`` counts the bytes in blocks it mapped on their own (``hblkhd``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from inventory import native_memory

pytestmark = pytest.mark.skipif(native_memory._glibc() is None or not hasattr(native_memory._glibc(), "mallinfo2"),
                                reason="the C library is not glibc 2.33 or later (mallinfo2)")

PROBE = textwrap.dedent('''
    import ctypes, sys
    from inventory import native_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def mapped_on_its_own(size):
        before = libc.mallinfo2().hblkhd
        block = libc.malloc(size)
        grew = libc.mallinfo2().hblkhd - before >= size
        libc.free(block)
        return grew

    # A freed 16 MiB block raises glibc's dynamic threshold past 4 MiB: a page-sized block then
    # comes from the heap, where freeing it does not give it back.
    libc.free(libc.malloc(16 << 20))
    print(mapped_on_its_own(4 << 20), end=" ")
    print(native_memory.unmap_large_buffers(), end=" ")
    print(mapped_on_its_own(4 << 20), mapped_on_its_own(64 << 10))
''')


def test_large_blocks_are_mapped_on_their_own_once_the_threshold_is_fixed():
    # glibc's own start-up settings would fix the threshold before the function does
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env).stdout.split()
    # before: from the heap; after: mapped on its own; a small block: still from the heap
    assert out == ["False", "True", "True", "False"]
