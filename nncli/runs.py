"""The runs/ store: claim a run directory, write and read its files.

Every write is atomic (``atomic.py``): a crash or a full disk never leaves a half-written file.
"""

from __future__ import annotations

import csv
import difflib
import errno
import io
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np

from nncli.atomic import (  # noqa: F401  (re-exported: the run store's file primitives)
    BackgroundWriter,
    atomic_write_bytes,
    atomic_write_text,
    get_str,
    load_npz,
    npz_bytes,
    put_str,
    save_npz,
    write_json,
)
from nncli.atomic import _unlink
from nncli.checkpoint import (
    MODEL_FORMAT,
    READS_CHECKPOINT,
    READS_MODEL,
    check_format,
    decode_checkpoint,
    encode_checkpoint,
)
from nncli.errors import ConfigError, FormatError, RunError
from nncli.paths import check_path
from nncli.runlock import LockState, probe, process_alive
from nncli.summary import (  # noqa: F401  (re-exported: part of the run store)
    MAX_SUMMARY_BYTES,
    SUMMARY_FILE,
    clean_summary,
    read_summary,
    write_summary,
)

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
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
    root = Path(check_path(root, "runs directory"))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:  # a file, or a symbolic link that leads nowhere
        raise RunError(f"cannot use {root} as the runs directory: {_not_a_directory(root)}") from e
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


def _not_a_directory(path: Path) -> str:
    if not os.path.islink(path):
        return "it exists and is not a directory"
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "it is a symbolic link in a loop (a link that leads back to itself)"
        return f"it is a symbolic link to {os.readlink(path)}, which does not exist"
    return "it is a symbolic link to something that is not a directory"


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


class MetricsTable:
    """metrics.csv as text that grows by one formatted line per epoch.

    The file is still rewritten whole and atomically each time, but formatting every earlier
    row again would make a long run's bookkeeping grow with the square of its epochs.
    Columns are the first row's keys, then any new ones (which re-formats the table once).
    """

    def __init__(self, rows=()):
        self.rows: list[dict] = []
        self.columns: list[str] = []
        self.lines: list[str] = []
        for row in rows:
            self.add(row)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if any(k not in self.columns for k in row):
            self.columns += [k for k in row if k not in self.columns]
            self.lines = [_csv_line(self.columns)] + [_csv_line([r.get(c) for c in self.columns])
                                                      for r in self.rows]
        else:
            self.lines.append(_csv_line([row.get(c) for c in self.columns]))

    def text(self) -> str:
        return "".join(self.lines)


def _csv_line(values) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([safe_cell(v) for v in values])
    return buf.getvalue()


def write_metrics_csv(path, rows: list[dict]) -> None:
    """Rewrite the whole metrics file from these rows."""
    atomic_write_text(path, MetricsTable(rows).text())


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


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(run_dir, state: dict, extra: dict | None = None) -> None:
    """Write checkpoint.npz from a trainer's state (and ``extra`` arrays: the run's config);
    the one it replaces is kept as checkpoint.prev.npz."""
    run_dir = Path(run_dir)
    atomic_write_bytes(run_dir / CHECKPOINT_FILE, npz_bytes(encode_checkpoint(state, extra)),
                       keep_previous=run_dir / CHECKPOINT_PREV_FILE)


def check_checkpoint_format(run_dir) -> None:
    """FormatError when the newest checkpoint was written in a format this version cannot
    resume: said first, before any data is loaded. Damage is left to ``load_checkpoint``."""
    for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE):
        path = Path(run_dir) / name
        try:
            arrays = load_npz(path, keys={"format"})
        except RunError:
            continue
        check_format(arrays, path, READS_CHECKPOINT, "checkpoint")
        return


def has_checkpoint(run_dir) -> bool:
    """Whether any checkpoint file exists (usable or not): a run without one never saved a state."""
    return any(os.path.lexists(Path(run_dir) / name) for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE))


def remove_temp_files(run_dir) -> None:
    """Delete what a killed process left half-written (only this module's temporary files)."""
    for p in Path(run_dir).glob(".*.tmp"):
        _unlink(str(p))


def load_checkpoint(run_dir, check=None) -> tuple[dict, str]:
    """(trainer state, file name) from checkpoint.npz, or from checkpoint.prev.npz if the newest
    cannot be read, does not decode, or fails ``check(state)`` (a ValueError: it does not fit)."""
    run_dir = Path(run_dir)
    reasons = []
    for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE):
        path = run_dir / name
        try:
            state = decode_checkpoint(load_npz(path), path)
            if check is not None:
                check(state)
            return state, name
        except FormatError:
            raise
        except RunError as e:
            reasons.append(f"{name}: {'missing' if 'no such file' in str(e) else 'corrupt or truncated'}")
        except (KeyError, ValueError, TypeError) as e:
            reasons.append(f"{name}: bad contents ({e})")
    raise RunError(f"{run_dir}: no usable checkpoint ({'; '.join(reasons)})")


def save_model(run_dir, arrays: dict) -> None:
    save_npz(Path(run_dir) / MODEL_FILE, {"format": np.array(MODEL_FORMAT), **arrays})


def load_model_arrays(run_dir) -> dict[str, np.ndarray]:
    """The arrays of a run's model.npz, after checking its format version."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise RunError(f"{run_dir}: no {MODEL_FILE} (the run has not finished; status in {SUMMARY_FILE})")
    arrays = load_npz(path)
    check_format(arrays, path, READS_MODEL, "model")
    return arrays


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
    root = Path(check_path(root, "runs directory"))
    given = Path(check_path(path_or_name, "run"))
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


FINAL_STATUSES = ("finished", "killed", "failed")


def effective_status(summary: dict, lock: LockState | None) -> str:
    """A run's true status from its summary and its lock (``runlock.probe``).

    ``running`` only while a live process holds the lock; ``dead`` when the process that was
    training it is gone without recording an end (SIGKILL, power loss: resumable). The status
    record in run.lock wins over summary.json, which a full disk may have left behind.
    """
    recorded = summary.get("status") if isinstance(summary.get("status"), str) else None
    if lock is None:  # a run written before run locks
        if recorded == "running" and isinstance(summary.get("process"), dict) \
                and process_alive(summary["process"]) is False:
            return "dead"
        return recorded or "unknown"
    if lock.held:
        return "running"
    status = lock.record.get("status")
    status = status if isinstance(status, str) else recorded
    if status == "running":
        alive = False if lock.held is False else process_alive(lock.record)
        return "dead" if alive is False else "running"
    return status or "unknown"


def run_row(run_dir: Path) -> dict:
    """{"dir": ..., **summary} with the effective status (and, when the status comes from the
    lock's record, its reason); what ``nncli runs`` shows for one run."""
    try:
        summary = read_summary(run_dir)
    except RunError:
        summary = {}
    lock = probe(run_dir)
    row = {"dir": str(run_dir), **{k: v for k, v in summary.items() if k != "dir"}}
    row["status"] = effective_status(summary, lock)
    if lock is not None and row["status"] != summary.get("status"):
        row["recorded_status"] = summary.get("status")
        if row["status"] == lock.record.get("status"):
            row["reason"] = lock.record.get("reason")
    if row["status"] in ("dead", "killed"):
        row["resumable"] = True
    if lock is not None and lock.record.get("pid") is not None:
        row["process"] = {k: lock.record.get(k) for k in ("host", "pid", "heartbeat")}
    return row


def list_runs(root) -> list[dict]:
    """One ``run_row`` per run directory in root, sorted by directory name."""
    return [run_row(p) for p in _run_dirs(Path(check_path(root, "runs directory")))]


