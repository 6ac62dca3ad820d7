"""Feature preprocessing fitted on the training split: polynomial features, then scaling.

Only arrays are kept, so the fitted state survives an npz round trip without pickles.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.data.names import DTYPES, SCALINGS, choice as _choice
from nncli.errors import DataError

MAX_POLY_FEATURES = 10_000  # polynomial features beyond this would not fit in memory anyway


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
