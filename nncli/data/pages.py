"""Large float64 arrays whose memory is resident only where it is written, and can be given
back a column at a time once a column is no longer needed.

A file's number columns are read into one (columns, rows) store (``collect.py``); once the
encoder has written a column's model inputs, ``give_back`` returns that column's pages, so the
store shrinks as the matrices grow and the peak is about the store, not the store plus them.
"""

from __future__ import annotations

import mmap

import numpy as np

SMALL = 1 << 22  # bytes: below this an ordinary array (nothing worth giving back)


def untouched(shape: tuple) -> np.ndarray:
    """An empty float64 array whose pages become resident only as they are written.

    NumPy asks the kernel for transparent huge pages on large arrays: the first rows written
    into a (columns, rows) store would make 2 MB of every column resident at once (the whole
    store, in practice, however short the file). The mapping is private, as malloc's are: a
    page given back is freed, not kept for other processes."""
    size = int(np.prod(shape)) * 8
    if size < SMALL or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return np.empty(shape)
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buf, dtype=np.float64).reshape(shape)  # unmapped with the last view


def give_back(values: np.ndarray) -> int:
    """Free the pages that lie wholly inside ``values``, a contiguous part of an array from
    ``untouched`` (they read as zeros afterwards); the bytes freed. Any other array is left
    to its last reference."""
    owner = values
    while isinstance(owner, np.ndarray):
        owner = owner.base
    if isinstance(owner, memoryview):
        owner = owner.obj
    if not isinstance(owner, mmap.mmap) or not values.flags.c_contiguous or not values.size:
        return 0
    base = np.frombuffer(owner, np.uint8).ctypes.data
    start = values.ctypes.data - base
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages only: neighbours keep theirs
    end = (start + values.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    if end <= first:
        return 0
    owner.madvise(mmap.MADV_DONTNEED, first, end - first)
    return end - first
