"""Datasets by name: scikit-learn's bundled loaders and sample generators; and the task of a
label column (classification or regression) when the config does not say."""

from __future__ import annotations

import difflib
import inspect

import numpy as np

from nncli.data.files import read_table
from nncli.data.names import DATASETS, GENERATORS, MAX_CLASSES, choice as _choice
from nncli.errors import ConfigError, DataError

# keyword arguments of the sklearn functions that nncli sets itself
_RESERVED_PARAMS = {"return_X_y", "as_frame", "data_home", "download_if_missing"}


def _sklearn_function(name: str):
    import sklearn.datasets as skd

    return getattr(skd, f"load_{name}" if name in DATASETS else name)


def param_problems(name: str, params: dict) -> list[str]:
    """One line per key of ``params`` that the dataset's scikit-learn function does not take
    (scikit-learn is imported only when there are params to check)."""
    if not params or name not in DATASETS and name not in GENERATORS:
        return []
    fn = _sklearn_function(name)
    accepted = sorted(p for p in inspect.signature(fn).parameters if p not in _RESERVED_PARAMS)
    problems = []
    for key in params:
        if key not in accepted:
            hint = difflib.get_close_matches(str(key), accepted, n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            problems.append(f"data.params.{key}: {name} has no parameter '{key}'; "
                            f"accepted: {', '.join(accepted) or 'none'}{tip}")
    return problems


def _call_sklearn(name: str, fn, params: dict, defaults: dict):
    problems = param_problems(name, params)
    if problems:
        raise ConfigError("; ".join(problems), problems)
    accepted = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in defaults.items() if k in accepted} | dict(params)
    try:
        return fn(**kwargs)
    except (ValueError, TypeError) as e:  # a value the function refuses: the config's mistake
        raise ConfigError(f"data.params: {name}: {' '.join(str(e).split())}") from e


def read_raw(*, dataset, path, label, params, seed):
    """(X float64 (n, d), y (n,) labels or (n,)/(n, k) floats, feature names, source)."""
    params = dict(params or {})
    if path is not None:
        X, y, names = read_table(path, label)
        return X, y, names, str(path)
    if dataset is None:
        raise DataError("data: expected a dataset name or a path to a .csv or .npz file, got neither")
    name = _choice(dataset, list(DATASETS) + list(GENERATORS), "data.dataset")
    if name in DATASETS:
        bunch = _call_sklearn(name, _sklearn_function(name), params, {})
        X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
        names = [str(s) for s in getattr(bunch, "feature_names", [])] or [f"x{k}" for k in range(X.shape[1])]
        labels = np.asarray(getattr(bunch, "target_names", []))
        if DATASETS[name] == "classification" and labels.dtype.kind == "U":
            y = labels[y]  # "setosa" rather than 0: predictions and reports speak the data's language
    else:
        out = _call_sklearn(name, _sklearn_function(name), params, {"random_state": seed})
        X, y = np.asarray(out[0], dtype=np.float64), np.asarray(out[1])
        names = [f"x{k}" for k in range(X.shape[1])]
    return X, y, names, name


def infer_task(y) -> str:
    """classification for text/bool labels or few distinct integers, regression otherwise.

    Integer-valued labels count as classes when there are at most MAX_CLASSES distinct
    values and no more than half as many as samples (so integer targets such as counts or
    prices, with many distinct values, stay regression).
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.dtype.kind in "USbO":
        return "classification"
    if y.ndim != 1 or y.size == 0:
        return "regression"
    yf = y.astype(np.float64)
    if not np.all(np.isfinite(yf)) or not np.all(yf == np.round(yf)):
        return "regression"
    k = len(np.unique(yf))
    return "classification" if k <= MAX_CLASSES and k <= max(2, len(yf) // 2) else "regression"
