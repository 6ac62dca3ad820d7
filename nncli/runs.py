"""The runs/ store: the files of a run directory, claiming a new one, finding one by name, and
a run's true status for ``nncli runs``.

Every write is atomic (``atomic.py``): a crash or a full disk never leaves a half-written file.
The files have modules of their own: summary.json in ``summary.py``, metrics.csv in
``metricscsv.py``, model.npz and the checkpoints in ``modelfiles.py`` (their format in
``checkpoint.py``), the run's lock in ``runlock.py``.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import secrets
import time
from pathlib import Path

from nncli.atomic import (  # noqa: F401  (re-exported: the run store's file primitives)
    BackgroundWriter,
    append_text,
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
from nncli.errors import ConfigError, RunError
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


def remove_temp_files(run_dir) -> None:
    """Delete what a killed process left half-written (only this module's temporary files)."""
    for p in Path(run_dir).glob(".*.tmp"):
        _unlink(str(p))




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


