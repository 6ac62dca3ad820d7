"""A sweep on disk: ``runs/<sweep>/`` with ``manifest.json``, ``base.yaml`` and one run directory
per trial.

manifest.json (``format`` 1), rewritten atomically by the sweep's process after every change:

    name, key        the sweep's name and the hash of what defines it (base config, space,
                     strategy, metric): the same command finds the same sweep again
    command, created how and when it started
    base             "base.yaml": the config text as given, kept beside the manifest
    overrides        fixed ``key=value`` overrides applied to every trial
    space            swept key -> its expression (``loguniform(0.0001, 0.1)``)
    strategy         {name, trials, seed, eta, min_epochs, rungs}
    metric           what ranks trials (null: the task's validation metric)
    trials           [{id, label, params, overrides, config_hash, status, reason, run_dir,
                       score, epochs, epochs_run, rung}]; status is pending until the trial
                     starts, then its run's status (running, finished, failed, killed)
    best             the id of the best trial so far

A trial's ``run_dir`` is relative to the sweep directory and holds an ordinary run.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
from pathlib import Path

from nncli import runs
from nncli.errors import RunError

MANIFEST_FILE = "manifest.json"
BASE_FILE = "base.yaml"
BEST_FILE = "best.yaml"
LOCK_FILE = ".lock"
TRIAL_LOCK_FILE = ".sweep-trial.lock"  # in a trial's run directory, held while it trains
FORMAT = 1


def digest(data) -> str:
    """sha256 of data as canonical JSON."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read(sweep_dir: Path) -> dict:
    path = Path(sweep_dir) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise RunError(f"{sweep_dir}: not a sweep directory (no {MANIFEST_FILE})") from e
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunError(f"{path}: corrupt or not an nncli file ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("trials"), list):
        raise RunError(f"{path}: corrupt or not an nncli sweep manifest")
    if data.get("format", FORMAT) > FORMAT:
        raise RunError(f"{path}: sweep format {data['format']} (written by a newer nncli); upgrade nncli")
    return data


def write(sweep_dir: Path, manifest: dict) -> None:
    runs.write_json(Path(sweep_dir) / MANIFEST_FILE, manifest)


def is_sweep(path: Path) -> bool:
    return (Path(path) / MANIFEST_FILE).is_file()


def resolve(name_or_path: str, runs_dir) -> Path:
    """A sweep directory given as a path or by its directory name inside runs_dir."""
    given = Path(name_or_path)
    for p in (given, Path(runs_dir) / name_or_path):
        if p.is_dir() and is_sweep(p):
            return p
    root = Path(runs_dir)
    sweeps = [p.name for p in root.iterdir() if p.is_dir() and is_sweep(p)] if root.is_dir() else []
    hint = difflib.get_close_matches(str(name_or_path), sweeps, n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise RunError(f"no sweep '{name_or_path}': not a sweep directory and no sweep of that name in {root}{tip}")


@contextlib.contextmanager
def locked(sweep_dir: Path):
    """Hold the sweep for this process: a second ``nncli sweep`` on it is refused, naming the
    holder. The kernel drops the lock when the process dies, even by kill -9."""
    import fcntl

    path = Path(sweep_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunError(f"{sweep_dir}: the sweep is running in process {holder}; wait for it or stop it "
                           "first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def trial_lock(run_dir: Path, wait: float | None = None):
    """Held while a trial trains; a resumed sweep waits (up to ``wait`` seconds) for a trial
    that a dying sweep's worker is still stopping."""
    import fcntl
    import time

    fd = os.open(Path(run_dir) / TRIAL_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise RunError(f"{run_dir}: another process is still training this trial") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)
