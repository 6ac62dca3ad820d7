"""What a run says about itself: the versions and hyper-parameters in its summary, its final
scores per split, and the arrays of its model.npz.

A module of its own because two writers of runs share it: the runner (``runner.py``) and the
scikit-learn estimators when they save a fitted model as a run (``sklearn/runio.py``).
"""

from __future__ import annotations

import platform

import numpy as np

from nncli import __version__, rundir, runs
from nncli.build import Parts, targets
from nncli.config import Config
from nncli.config.layers import sizes_and_activations
from nncli.data import Dataset


def versions() -> dict:
    """The versions a run was trained with, read from package metadata (importing scipy and
    scikit-learn just to ask would cost more than a small run)."""
    from importlib import metadata

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"nncli": __version__, "numpy": np.__version__, "scipy": version("scipy"),
            "scikit-learn": version("scikit-learn"), "python": platform.python_version()}


def hyper(cfg: Config) -> dict:
    """The main hyper-parameters, for `nncli runs`. A layer list shows its weighted layers
    (conv32, conv64, 128: filters of each convolution, units of each dense layer)."""
    m = cfg.model
    hidden, activation = (list(m.hidden), m.activation) if m.layers is None else sizes_and_activations(m.layers)
    return {"hidden": hidden, "activation": activation,
            "optimizer": cfg.optimizer.name, "lr": cfg.optimizer.lr,
            "batch_size": cfg.training.batch_size, "epochs": cfg.training.epochs}


def final_metrics(parts: Parts, ds: Dataset) -> dict:
    """Loss (on the targets as trained) and the metric per split; for regression also RMSE and
    MAE in the data's own units."""
    out = {}
    for split, X, y in (("train", ds.X_train, ds.y_train), ("validation", ds.X_val, ds.y_val),
                        ("test", ds.X_test, ds.y_test)):
        if len(X):
            out[split] = parts.trainer.evaluate(X, targets(parts, ds, y))
            if ds.task == "regression":
                err = ds.target.inverse(parts.net.predict(X)) - np.asarray(y, np.float64).reshape(len(y), -1)
                out[split].update(rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))))
    return out


def model_arrays(parts: Parts, ds: Dataset, cfg: Config) -> dict:
    import json

    arrays = {f"net.{k}": v for k, v in parts.net.state_dict().items()}
    arrays.update(rundir.saved_config(cfg))
    arrays.update(ds.state_dict())  # preprocessing, column encoders, target scaling, split rows
    n_in = int(ds.X_train.shape[1]) if ds.X_train.ndim == 2 else list(ds.X_train.shape[1:])  # images: (C, H, W)
    meta = {"task": ds.task, "n_in": n_in, "n_out": parts.n_out,
            "feature_names": ds.feature_names, "loss": parts.loss_name, "output": parts.output,
            "data": ds.fingerprint, "label": ds.info.get("label_column"), "id": ds.info.get("id")}
    arrays["meta"] = runs.put_str(json.dumps(meta))
    if ds.classes is not None:
        arrays["classes"] = ds.classes
    return arrays
