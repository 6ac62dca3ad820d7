"""Datasets by name: scikit-learn's bundled loaders and sample generators; and the task of a
label column (classification or regression) when the config does not say."""

from __future__ import annotations

import difflib
import inspect

import numpy as np

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


def load_named(dataset: str, params: dict, seed: int):
    """(X float64 (n, d), y, feature names) of a bundled dataset or a generator; from the
    dataset cache (``cache.py``) after the first load."""
    from nncli.data import cache

    name = _choice(dataset, list(DATASETS) + list(GENERATORS), "data.dataset")
    path = cache.entry_path(name, dict(params or {}), None if name in DATASETS else seed)
    hit = cache.read(path)
    if hit is not None:
        return hit
    X, y, names = _load_with_sklearn(name, params, seed)
    cache.write(path, X, y, names)
    return X, y, names


def _load_with_sklearn(name: str, params: dict, seed: int):
    if name in DATASETS:
        bunch = _call_sklearn(name, _sklearn_function(name), dict(params or {}), {})
        X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
        names = [str(s) for s in getattr(bunch, "feature_names", [])] or [f"x{k}" for k in range(X.shape[1])]
        labels = np.asarray(getattr(bunch, "target_names", []))
        if DATASETS[name] == "classification" and labels.dtype.kind == "U":
            y = labels[y]  # "setosa" rather than 0: predictions and reports speak the data's language
    else:
        out = _call_sklearn(name, _sklearn_function(name), dict(params or {}), {"random_state": seed})
        X, y = np.asarray(out[0], dtype=np.float64), np.asarray(out[1])
        names = [f"x{k}" for k in range(X.shape[1])]
    return X, y, names


def read_raw(*, dataset, path, label, params, seed):
    """(X float64 (n, d), y, feature names, source) of a dataset or an all-numeric file.

    Kept for scripts and tests: training reads files through ``nncli.data.source``, which
    also takes text, dates and missing cells.
    """
    if path is not None:
        from nncli.data.columns import DataOptions, assign_roles
        from nncli.data.source import open_source

        src = open_source(path=path)
        roles = assign_roles(src.name, src.names, DataOptions(label=label), src.label_name)
        table = src.read([c for c in src.names if c in roles.inputs or c == roles.label])
        bad = [c for c in roles.inputs if table.columns[c].kind != "number"]
        if bad:
            raise DataError(f"{path}: column '{bad[0]}' holds {table.columns[bad[0]].kind} values; "
                            "read_raw takes numbers (train on the file to encode other columns)")
        X = np.column_stack([table.columns[c].values for c in roles.inputs])
        col = table.columns[roles.label]
        y = col.levels.astype(str)[col.values] if col.kind == "text" else col.values
        return X, y, roles.inputs, str(path)
    if dataset is None:
        raise DataError("data: expected a dataset name or a path to a data file, got neither")
    X, y, names = load_named(dataset, params, seed)
    return X, y, names, dataset


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
    yf = yf[~np.isnan(yf)]
    if not np.all(np.isfinite(yf)) or not np.all(yf == np.round(yf)):
        return "regression"
    k = len(np.unique(yf))
    return "classification" if k <= MAX_CLASSES and k <= max(2, len(yf) // 2) else "regression"
