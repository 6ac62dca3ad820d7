"""The runs/ store: claim a run directory, write and read its files atomically.

Every write goes to a temporary file in the same directory, is fsynced and then renamed
over the target, so a crash or a full disk never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
import re
import secrets
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from nncli.errors import ConfigError, RunError

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.npz"
CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_PREV_FILE = "checkpoint.prev.npz"

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DIR_RE = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}-(.+)$")  # what claim_run_dir creates
_CLAIM_TRIES = 100
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheets run cells starting with these


def check_name(name) -> str:
    """Return `name` if it can be part of a run directory name, else raise ConfigError."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise ConfigError(f"name: expected 1-64 letters, digits, '.', '_' or '-' starting with a "
                          f"letter or digit and without '..', got {name!r}")
    return name


def claim_run_dir(root: str | Path, name: str) -> Path:
    """Create and return a fresh root/<YYYYmmdd-HHMMSS>-<6 hex>-<name>; never reuses a directory."""
    check_name(name)
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot create the runs directory {root}: {e.strerror or e}") from e
    real_root = root.resolve()
    for _ in range(_CLAIM_TRIES):
        run_dir = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}-{name}"
        if run_dir.resolve().parent != real_root:
            raise RunError(f"run directory {run_dir} would lie outside {root}")
        try:
            os.mkdir(run_dir)  # exclusive: fails if another process got this name first
        except FileExistsError:
            continue
        except OSError as e:
            raise RunError(f"cannot create a run directory in {root}: {e.strerror or e}") from e
        return run_dir
    raise RunError(f"cannot create a run directory in {root}: {_CLAIM_TRIES} names were taken")


# ---------------------------------------------------------------- atomic writes

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step; on failure the old file stays as it was."""
    path = Path(path)
    tmp = None
    try:
        tmp = _write_temp(path, data)
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
    atomic_write_bytes(Path(path), _npz_bytes(arrays))


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"array '{k}' has dtype {a.dtype}; object arrays cannot be saved")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an .npz written by save_npz; anything else raises RunError."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: no such file")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise RunError(f"{path}: corrupt or not an nncli file ({e})") from e


def put_str(s: str) -> np.ndarray:
    """Text as a 0-d unicode array, storable in an .npz without pickle."""
    return np.array(str(s), dtype=np.str_)


def get_str(a) -> str:
    a = np.asarray(a)
    if a.shape != () or a.dtype.kind != "U":
        raise RunError(f"expected text stored as a 0-d unicode array, got dtype {a.dtype} shape {a.shape}")
    return str(a[()])


# ---------------------------------------------------------------- metrics.csv

def _is_number_text(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def safe_cell(v: Any) -> str:
    """A CSV cell: numbers as numbers, text that a spreadsheet would run as a formula quoted."""
    if v is None:
        return ""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    s = str(v)
    # a leading quote makes spreadsheets show the text instead of running it as a formula;
    # text that already starts with quotes before such a character gets one more, so that
    # reading (which drops exactly one) gives the text back unchanged
    if s.startswith(_FORMULA_START) and not _is_number_text(s) or _quoted(s):
        return "'" + s
    return s


def _quoted(s: str) -> bool:
    return s.startswith("'") and s.lstrip("'").startswith(_FORMULA_START)


def write_metrics_csv(path, rows: list[dict]) -> None:
    """Rewrite the whole metrics file; columns are the first row's keys, then any new ones."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if columns:
        w.writerow([safe_cell(c) for c in columns])
    for row in rows:
        w.writerow([safe_cell(row.get(c)) for c in columns])
    atomic_write_text(path, buf.getvalue())


def _value(s: str) -> Any:
    if s == "":
        return None
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    if "_" not in s and _is_number_text(s):
        return float(s)
    return _unquote(s)


def _unquote(s: str) -> str:
    return s[1:] if _quoted(s) else s


def read_metrics_csv(path) -> list[dict]:
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [_unquote(h) for h in next(reader, [])]
            return [dict(zip(header, (_value(c) for c in cells))) for cells in reader if cells]
    except FileNotFoundError as e:
        raise RunError(f"{path}: no such file") from e
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise RunError(f"{path}: cannot read metrics ({e})") from e


# ---------------------------------------------------------------- summary, checkpoints

def write_summary(run_dir, summary: dict) -> None:
    write_json(Path(run_dir) / SUMMARY_FILE, summary)


def read_summary(run_dir) -> dict:
    path = Path(run_dir) / SUMMARY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise RunError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunError(f"{path}: corrupt or not an nncli file ({e})") from e
    if not isinstance(data, dict):
        raise RunError(f"{path}: corrupt or not an nncli file (expected a JSON object)")
    return data


def save_checkpoint(run_dir, arrays: dict) -> None:
    """Write checkpoint.npz; the checkpoint it replaces is kept as checkpoint.prev.npz."""
    run_dir = Path(run_dir)
    path, prev = run_dir / CHECKPOINT_FILE, run_dir / CHECKPOINT_PREV_FILE
    data = _npz_bytes(arrays)
    tmp = None
    try:
        tmp = _write_temp(path, data)  # complete on disk before the old one moves
        if path.exists() and not (prev.exists() and os.path.samefile(path, prev)):
            # keep the old one as prev through a hard link, so checkpoint.npz never disappears
            # (when a killed rotation left both names on one file, prev already holds it)
            link = path.with_name(f".{CHECKPOINT_PREV_FILE}.{secrets.token_hex(4)}.tmp")
            os.link(path, link)
            try:
                os.replace(link, prev)
            except BaseException:
                _unlink(str(link))
                raise
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            _unlink(tmp)
        raise RunError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:
        if tmp is not None:
            _unlink(tmp)
        raise
    _fsync_dir(run_dir)


def remove_temp_files(run_dir) -> None:
    """Delete what a killed process left half-written (only this module's temporary files)."""
    for p in Path(run_dir).glob(".*.tmp"):
        _unlink(str(p))


def load_checkpoint(run_dir) -> tuple[dict, str]:
    """(arrays, file name) from checkpoint.npz, or from checkpoint.prev.npz if the newest is bad."""
    run_dir = Path(run_dir)
    reasons = []
    for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE):
        try:
            return load_npz(run_dir / name), name
        except RunError as e:
            reasons.append(f"{name}: {'missing' if 'no such file' in str(e) else 'corrupt or truncated'}")
    raise RunError(f"{run_dir}: no usable checkpoint ({'; '.join(reasons)})")


# ---------------------------------------------------------------- finding runs

def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)


def _run_name(dir_name: str) -> str | None:
    """The run name in '<YYYYmmdd-HHMMSS>-<6 hex>-<name>', or None for other directories."""
    m = _DIR_RE.match(dir_name)
    return m.group(1) if m else None


def resolve_run(path_or_name: str, root="runs") -> Path:
    """A run directory given as a path, or by name inside `root`.

    A name is either a directory name in root or a run name, in which case the newest run
    with that name is used (directory names start with a timestamp, so they sort by age).
    """
    root = Path(root)
    given = Path(path_or_name)
    candidates = [given]
    if given.name == str(path_or_name) and path_or_name not in ("", ".", ".."):
        candidates.append(root / path_or_name)
        named = [p for p in _run_dirs(root) if _run_name(p.name) == path_or_name]
        candidates += named[::-1]
    dirs = [p for p in candidates if p.is_dir()]
    for p in dirs:
        if (p / CONFIG_FILE).is_file():
            return p
    if dirs:
        raise RunError(f"{dirs[0]}: not an nncli run directory (no {CONFIG_FILE})")
    names = [p.name for p in _run_dirs(root)]
    hint = difflib.get_close_matches(str(path_or_name), names, n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise RunError(f"no run '{path_or_name}': not a directory and no run of that name in {root}{tip}")


def list_runs(root) -> list[dict]:
    """One dict per run directory in root, {"dir": ..., **summary}, sorted by directory name."""
    out = []
    for p in _run_dirs(Path(root)):
        try:
            summary = read_summary(p)
        except RunError:
            summary = {"status": "unknown"}
        out.append({"dir": str(p), **{k: v for k, v in summary.items() if k != "dir"}})
    return out


# ---------------------------------------------------------------- writing off the hot path

class BackgroundWriter:
    """Runs file writes on one thread so a training loop never waits on the disk.

    Writes under the same key coalesce: if a newer checkpoint is submitted before the older
    one was written, only the newer is written. Writes are atomic, so what is on disk is always
    a complete earlier state. The first error stops the writer and is raised by the next
    ``submit`` or by ``close``, which waits for everything submitted to land.
    """

    def __init__(self):
        import threading

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
            self._pending.pop(key, None)
            self._pending[key] = (fn, args)
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
