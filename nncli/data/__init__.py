"""Data: named datasets and files in, a split and preprocessed ``Dataset`` out.

Takes plain values; ``build.py`` unpacks the config. scikit-learn is imported inside the
functions that need it so that importing this package costs only numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nncli.data.datasets import infer_task, read_raw
from nncli.data.files import read_features_csv, read_table  # noqa: F401  (part of the package's API)
from nncli.data.names import DATASETS, DTYPES, GENERATORS, TASKS, choice as _choice
from nncli.data.preprocess import Preprocessor
from nncli.data.splits import _split, _split_seed
from nncli.errors import DataError


@dataclass
class Dataset:
    X_train: np.ndarray  # (n_train, n_features_out), preprocessed, cast to dtype
    y_train: np.ndarray  # classification: int64 codes (n,); regression: (n, n_targets) floats
    X_val: np.ndarray  # may have 0 rows when validation == 0
    y_val: np.ndarray
    X_test: np.ndarray  # may have 0 rows when test == 0
    y_test: np.ndarray
    task: str  # "classification" | "regression"
    classes: np.ndarray | None  # sorted original labels (classification only); codes index into it
    feature_names: list[str]  # raw input columns, before polynomial features
    preprocessor: Preprocessor  # fitted on the training split only
    source: str  # dataset name or file path, for summaries


def load_dataset(*, dataset: str | None, path: str | None, label: str | None, params: dict,
                 task: str | None, validation: float, test: float, scaling: str, polynomial: int,
                 subset: int | None, seed: int, dtype: str = "float32") -> Dataset:
    """Read, subset, encode, split (test first, then validation), fit the preprocessor on train."""
    dtype = _choice(str(dtype), DTYPES, "training.dtype")
    for key, frac in (("validation", validation), ("test", test)):
        if not 0 <= frac < 1:
            raise DataError(f"data.{key}: expected a fraction in [0, 1), got {frac!r}")
    if validation + test >= 1:
        raise DataError(f"data: validation + test must be < 1, got {validation} + {test}")
    if subset is not None and subset < 2:
        raise DataError(f"data.subset: expected at least 2 samples, got {subset}")
    prep = Preprocessor(scaling, polynomial)

    X, y, names, source = read_raw(dataset=dataset, path=path, label=label, params=params, seed=seed)
    if subset is not None:
        X, y = X[:subset], y[:subset]
    n = len(X)
    if n < 2:
        raise DataError(f"{source}: expected at least 2 samples, got {n}")
    if task is not None:
        task = _choice(task, TASKS, "data.task")
    else:
        task = (DATASETS | GENERATORS).get(source) if path is None else None
        task = task or infer_task(y)

    classes = None
    if task == "classification":
        if y.ndim == 2 and y.shape[1] != 1:
            raise DataError(f"{source}: classification needs one label per sample, got y of shape {y.shape}")
        y = y.reshape(n)
        classes, codes = np.unique(y, return_inverse=True)
        if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
            classes = classes.astype(np.int64)
        if len(classes) < 2:
            raise DataError(f"{source}: the labels hold a single class ({classes[0].item()!r}); "
                            "classification needs at least 2")
        y_all, strat = codes.astype(np.int64).reshape(n), codes.reshape(n)
    else:
        bad = [v for v in y.ravel() if not _is_number(v)] if y.dtype.kind not in "biuf" else []
        if bad:
            raise DataError(f"{source}: regression needs numeric labels, got {str(bad[0])!r}")
        y_all, strat = y.astype(np.float64).reshape(n, -1).astype(dtype), None

    n_test = math.ceil(test * n) if test > 0 else 0
    n_val = math.ceil(validation * n) if validation > 0 else 0
    if n - n_test - n_val < 1:
        raise DataError(f"{source}: {n} samples are too few for validation={validation} and "
                        f"test={test} (the training split would be empty)")
    rest, te = _split(np.arange(n), n_test, strat, _split_seed(seed, 0))
    tr, va = _split(rest, n_val, strat, _split_seed(seed, 1))

    prep.fit(X[tr])
    return Dataset(
        X_train=prep.transform(X[tr], dtype), y_train=y_all[tr],
        X_val=prep.transform(X[va], dtype), y_val=y_all[va],
        X_test=prep.transform(X[te], dtype), y_test=y_all[te],
        task=task, classes=classes, feature_names=names, preprocessor=prep, source=source,
    )


def _is_number(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
