"""Reuse a saved run: rebuild its model from the run directory alone, then score or predict."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli import runs
from nncli.build import load_data, network
from nncli.checkpoint import file_format, model_meta
from nncli.config import Config, config_differences, config_hash, parse_yaml, read_config_text, validate
from nncli.config.migrate import migrate
from nncli.data import Preprocessor, read_features_csv, read_raw
from nncli.errors import ConfigError, DataError, RunError
from nncli.nn import Network, make_loss
from nncli.paths import check_path


@dataclass
class Loaded:
    cfg: Config
    net: Network
    prep: Preprocessor
    meta: dict
    classes: np.ndarray | None
    loss: object
    format: int = 2


def load_run_config(run_dir: Path, run_format: int) -> Config:
    """A run's saved config, read as the version that wrote the run meant it. A config.yaml
    that no longer reads is a damaged run (exit 4), not a mistake in the user's config."""
    path = run_dir / runs.CONFIG_FILE
    try:
        data, lines = parse_yaml(read_config_text(path), str(path))
        return validate(migrate(data, run_format), str(path), lines)
    except ConfigError as e:
        raise RunError(f"{run_dir}: the run's {runs.CONFIG_FILE} is damaged or was edited into an invalid "
                       f"config: {getattr(e, 'problems', [str(e)])[0]}") from e


def check_saved_config(arrays: dict, cfg: Config, run_dir: Path, saved_in: str) -> None:
    """Refuse a run whose config.yaml no longer describes its weights (an edit after training),
    naming each key that differs."""
    saved, digest = arrays.get("config"), arrays.get("config_sha256")
    if saved is None and digest is None:
        return  # written before configs were saved with the weights
    try:
        if digest is not None and runs.get_str(digest) == config_hash(cfg):
            return
        changed = config_differences(json.loads(runs.get_str(saved)), cfg) if saved is not None else ["?"]
    except (RunError, ValueError, RecursionError) as e:
        raise RunError(f"{run_dir / saved_in}: corrupt or not an nncli file (the saved config: {e})") from e
    if changed:
        shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise RunError(f"{run_dir}: {runs.CONFIG_FILE} differs from the config saved with the weights in "
                       f"{saved_in} ({shown}); it was edited after training: restore it, or train a new "
                       f"run from it")


def load_run(run: str, runs_dir: str | Path = "runs") -> tuple[Path, Loaded]:
    run_dir = runs.resolve_run(run, runs_dir)
    arrays = runs.load_model_arrays(run_dir)
    model_file = run_dir / runs.MODEL_FILE
    fmt = file_format(arrays, model_file)
    meta = model_meta(arrays, model_file)
    cfg = load_run_config(run_dir, fmt)
    check_saved_config(arrays, cfg, run_dir, runs.MODEL_FILE)
    try:
        net = network(cfg, meta["n_in"], meta["n_out"], meta["output"])
        net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")})
        prep = Preprocessor.from_state_dict(arrays)
        loss = make_loss(meta["loss"], cfg.loss.huber_delta)
        width = prep.transform(np.zeros((1, prep.n_features_in))).shape[1]
    except (KeyError, ValueError, TypeError, DataError, ConfigError) as e:
        raise RunError(f"{model_file}: corrupt or not an nncli model ({' '.join(str(e).split())})") from e
    if width != meta["n_in"]:
        raise RunError(f"{model_file}: corrupt or not an nncli model (the preprocessing gives {width} "
                       f"features, the network takes {meta['n_in']})")
    return run_dir, Loaded(cfg, net, prep, meta, arrays.get("classes"), loss, fmt)


def _encode_labels(y, classes, source) -> np.ndarray:
    lookup = {str(c): i for i, c in enumerate(classes)}
    y = np.asarray(y).reshape(-1)
    keys = [str(v.item() if hasattr(v, "item") else v) for v in y]
    keys = [k[:-2] if k.endswith(".0") and k[:-2] in lookup else k for k in keys]
    unknown = sorted({k for k in keys if k not in lookup})
    if unknown:
        raise DataError(f"{source}: label {unknown[0]!r} is not a class the model knows "
                        f"({', '.join(lookup)})")
    return np.array([lookup[k] for k in keys])


def evaluate(run: str, data_file: str | None = None, runs_dir: str | Path = "runs") -> dict:
    """Score a saved run on its test split (recreated from the seed) or on another file."""
    from sklearn import metrics

    run_dir, lr = load_run(run, runs_dir)
    task = lr.meta["task"]
    if data_file is None:
        ds = load_data(lr.cfg)
        if len(ds.X_test) == 0:
            raise DataError(f"{run_dir}: the run has no test split (data.test: 0); pass --data FILE")
        X, y, source = ds.X_test, ds.y_test, f"test split of {ds.source}"
        if X.shape[1] != lr.meta["n_in"]:
            raise RunError(f"{run_dir}: the run's data gives {X.shape[1]} features, its model takes "
                           f"{lr.meta['n_in']}: was the data section of its {runs.CONFIG_FILE} edited?")
    else:
        check_path(data_file, "data file")
        X, y_raw, _, source = read_raw(dataset=None, path=data_file, label=lr.cfg.data.label, params={},
                                       seed=lr.cfg.seed)
        if len(X) == 0:
            raise DataError(f"{source}: no rows to score")
        X = lr.prep.transform(X, lr.cfg.training.dtype)
        if task == "classification":
            y = _encode_labels(y_raw, lr.classes, source)
        else:
            y = np.asarray(y_raw, np.float64).reshape(len(X), -1)
    out = lr.net.predict(X)
    result = {"run": str(run_dir), "data": source, "task": task, "samples": int(len(X))}
    if task == "classification":
        proba = _probabilities(lr.loss.link(out))
        pred = proba.argmax(axis=1)
        labels = np.arange(len(lr.classes))
        p, r, f, support = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        result.update(
            accuracy=float(metrics.accuracy_score(y, pred)),
            precision_macro=float(p.mean()), recall_macro=float(r.mean()), f1_macro=float(f.mean()),
            log_loss=float(metrics.log_loss(y, proba, labels=labels)),
            per_class={str(c): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                "support": int(support[i])} for i, c in enumerate(lr.classes)},
            confusion_matrix=metrics.confusion_matrix(y, pred, labels=labels).tolist(),
            classes=[str(c) for c in lr.classes])
    else:
        y = y.reshape(len(out), -1)
        mse = float(metrics.mean_squared_error(y, out))
        result.update(mse=mse, rmse=mse ** 0.5, mae=float(metrics.mean_absolute_error(y, out)),
                      r2=float(metrics.r2_score(y, out)))
    return result


def _probabilities(p: np.ndarray) -> np.ndarray:
    """Rows of class probabilities in float64 that sum to 1 (one sigmoid column -> two)."""
    p = p.astype(np.float64)
    if p.shape[1] == 1:
        p = np.hstack([1 - p, p])
    return p / p.sum(axis=1, keepdims=True)


def predict(run: str, input_file: str, runs_dir: str | Path = "runs") -> tuple[list[str], list[list]]:
    """(header, rows) of predictions for a CSV of features: class and probabilities, or values."""
    check_path(input_file, "input file")
    run_dir, lr = load_run(run, runs_dir)
    X = read_features_csv(input_file, lr.meta["feature_names"], lr.cfg.data.label)
    out = lr.net.predict(lr.prep.transform(X, lr.cfg.training.dtype))
    if lr.meta["task"] == "classification":
        proba = _probabilities(lr.loss.link(out))
        pred = lr.classes[proba.argmax(axis=1)]
        header = ["prediction"] + [f"p_{c}" for c in lr.classes]
        rows = [[p.item() if hasattr(p, "item") else p] + [float(v) for v in row]
                for p, row in zip(pred, proba)]
    else:
        header = ["prediction"] if out.shape[1] == 1 else [f"prediction_{i}" for i in range(out.shape[1])]
        rows = [[float(v) for v in row] for row in out]
    return header, rows
