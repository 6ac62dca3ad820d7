"""Arrow arrays to and from NumPy without pandas.

pyarrow's own conversions (``Array.to_numpy``, ``pa.array`` of Python values, ``pa.scalar``)
import pandas whenever it is installed, which takes longer than reading a large file; these go
through Arrow's tensors and buffers instead.
"""

from __future__ import annotations

import numpy as np


def floats(arr) -> np.ndarray:
    """A numeric or boolean Arrow array as float64, NaN where it is null."""
    import pyarrow as pa

    if pa.types.is_boolean(arr.type):
        arr = arr.cast(pa.int8())
    if not len(arr):
        return np.zeros(0)
    batch = pa.RecordBatch.from_arrays([arr.cast(pa.float64())], names=["v"])
    return np.asarray(batch.to_tensor(null_to_nan=True)).reshape(-1)


def codes(indices) -> np.ndarray:
    """Dictionary indices as int64, -1 where null."""
    v = floats(indices)
    return np.where(np.isnan(v), -1, v).astype(np.int64)


def strings(values) -> "pa.StringArray":
    """Python strings as an Arrow string array (built from its buffers)."""
    import pyarrow as pa

    data = [str(v).encode() for v in values]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, data), np.int64, len(data)), out=offsets[1:])
    return pa.LargeStringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data))).cast(
        pa.string())
