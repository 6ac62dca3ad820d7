"""The first step of a run: ``prepare`` gathers everything training needs into a ``Job`` (the
config, the checkpoint a resume continues from, the data and the model) and writes nothing, so
a config or data error leaves no run directory behind.

A module of its own because it is the one step that reads before anything is written: what a
resume may change, the saved summary it continues, the data loaded and the model built.
``runner.py`` takes the Job from here through the other steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nncli import rundir, runs
from nncli.build import Parts, build, load_data
from nncli.config import Config
from nncli.config.resources import check_resources
from nncli.config.resume import check_may_change, resume_changes
from nncli.data import Dataset, import_reader
from nncli.errors import RunError
from nncli.preflight import check
from nncli.runlock import RunLock

if TYPE_CHECKING:
    from nncli.runner import StopFlag


@dataclass
class Job:
    """What ``prepare`` gathered: nothing of it is on disk yet for a new run."""

    cfg: Config
    ds: Dataset
    parts: Parts
    run_dir: Path | None  # set for a resume, or the directory a caller claimed (``into``)
    command: str
    timings: dict
    t0: float
    lock: RunLock | None = None  # held from the first write (a resume: from the start) to the end
    restored_from: str | None = None  # the checkpoint a resume continues from (None: epoch 0)
    segments: list = field(default_factory=list)  # earlier training segments of a resumed run
    resumed: bool = False
    changed: dict = field(default_factory=dict)  # key -> [saved, new] for a resume that changes keys
    fold: tuple[int, int] | None = None  # (k, i): fold i of k-fold cross-validation


def prepare(cfg: Config | None, *, runs_dir, resume: str | None, callbacks, command: str,
            timings: dict, stop: StopFlag | None = None, say=None, overrides=(), into: Path | None = None,
            loader=load_data, fold: tuple[int, int] | None = None, started: float | None = None) -> Job:
    t0 = time.perf_counter() if started is None else started
    lock = run_dir = used = None
    changed = {}
    if cfg is not None and cfg.sweep is not None:  # a search over the config is `nncli sweep`'s business
        cfg = cfg.model_copy(update={"sweep": None})
    if resume is not None:
        run_dir, lock = rundir.take(resume, runs_dir)
    elif into is not None:
        run_dir = Path(into)
        if (run_dir / runs.CHECKPOINT_FILE).exists():
            raise RunError(f"{run_dir}: holds a checkpoint already; resume it instead of training into it")
    try:
        if resume is not None:
            saved = rundir.run_config(run_dir)
            cfg = cfg if cfg is not None else (_with_overrides(run_dir, overrides) if overrides else saved)
            check_may_change(run_dir, saved, cfg)
            saved_fold = previous_summary(run_dir).get("fold")  # a fold of k-fold keeps its split
            if isinstance(saved_fold, dict):
                fold = (int(saved_fold["k"]), int(saved_fold["index"]) - 1)
        else:
            check(cfg, runs_dir)  # a typo in data.params, a missing file or run: exit 2, nothing written
        check_resources(cfg)  # a model or data that cannot fit is refused before any allocation
        t_import = time.perf_counter()
        import_reader(cfg.data.path)  # pyarrow, for a file: counted with the other imports
        timings["imports"] = timings.get("imports", 0.0) + time.perf_counter() - t_import
        t_data = time.perf_counter()
        ds = (loader(cfg) if loader is not load_data
              else load_data(cfg, stop=(lambda: stop.signame) if stop is not None else None, folds=fold))
        timings["data"] = time.perf_counter() - t_data
        for line in ds.notes if say is not None and resume is None else ():  # a resume said it before
            say(line)
        parts = build(cfg, ds, callbacks, runs_dir)
        if resume is not None:
            used = rundir.restore(parts, ds, saved, run_dir)
            t = parts.trainer
            changed = resume_changes(run_dir, saved, cfg, {"epoch": t.epoch, "batch": t.batch,
                                                           "stop_reason": t.stop_reason},
                                     previous_summary(run_dir).get("status"))
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return Job(cfg, ds, parts, run_dir, command, timings, t0, lock, used,
               resumed=resume is not None, changed=changed, fold=fold)


def previous_summary(run_dir: Path) -> dict:
    """The summary.json a resume continues: {} when it is damaged or was never written."""
    try:
        summary = runs.read_summary(run_dir)
    except RunError:  # damaged or never written (a full disk): start a fresh one rather than refuse
        return {}
    summary.pop("damaged", None)  # values of the wrong type were dropped on reading
    return summary


def _with_overrides(run_dir: Path, overrides) -> Config:
    """The run's saved config with ``--set`` overrides applied (a resume that trains longer)."""
    from nncli.config import load_config

    return load_config(run_dir / runs.CONFIG_FILE, overrides)
