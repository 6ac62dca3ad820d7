"""Learning curves: train on growing fractions of the training split and record J_train (on
the rows trained on) and J_cv (on the validation split), the loss as trained without
penalties, as the notes define them; then the verdict of ``nncli.verdict`` at the largest
size, with the trend of J_cv saying whether more data still helps.

The fractions are nested prefixes of one seeded permutation of the training rows. Scaling and
encoding are fitted once, on the whole training split (as a run does).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from nncli import verdict
from nncli.build import build, load_data, targets
from nncli.config import Config
from nncli.errors import ConfigError

FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
MORE_DATA = 0.02  # J_cv still falling by this fraction of the trivial model's loss: more data helps


def learning_curve(cfg: Config, fractions=FRACTIONS, *, runs_dir="runs", on_point=None) -> dict:
    fractions = sorted(float(f) for f in fractions)
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise ConfigError(f"--fractions: expected fractions in (0, 1], got {fractions}")
    ds = load_data(cfg)
    if not len(ds.X_val):
        raise ConfigError("data.validation: a learning curve needs a validation split to measure J_cv on; "
                          "expected a fraction > 0, got 0")
    order = np.random.default_rng(cfg.seed).permutation(len(ds.X_train))
    points, baseline = [], None
    for f in fractions:
        n = max(2, math.ceil(f * len(ds.X_train)))
        rows = np.sort(order[:n])
        sub = dataclasses.replace(
            ds, X_train=ds.X_train[rows], y_train=ds.y_train[rows],
            sample_weight=None if ds.sample_weight is None else ds.sample_weight[rows])
        parts = build(cfg, sub, runs_dir=runs_dir)
        if baseline is None:  # the trivial model of the whole training split
            baseline = verdict.run_baseline(cfg, build(cfg, ds, runs_dir=runs_dir), ds)
        tr = parts.trainer
        tr.fit(sub.X_train, targets(parts, sub, sub.y_train), ds.X_val, targets(parts, ds, ds.y_val),
               parts.sample_weight)
        point = {"fraction": f, "samples": n, "epochs": tr.epoch,
                 "train": verdict.measures(ds.task, tr.evaluate(sub.X_train, targets(parts, sub, sub.y_train))),
                 "cv": verdict.measures(ds.task, tr.evaluate(ds.X_val, targets(parts, ds, ds.y_val)))}
        points.append(point)
        if on_point is not None:
            on_point(point)
    last = points[-1]
    v = verdict.judge(ds.task, last["train"], last["cv"], baseline)
    return {"task": ds.task, "points": points, "verdict": v.as_dict(), "diagnosis": v.text(),
            "trend": trend(points, baseline)}


def trend(points: list[dict], baseline: verdict.Baseline) -> str | None:
    """Whether J_cv still falls between the two largest sizes (more data would help)."""
    if len(points) < 2:
        return None
    a, b = points[-2]["cv"]["loss"], points[-1]["cv"]["loss"]
    scale = baseline.scale("loss") or 1.0
    if (a - b) / scale > MORE_DATA:
        return f"J_cv still falls with more data ({a:.4g} -> {b:.4g}): more data would likely help"
    return f"J_cv has levelled off ({a:.4g} -> {b:.4g}): more of the same data will help little"
