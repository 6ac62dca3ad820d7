"""Sweeps: many trials of one config, searched by a strategy, run by an executor, resumable.

    space.py       what a swept key may take (Hydra's ``a,b,c``, uniform, loguniform, int, ...)
    plan.py        config + command line -> the sweep's definition, every trial checked up front
    strategies.py  grid, random, TPE (Optuna, ask and tell) and successive halving's rungs
    driver.py      the loop: what each trial needs, the executor, the manifest
    worker.py      one trial, wherever it runs        executors.py  this process, a process pool
    cluster.py     a Dask cluster                     manifest.py   the sweep directory on disk
    score.py       what ranks trials

A sweep lives in ``runs/<name>-sweep-<hash>/`` (see manifest.py); the hash covers what defines
it, so running the same command again finds it and carries on: finished trials are skipped,
interrupted ones resume from their checkpoints, missing ones run.
"""

from __future__ import annotations

import time
from pathlib import Path

from nncli.errors import RunError, UsageError
from nncli.sweep import manifest
from nncli.sweep.driver import Sweep
from nncli.sweep.plan import Options, Plan, check_trial, from_manifest, make_plan

__all__ = ["Options", "Plan", "Sweep", "make_plan", "open_sweep", "resume_plan"]

_KEPT = ("status", "reason", "score", "scores", "metric", "epochs", "epochs_run", "rung", "wall_time")


def open_sweep(plan: Plan, runs_dir) -> Path:
    """The sweep's directory: created with its base config, or found again (same definition),
    in which case the plan takes over each trial's recorded state."""
    root = Path(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot create the runs directory {root}: {e.strerror or e}") from e
    sweep_dir = root / plan.name
    if manifest.is_sweep(sweep_dir):
        old = manifest.read(sweep_dir)
        if old.get("key") != plan.key:
            raise UsageError(f"{sweep_dir} holds another sweep (its base config, space, strategy or metric "
                             f"differ); continue it with nncli sweep --resume {sweep_dir}, or choose another --name")
        _adopt(plan, old, sweep_dir)
        return sweep_dir
    if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
        raise RunError(f"{sweep_dir} exists and is not a sweep directory")
    try:
        sweep_dir.mkdir(exist_ok=True)
        from nncli import runs

        runs.atomic_write_text(sweep_dir / manifest.BASE_FILE, plan.base_text)
    except OSError as e:
        raise RunError(f"cannot create the sweep directory {sweep_dir}: {e.strerror or e}") from e
    plan.created = time.strftime("%Y-%m-%dT%H:%M:%S")
    manifest.write(sweep_dir, plan.to_dict())
    return sweep_dir


def _adopt(plan: Plan, old: dict, sweep_dir: Path) -> None:
    plan.created, plan.best = old.get("created", ""), old.get("best")
    plan.command = old.get("command") or plan.command
    if plan.strategy["name"] == "tpe":
        plan.trials = old["trials"]
        return
    recorded = {t["id"]: t for t in old["trials"]}
    for t in plan.trials:
        was = recorded.get(t["id"])
        if was is None:
            continue
        if was.get("config_hash") != t["config_hash"]:
            raise UsageError(f"{sweep_dir}: trial {t['id']} ({t['label']}) now resolves to another config than "
                             "when the sweep began; start a new sweep with --name")
        t.update({k: was[k] for k in _KEPT if k in was})


def resume_plan(sweep: str, runs_dir) -> tuple[Plan, Path]:
    """``nncli sweep --resume SWEEP``: the plan from the manifest, every trial checked again."""
    sweep_dir = manifest.resolve(sweep, runs_dir)
    data = manifest.read(sweep_dir)
    base_path = sweep_dir / manifest.BASE_FILE
    from nncli.config import read_config_text

    plan = from_manifest(data, read_config_text(base_path), str(base_path))
    checked: set = set()
    for t in plan.trials:
        recorded = t["config_hash"]
        keep = {k: t[k] for k in ("epochs",) if t.get(k) is not None}
        check_trial(plan, t, runs_dir, checked)
        t.update(keep)
        if recorded is not None and t["config_hash"] != recorded:
            raise UsageError(f"{sweep_dir}: trial {t['id']} ({t['label']}) now resolves to another config than "
                             "when the sweep began (was nncli upgraded?); start a new sweep")
    return plan, sweep_dir
