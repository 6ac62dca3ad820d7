"""Files that are never half-written: a temporary file beside the target, fsynced, then
renamed over it. Also npz without pickles, and a writer thread that keeps disk waits off the
training loop.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import RunError
from nncli.memory import available_memory, human_bytes


def _write_temp(path: Path, data: bytes) -> str:
    """Write `data` to a fsynced temporary file beside `path`; return its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o644)  # mkstemp makes 0600; run files are meant to be shared
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _fsync_dir(path: Path) -> None:
    """Make a rename durable; not every platform can open a directory, which is fine."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, keep_previous: Path | None = None) -> None:
    """Replace `path` with `data` in one step; on failure the old file stays as it was.

    With ``keep_previous``, the file being replaced is kept under that name. It is moved there
    through a hard link, so `path` itself never disappears, even for a moment.
    """
    path = Path(path)
    tmp = None
    try:
        tmp = _write_temp(path, data)  # complete on disk before anything moves
        if keep_previous is not None:
            _keep(path, Path(keep_previous))
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            _unlink(tmp)
        raise RunError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:
        if tmp is not None:
            _unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _keep(path: Path, prev: Path) -> None:
    if not path.exists() or (prev.exists() and os.path.samefile(path, prev)):
        return  # nothing to keep, or a rotation killed half-way already left prev on this file
    link = path.with_name(f".{prev.name}.{secrets.token_hex(4)}.tmp")
    os.link(path, link)
    try:
        os.replace(link, prev)
    except BaseException:
        _unlink(str(link))
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    """Plain JSON values; NaN and infinities become null (JSON has no spelling for them)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path, obj) -> None:
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_text(path, text + "\n")


def save_npz(path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to an .npz atomically; object arrays (which would need pickle) are refused."""
    atomic_write_bytes(Path(path), npz_bytes(arrays))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"array '{k}' has dtype {a.dtype}; object arrays cannot be saved")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_npz(path, limit: int | None = None, keys=None) -> dict[str, np.ndarray]:
    """All arrays of an .npz written by save_npz; anything else raises RunError.

    Every way a damaged file can fail to read (zip structure, unknown compression, encryption,
    npy headers) is reported as damage. Sizes are checked before anything is allocated: the
    arrays must fit in ``limit`` bytes (default: the memory available), and each array's header
    must declare exactly the bytes its zip member holds, so decompression is bounded too.
    With ``keys``, only those arrays are read.
    """
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: no such file")
    limit = available_memory() if limit is None else limit
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.infolist() if keys is None or m.filename[:-4] in keys]
            total = sum(m.file_size for m in members)
            if total > limit:
                raise RunError(f"{path}: its arrays would take {human_bytes(total)} in memory, more than "
                               f"the {human_bytes(limit)} available")
            arrays = {}
            for m in members:
                if not m.filename.endswith(".npy"):
                    raise ValueError(f"member {m.filename!r} is not an .npy array")
                with z.open(m) as f:
                    arrays[m.filename[:-4]] = _read_npy(f, m.file_size)
            return arrays
    except RunError:
        raise
    except Exception as e:  # noqa: BLE001  (zipfile and numpy raise many kinds on damaged input)
        raise RunError(f"{path}: corrupt or not an nncli file ({type(e).__name__}: {e})") from e


def _read_npy(f, size: int) -> np.ndarray:
    """One array from an .npy stream of ``size`` bytes; the header must account for every byte."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"npy format version {version} is not one numpy's savez writes")
    if dtype.hasobject:
        raise ValueError("an object array (reading it would need pickle)")
    count = math.prod(shape)
    header = f.tell()
    if header + count * dtype.itemsize != size:
        raise ValueError(f"the header declares {count * dtype.itemsize} bytes of data, the file holds "
                         f"{size - header}")
    flat = np.empty(count, dtype)
    view, done = memoryview(flat).cast("B"), 0
    while done < len(view):
        n = f.readinto(view[done:])
        if not n:
            raise ValueError("the array data ends early")
        done += n
    if fortran:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


def put_str(s: str) -> np.ndarray:
    """Text as a 0-d unicode array, storable in an .npz without pickle."""
    return np.array(str(s), dtype=np.str_)


def get_str(a) -> str:
    a = np.asarray(a)
    if a.shape != () or a.dtype.kind != "U":
        raise RunError(f"expected text stored as a 0-d unicode array, got dtype {a.dtype} shape {a.shape}")
    return str(a[()])



class BackgroundWriter:
    """Runs file writes on one thread so a training loop never waits on the disk.

    Writes under the same key coalesce: if a newer checkpoint is submitted before the older
    one was written, only the newer is written, in the older one's place in the queue (so a
    key submitted often, like the checkpoint, never starves the others). Writes are atomic, so
    what is on disk is always a complete earlier state. The first error stops the writer and
    is raised by the next ``submit`` or by ``close``, which waits for everything submitted to
    land.
    """

    def __init__(self):

        self._pending: dict = {}
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="nncli-writer", daemon=True)
        self._thread.start()

    def submit(self, key: str, fn, *args) -> None:
        with self._cond:
            if self._error is not None:
                raise self._error
            self._pending[key] = (fn, args)  # an existing key keeps its place
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                key = next(iter(self._pending))
                fn, args = self._pending.pop(key)
            try:
                fn(*args)
            except BaseException as e:  # handed to the training thread, never lost
                with self._cond:
                    self._error = e
                    self._pending.clear()
                    return

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error
