"""Opening a run directory for writing: a new one (claimed, locked, its config written), or an
existing one to continue (locked, its saved config and checkpoint read); the config saved with
the weights; and the account of a run's training segments across resumes.

A run continues from checkpoint.npz, or from checkpoint.prev.npz when the newest is damaged in
any way (unreadable, bad contents, or not fitting the run's model and data). A run killed
before its first checkpoint starts again from epoch 0 of its config.yaml: training is
deterministic, so it ends bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from nncli import modelfiles, runs
from nncli.build import Parts
from nncli.checkpoint import check_against
from nncli.config import Config, config_hash, config_to_dict, dump_config
from nncli.config.load import load_saved_config
from nncli.data import Dataset
from nncli.errors import ConfigError, RunError
from nncli.runlock import LOCK_FILE, RunLock
from nncli.savedrun import check_saved_config


def claim(cfg: Config, runs_dir, into: Path | None = None) -> tuple[Path, RunLock]:
    """A new run directory (or ``into``, an empty one a sweep made for a trial), locked, with
    its config.yaml. On a disk too full for these, no directory of ours is left behind (an
    empty one would be a run with no status at all)."""
    run_dir = Path(into) if into is not None else runs.claim_run_dir(runs_dir, cfg.name)
    forget = _remove if into is None else (lambda d: (d / LOCK_FILE).unlink(missing_ok=True))
    try:
        lock = RunLock.acquire(run_dir)
    except RunError:
        forget(run_dir)
        raise
    try:
        runs.atomic_write_text(run_dir / runs.CONFIG_FILE, dump_config(cfg))
    except RunError:
        lock.discard()
        forget(run_dir)
        raise
    return run_dir, lock


def _remove(run_dir: Path) -> None:
    """Remove a run directory claimed a moment ago, and the lock file it may hold."""
    try:
        (run_dir / LOCK_FILE).unlink(missing_ok=True)
        run_dir.rmdir()
    except OSError:
        pass


def saved_config(cfg: Config) -> dict:
    """The arrays saved beside the weights (model.npz, checkpoint.npz): the config and its hash,
    so that a later edit of the run's config.yaml is found and named instead of silently used."""
    return {"config": runs.put_str(json.dumps(config_to_dict(cfg))), "config_sha256": runs.put_str(config_hash(cfg))}


def take(resume: str, runs_dir) -> tuple[Path, RunLock]:
    """The run directory ``resume`` names, locked for writing; refused while another process
    writes it. Temporary files a killed writer left are removed now, by the lock holder only
    (before the lock existed, a second writer removed the first one's files in flight)."""
    run_dir = runs.resolve_run(resume, runs_dir)
    lock = RunLock.acquire(run_dir)
    try:
        runs.remove_temp_files(run_dir)
        modelfiles.check_checkpoint_format(run_dir)  # a run this version cannot resume is said first
    except BaseException:
        lock.release()
        raise
    return run_dir, lock


def run_config(run_dir: Path) -> Config:
    """The run's config.yaml; one that no longer reads is a damaged run (exit 4)."""
    try:
        return load_saved_config(run_dir / runs.CONFIG_FILE)
    except ConfigError as e:
        raise RunError(f"{run_dir}: the run's {runs.CONFIG_FILE} is damaged or was edited into an invalid "
                       f"config: {e.problems[0]}") from e


def restore(parts: Parts, ds: Dataset, cfg: Config, run_dir: Path) -> str | None:
    """Load the state to continue from into the trainer; the checkpoint file used, or None
    when the run has none and starts again from epoch 0."""
    if not modelfiles.has_checkpoint(run_dir):
        return None
    trainer = parts.trainer
    reference = trainer.state_dict()  # the freshly built model: what a checkpoint must fit
    n = len(ds.X_train)
    n_batches = math.ceil(n / (min(trainer.batch_size, n) if trainer.batch_size else n))

    def fits(state):
        check_against(state, reference, n, n_batches, trainer.shuffle, parts.net.theta.size)

    state, used = modelfiles.load_checkpoint(run_dir, check=fits)
    check_saved_config(state["saved"], cfg, run_dir, used)
    try:
        trainer.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as e:
        raise RunError(f"{run_dir}: the checkpoint does not match the run's model ({e})") from e
    return used


def segments(previous: dict, record: dict) -> list[dict]:
    """The run's training segments so far: those its summary lists, and the last one if only
    the lock's record knows it (a writer killed, or stopped by a full disk, before its summary
    could say how long it ran)."""
    segs = previous.get("segments")
    if segs is None:  # written before segments were kept: one segment of the recorded length
        segs = [{"seconds": previous["wall_time"]}] if "wall_time" in previous else []
    segs = [dict(s) for s in segs]
    start = record.get("segment_start")
    if isinstance(start, (int, float)) and not record.get("segment_saved"):
        seconds = record.get("segment_seconds")
        if not isinstance(seconds, (int, float)):  # never ended: it lasted until its last heartbeat
            beat = record.get("heartbeat")
            seconds = max(0.0, beat - start) if isinstance(beat, (int, float)) else 0.0
        status = record.get("status") if record.get("status") != "running" else "dead"
        segs.append({"started": stamp(start), "seconds": seconds, "status": status})
    return segs


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))
