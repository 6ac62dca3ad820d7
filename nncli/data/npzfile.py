""".npz data files: arrays X (samples, features) and y (labels or targets), optionally
feature_names; read without pickles and without trusting the archive.

Each array's header is read first and checked against the archive's own record of its size,
so a truncated or crafted file is refused before anything is allocated, and an array larger
than the memory available is refused instead of tried.
"""

from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from nncli.errors import DataError

ARRAYS = ("X", "y", "feature_names")


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable where Linux reports it)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _header(f, version):
    fmt = np.lib.format
    if version == (1, 0):
        return fmt.read_array_header_1_0(f)
    if version == (2, 0):
        return fmt.read_array_header_2_0(f)
    return fmt._read_array_header(f, version)  # 3.0: the 2.0 layout with a UTF-8 header


def _array(z: zipfile.ZipFile, key: str, path, budget: int) -> np.ndarray:
    info = z.getinfo(f"{key}.npy")
    damaged = f"{path}: array '{key}' is truncated or damaged"
    try:
        with z.open(info) as f:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = _header(f, version)
            header_len = f.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError,
            NotImplementedError, SyntaxError) as e:
        raise DataError(f"{damaged} ({str(e).splitlines()[0][:120]})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: array '{key}' holds Python objects, refused (nncli never unpickles); "
                        "save numbers or text")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes != info.file_size - header_len:
        raise DataError(f"{damaged} (its header declares {shape} of {dtype}, {nbytes} bytes; the "
                        f"archive holds {max(info.file_size - header_len, 0)} bytes of data)")
    if nbytes > budget:
        raise DataError(f"{path}: array '{key}' declares {_size(nbytes)} ({shape} of {dtype}), more than "
                        f"the {_size(budget)} of memory available")
    try:
        with z.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError,
            NotImplementedError) as e:
        raise DataError(f"{damaged} ({str(e).splitlines()[0][:120]})") from None


def read_npz(path, name: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X float64 (n, d) with NaN where missing, y (n,) or (n, k), feature names)."""
    name = name or str(path)
    arrays = read_arrays(path, name, need_y=True)
    X = arrays["X"]
    if X.ndim in (3, 4):
        raise DataError(f"{name}: X of shape {X.shape} holds images; a model that takes images starts "
                        "model.layers with conv2d, a pooling layer or flatten")
    return _check(name, X, arrays["y"], arrays.get("feature_names"))


def read_arrays(path, name: str, need_y: bool = True) -> dict[str, np.ndarray]:
    """The archive's X, y (when present or ``need_y``) and feature_names, checked for size and
    pickles before anything is allocated."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise DataError(f"{name}: cannot read: {e.strerror or e}") from None
    if magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{name}: a single .npy array, expected an .npz archive with arrays X and y")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        what = "empty" if not magic else "truncated or not an .npz archive"
        raise DataError(f"{name}: {what} (expected a zip of .npy arrays X and y, as numpy.savez writes)")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{name}: truncated or damaged .npz archive ({e})") from None
    with z:
        files = {n[:-4] for n in z.namelist() if n.endswith(".npy")}
        missing = [k for k in ("X", "y") if k not in files and (k == "X" or need_y)]
        if missing:
            raise DataError(f"{name}: missing array(s) {', '.join(missing)}; the archive holds "
                            f"{', '.join(sorted(files)) or 'no arrays'} (expected X and y)")
        budget = available_memory()
        arrays = {}
        for key in ARRAYS:
            if key in files:
                arrays[key] = _array(z, key, name, budget)
                budget -= arrays[key].nbytes
    return arrays


def _check(name: str, X: np.ndarray, y: np.ndarray, fn) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if X.ndim != 2:
        raise DataError(f"{name}: X must be 2-D (samples, features), got shape {X.shape}")
    if X.shape[1] == 0:
        raise DataError(f"{name}: X has no feature columns (shape {X.shape}), expected at least 1")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{name}: X must hold numbers, got dtype {X.dtype}")
    if y.ndim not in (1, 2) or len(y) != len(X):
        raise DataError(f"{name}: y must have one entry per row of X ({len(X)}), got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise DataError(f"{name}: y has no target columns (shape {y.shape}), expected at least 1")
    if y.dtype.kind == "S":
        y = y.astype(str)
    elif y.dtype.kind not in "biufU":
        raise DataError(f"{name}: y must hold numbers or text, got dtype {y.dtype}")
    names = [f"x{k}" for k in range(X.shape[1])]
    if fn is not None and fn.shape == (X.shape[1],) and fn.dtype.kind in "US":
        names = [str(s) for s in fn.astype(str)]
    return X.astype(np.float64), y, names
