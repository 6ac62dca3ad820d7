"""k-fold cross-validation: K runs of one config grouped under one directory.

The test split is the config's own (the same rows as a plain run); the other rows are cut
into K folds, stratified for classification, and run i validates on fold i. The group's
``summary.json`` (``"kind": "folds"``) holds every fold's scores and their mean and standard
deviation (population, ddof 0, as ``numpy.std``). ``kfold_score`` is the one number a search
can rank a trial by.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from nncli import runner, runs
from nncli.config import Config
from nncli.errors import ConfigError

SPLITS = ("validation", "test")


def cross_validate(cfg: Config, k: int, *, runs_dir: str | Path = "runs", command: str = "",
                   callbacks=(), stop=None, say=None, on_fold=None) -> tuple[Path, dict]:
    """Train ``cfg`` k times into ``runs_dir/<stamp>-<name>-<k>fold/fold<i>``; returns the group
    directory and its summary. ``on_fold(i, run_dir, summary)`` is called after each fold."""
    if k < 2:
        raise ConfigError(f"--folds: expected at least 2 folds, got {k}")
    group = runs.claim_run_dir(runs_dir, f"{cfg.name}-{k}fold")
    result = {"name": cfg.name, "kind": "folds", "dir": str(group), "k": k, "status": "running",
              "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": command, "folds": []}
    runs.write_summary(group, result)
    for i in range(k):
        fold_cfg = cfg.model_copy(update={"name": f"fold{i + 1}"})
        try:
            run_dir, summary = runner.train(fold_cfg, runs_dir=group, command=command, callbacks=callbacks,
                                            stop=stop, say=say if i == 0 else None, fold=(k, i))
        except Exception:
            result["status"] = "failed"
            runs.write_summary(group, result)
            raise
        final = summary.get("final") or {}
        result["task"] = summary.get("task")
        result["folds"].append({"fold": i + 1, "dir": str(run_dir), "status": summary["status"],
                                **{s: final[s] for s in SPLITS if s in final}})
        if on_fold is not None:
            on_fold(i, run_dir, summary)
    result.update(status="finished", **aggregate(result["folds"]))
    runs.write_summary(group, result)
    return group, result


def aggregate(folds: list[dict]) -> dict:
    """{"mean": {split: {metric: ...}}, "std": {...}} over the folds' scores."""
    mean, std = {}, {}
    for split in SPLITS:
        rows = [f[split] for f in folds if split in f]
        if not rows:
            continue
        metrics = [m for m in rows[0] if all(isinstance(r.get(m), (int, float)) for r in rows)]
        values = {m: np.array([r[m] for r in rows], np.float64) for m in metrics}
        mean[split] = {m: float(v.mean()) for m, v in values.items()}
        std[split] = {m: float(v.std()) for m, v in values.items()}
    return {"mean": mean, "std": std}


def kfold_score(cfg: Config, k: int = 5, *, runs_dir: str | Path = "runs", metric: str | None = None,
                stop=None) -> float:
    """The mean over k folds of the held-out fold's score, for a search to rank a trial by:
    accuracy (classification) or R2 (regression) by default, higher is better; ``metric="loss"``
    gives the mean validation loss (lower is better)."""
    _, result = cross_validate(cfg, k, runs_dir=runs_dir, stop=stop)
    scores = result["mean"]["validation"]
    name = metric or ("accuracy" if "accuracy" in scores else "r2")
    if name not in scores:
        raise ConfigError(f"k-fold score: no metric {name!r}; expected one of {', '.join(sorted(scores))}")
    value = scores[name]
    return value if math.isfinite(value) else float("nan")
