"""Datasets by name (scikit-learn loaders and generators) or from files, splits and scaling.

Takes plain values; the runner unpacks the config. scikit-learn is imported inside the
functions that need it so that importing this module costs only numpy.
"""

from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nncli.datafiles import read_features_csv, read_table  # noqa: F401  (read_features_csv: re-exported)
from nncli.errors import DataError

# name -> task, for the bundled scikit-learn loaders (called as sklearn.datasets.load_<name>)
DATASETS: dict[str, str] = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
# name -> task, for the scikit-learn sample generators (sklearn.datasets.<name>)
GENERATORS: dict[str, str] = {
    "make_classification": "classification",
    "make_moons": "classification",
    "make_circles": "classification",
    "make_blobs": "classification",
    "make_regression": "regression",
}
TASKS = ("classification", "regression")
SCALINGS = ("standard", "minmax", "none")
DTYPES = ("float32", "float64")
MAX_POLY_FEATURES = 10_000  # polynomial features beyond this would not fit in memory anyway
MAX_CLASSES = 50  # integer labels with more distinct values than this are taken as regression
# keyword arguments of the sklearn functions that nncli sets itself
_RESERVED_PARAMS = {"return_X_y", "as_frame", "data_home", "download_if_missing"}


def _choice(name: Any, choices, what: str) -> str:
    """Return `name` if it is one of `choices`, else raise DataError with the sorted choices."""
    if name in choices:
        return name
    hint = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise DataError(f"{what}: expected one of {', '.join(sorted(choices))}, got {name!r}{tip}")


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


class Preprocessor:
    """Polynomial features of `degree`, then an affine scaling x*scale + offset, fitted on train only.

    standard: scale = 1/std, offset = -mean/std;  minmax: maps train to [0, 1];  none: identity.
    Only arrays are kept, so the state survives an npz round trip without pickles.
    """

    def __init__(self, scaling: str = "standard", degree: int = 1):
        self.scaling = _choice(scaling, SCALINGS, "data.scaling")
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
            raise DataError(f"data.polynomial: expected an integer >= 1, got {degree!r}")
        self.degree = int(degree)
        self.n_features_in: int | None = None
        self.scale: np.ndarray | None = None
        self.offset: np.ndarray | None = None

    def _poly(self, X: np.ndarray) -> np.ndarray:
        if self.degree == 1:
            return X
        from sklearn.preprocessing import PolynomialFeatures

        poly = PolynomialFeatures(self.degree, include_bias=False)
        return poly.fit(np.zeros((1, X.shape[1]))).transform(X)  # depends on the width only

    def fit(self, X) -> Preprocessor:
        X = np.asarray(X, dtype=np.float64)  # X: (n, n_in)
        n_in = X.shape[1]
        n_out = math.comb(n_in + self.degree, self.degree) - 1
        if n_out > MAX_POLY_FEATURES:
            raise DataError(f"data.polynomial: degree {self.degree} on {n_in} features gives "
                            f"{n_out} features, expected at most {MAX_POLY_FEATURES}")
        Z = self._poly(X)
        if self.scaling == "standard":
            from sklearn.preprocessing import StandardScaler

            s = StandardScaler().fit(Z)  # scale_ is 1 for constant columns, never 0
            self.scale, self.offset = 1.0 / s.scale_, -s.mean_ / s.scale_
        elif self.scaling == "minmax":
            from sklearn.preprocessing import MinMaxScaler

            s = MinMaxScaler().fit(Z)  # x*scale_ + min_; constant columns get scale 1
            self.scale, self.offset = s.scale_.copy(), s.min_.copy()
        else:
            self.scale, self.offset = np.ones(Z.shape[1]), np.zeros(Z.shape[1])
        self.n_features_in = n_in
        return self

    def transform(self, X, dtype="float32") -> np.ndarray:
        if self.scale is None:
            raise RuntimeError("Preprocessor.transform called before fit")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in:
            raise DataError(f"expected {self.n_features_in} feature columns, got shape {X.shape}")
        dtype = _choice(np.dtype(dtype).name, DTYPES, "dtype")
        if len(X) == 0:  # an empty split; sklearn refuses 0 samples
            return np.empty((0, len(self.scale)), dtype=dtype)
        return (self._poly(X) * self.scale + self.offset).astype(dtype)

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.scale is None:
            raise RuntimeError("Preprocessor.state_dict called before fit")
        return {
            "prep.scaling": np.array(self.scaling),
            "prep.degree": np.array(self.degree, dtype=np.int64),
            "prep.scale": np.asarray(self.scale, dtype=np.float64),
            "prep.offset": np.asarray(self.offset, dtype=np.float64),
            "prep.n_features_in": np.array(self.n_features_in, dtype=np.int64),
        }

    @classmethod
    def from_state_dict(cls, d) -> Preprocessor:
        keys = ("prep.scaling", "prep.degree", "prep.scale", "prep.offset", "prep.n_features_in")
        missing = [k for k in keys if k not in d]
        if missing:
            raise DataError(f"preprocessor state: missing {', '.join(missing)}")
        p = cls(str(np.asarray(d["prep.scaling"])[()]), int(np.asarray(d["prep.degree"])))
        p.n_features_in = int(np.asarray(d["prep.n_features_in"]))
        p.scale = np.asarray(d["prep.scale"], dtype=np.float64)
        p.offset = np.asarray(d["prep.offset"], dtype=np.float64)
        n_out = p._poly(np.zeros((1, p.n_features_in))).shape[1]
        if p.scale.shape != (n_out,) or p.offset.shape != (n_out,):
            raise DataError(f"preprocessor state: expected scale and offset of length {n_out}, "
                            f"got shapes {p.scale.shape} and {p.offset.shape}")
        return p


# ---------------------------------------------------------------- named datasets

def _call_sklearn(name: str, fn, params: dict, defaults: dict):
    accepted = sorted(p for p in inspect.signature(fn).parameters if p not in _RESERVED_PARAMS)
    for key in params:
        if key not in accepted:
            hint = difflib.get_close_matches(str(key), accepted, n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise DataError(f"data.params: {name} has no parameter '{key}'; "
                            f"accepted: {', '.join(accepted) or 'none'}{tip}")
    kwargs = {k: v for k, v in defaults.items() if k in accepted} | dict(params)
    try:
        return fn(**kwargs)
    except (ValueError, TypeError) as e:
        raise DataError(f"data.params: {name}: {' '.join(str(e).split())}") from e


def read_raw(*, dataset, path, label, params, seed):
    """(X float64 (n, d), y (n,) labels or (n,)/(n, k) floats, feature names, source)."""
    params = dict(params or {})
    if path is not None:
        X, y, names = read_table(path, label)
        return X, y, names, str(path)
    if dataset is None:
        raise DataError("data: expected a dataset name or a path to a .csv or .npz file, got neither")
    import sklearn.datasets as skd

    name = _choice(dataset, list(DATASETS) + list(GENERATORS), "data.dataset")
    if name in DATASETS:
        bunch = _call_sklearn(name, getattr(skd, f"load_{name}"), params, {})
        X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
        names = [str(s) for s in getattr(bunch, "feature_names", [])] or [f"x{k}" for k in range(X.shape[1])]
        labels = np.asarray(getattr(bunch, "target_names", []))
        if DATASETS[name] == "classification" and labels.dtype.kind == "U":
            y = labels[y]  # "setosa" rather than 0: predictions and reports speak the data's language
    else:
        out = _call_sklearn(name, getattr(skd, name), params, {"random_state": seed})
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


# ---------------------------------------------------------------- splits

def _split_seed(seed: int, stream: int) -> int:
    """A random_state for one split, derived from the seed (0: test, 1: validation)."""
    return int(np.random.SeedSequence([int(seed), stream]).generate_state(1)[0])


def _split(idx: np.ndarray, n_out: int, strat: np.ndarray | None, random_state: int):
    """(kept, taken out) index arrays; stratified when possible, else plain shuffled."""
    if n_out == 0:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    if strat is not None:
        try:
            return train_test_split(idx, test_size=n_out, random_state=random_state,
                                    stratify=strat[idx])
        except ValueError:
            pass  # a class too small for stratification
    return train_test_split(idx, test_size=n_out, random_state=random_state)


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
