"""A fitted estimator to a run directory and back.

``save`` writes what ``nncli train`` writes for a finished run (config.yaml, model.npz,
metrics.csv, summary.json) so that ``nncli predict`` and ``nncli evaluate --data`` read it;
the data never left memory, so the config names ``in-memory.npz`` as its path and the run
has no recorded test rows. ``from_run`` rebuilds a fitted estimator from any run whose inputs
are number columns.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nncli import metricscsv, modelfiles, runs
from nncli.build import Parts
from nncli.config import dump_config
from nncli.data import Dataset
from nncli.errors import RunError
from nncli.runresults import hyper, model_arrays, versions
from nncli.savedrun import load_run
from nncli.sklearn.params import from_config


def save(est, run_dir) -> Path:
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir}: the directory exists and is not empty; expected a new run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg, head = est.config_, est.head_
    parts = Parts(est.net_, None, None, head["n_out"], head["output"], head["loss"])
    empty = np.zeros((0, est.net_.input_shape[0]), est.net_.dtype)
    task = "classification" if est._classifier else "regression"
    ds = Dataset(X_train=empty, y_train=np.zeros(0), X_val=empty, y_val=np.zeros(0), X_test=empty,
                 y_test=np.zeros(0), task=task, classes=getattr(est, "classes_", None),
                 feature_names=list(est.encoder_.columns), preprocessor=est.prep_, source="in memory",
                 encoder=est.encoder_, target=est.target_)
    runs.atomic_write_text(run_dir / runs.CONFIG_FILE, dump_config(cfg))
    modelfiles.save_model(run_dir, model_arrays(parts, ds, cfg))
    metricscsv.write_metrics_csv(run_dir / runs.METRICS_FILE, est.history_)
    runs.write_summary(run_dir, {
        "name": cfg.name, "dir": str(run_dir), "status": "finished", "reason": None,
        "dataset": "in memory", "task": task, "seed": cfg.seed, **hyper(cfg),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": f"{type(est).__name__}.save",
        "versions": versions(), "n_params": int(est.net_.theta.size), "epochs_run": est.n_iter_,
        "history_last": est.history_[-1] if est.history_ else None})
    return run_dir


def from_run(cls, run, runs_dir="runs"):
    run_dir, lr = load_run(str(run), runs_dir)
    task = lr.meta["task"]
    if (task == "classification") != cls._classifier:
        raise ValueError(f"{run_dir}: a {task} run; use {'NNClassifier' if task == 'classification' else 'NNRegressor'}")
    kinds = {c.type for c in lr.encoder.codes}
    if kinds != {"number"}:
        raise ValueError(f"{run_dir}: the run's inputs include {', '.join(sorted(kinds - {'number'}))} columns; "
                         "the estimator takes numbers only (use nncli predict, or the ONNX export)")
    est = cls(**from_config(lr.cfg, cls._classifier))
    est.config_, est.net_, est.prep_, est.target_, est.loss_ = lr.cfg, lr.net, lr.prep, lr.target, lr.loss
    est.trainer_, est.run_dir_ = None, run_dir
    est.encoder_ = lr.encoder
    est.n_features_in_ = lr.prep.n_features_in
    columns = list(lr.encoder.columns)
    if columns != [f"x{k}" for k in range(len(columns))]:  # named columns (a file, a DataFrame, a dataset's)
        est.feature_names_in_ = np.array(columns, dtype=object)
    est.head_ = {"n_out": lr.meta["n_out"], "output": lr.meta["output"], "loss": lr.meta["loss"]}
    if cls._classifier:
        est.classes_ = np.asarray(lr.classes)
    else:
        est._y_1d = lr.net.output_shape[0] == 1
    history = metricscsv.read_metrics_csv(run_dir / runs.METRICS_FILE) if (run_dir / runs.METRICS_FILE).is_file() else []
    est.history_, est.loss_curve_, est.n_iter_ = history, [r["loss"] for r in history], len(history)
    return est
