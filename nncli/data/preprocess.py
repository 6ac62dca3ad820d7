"""Feature preprocessing fitted on the training split: polynomial features, then scaling.

Columns that hold only 0 and 1 (one-hot categories, booleans, missing indicators and their
products) are left as they are; every other column is scaled. Only arrays are kept, so the
fitted state survives an npz round trip without pickles.

The statistics are scikit-learn's StandardScaler and MinMaxScaler (same formulas, same
handling of constant columns; tests check they agree), computed here block by block so that
a large training split is never copied whole: the scalers take 0.6 s on a 140,000 x 50 split
that NumPy sums in a tenth of that.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from nncli.data.names import DTYPES, SCALINGS, choice as _choice
from nncli.errors import DataError

MAX_POLY_FEATURES = 10_000  # polynomial features beyond this would not fit in memory anyway
BLOCK_ELEMENTS = 1 << 18  # rows per block = this / width: about 2 MB of float64 at a time
_EPS = np.finfo(np.float64).eps


def block_rows(width: int) -> int:
    return max(256, BLOCK_ELEMENTS // max(width, 1))


class Preprocessor:
    """Polynomial features of `degree`, then an affine scaling x*scale + offset, fitted on train only.

    standard: scale = 1/std, offset = -mean/std;  minmax: maps train to [0, 1];  none: identity.
    """

    def __init__(self, scaling: str = "standard", degree: int = 1):
        self.scaling = _choice(scaling, SCALINGS, "data.scaling")
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
            raise DataError(f"data.polynomial: expected an integer >= 1, got {degree!r}")
        self.degree = int(degree)
        self.n_features_in: int | None = None
        self.scale: np.ndarray | None = None
        self.offset: np.ndarray | None = None  # -center * scale: the same map in one multiply-add
        self.center: np.ndarray | None = None  # the mean (or minimum); None in runs before 0.3
        self.mean: np.ndarray | None = None  # standard scaling: the training mean of each output
        self._poly_cache = None

    def _poly_features(self, n_in: int):
        if self._poly_cache is None or self._poly_cache[0] != n_in:
            from sklearn.preprocessing import PolynomialFeatures

            self._poly_cache = (n_in, PolynomialFeatures(self.degree, include_bias=False).fit(np.zeros((1, n_in))))
        return self._poly_cache[1]

    def _poly(self, X: np.ndarray) -> np.ndarray:
        return X if self.degree == 1 else self._poly_features(X.shape[1]).transform(X)

    def output_binary(self, binary: np.ndarray) -> np.ndarray:
        """Which outputs hold only 0/1: products of 0/1 inputs (x**k of a 0/1 x is x)."""
        if self.degree == 1:
            return binary
        powers = self._poly_features(len(binary)).powers_  # (n_out, n_in)
        return ((powers > 0) <= binary[None, :]).all(axis=1)

    def fit(self, X, binary=None) -> Preprocessor:
        X = np.asarray(X, dtype=np.float64)  # X: (n, n_in)
        rows = block_rows(X.shape[1])
        return self.fit_blocks(lambda: (X[i:i + rows] for i in range(0, len(X), rows)), X.shape[1], binary)

    def fit_blocks(self, blocks: Callable[[], Iterable[np.ndarray]], n_in: int, binary=None) -> Preprocessor:
        """Fit from the training rows given as blocks (``blocks()`` yields them afresh per pass).

        Values too large to sum (1e308) give non-finite statistics, which the caller refuses
        by name; numpy's overflow warnings would only repeat it."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._fit_blocks(blocks, n_in, binary)

    def _fit_blocks(self, blocks, n_in: int, binary) -> Preprocessor:
        if self.degree > 1:
            n_out = math.comb(n_in + self.degree, self.degree) - 1
            if n_out > MAX_POLY_FEATURES:
                raise DataError(f"data.polynomial: degree {self.degree} on {n_in} features gives "
                                f"{n_out} features, expected at most {MAX_POLY_FEATURES}")
        n_out = self._poly(np.zeros((1, n_in))).shape[1]
        keep = np.zeros(n_in, bool) if binary is None else np.asarray(binary, bool)
        keep = self.output_binary(keep)
        scale, offset, center = np.ones(n_out), np.zeros(n_out), np.zeros(n_out)
        if self.scaling == "standard":
            # one pass, blocks combined as Chan, Golub and LeVeque: exact for one block, and
            # free of the cancellation of sum(x^2) - n mean^2
            n, mean, m2 = 0, np.zeros(n_out), np.zeros(n_out)
            for b in blocks():
                z = self._poly(b)
                if not len(z):
                    continue
                mb = z.mean(axis=0)
                m2b = ((z - mb) ** 2).sum(axis=0)
                delta, total = mb - mean, n + len(z)
                mean = mean + delta * (len(z) / total)
                m2 = m2 + m2b + delta ** 2 * (n * len(z) / total)
                n = total
            var = m2 / max(n, 1)
            self.mean = mean
            std = np.sqrt(var)
            # as StandardScaler: a (numerically) constant column is not divided by ~0
            constant = var <= n * _EPS * var + (n * mean * _EPS) ** 2
            std[constant | (std < 10 * _EPS)] = 1.0
            scale, offset, center = 1.0 / std, -mean / std, mean
        elif self.scaling == "minmax":
            lo, hi = np.full(n_out, np.inf), np.full(n_out, -np.inf)
            for b in blocks():
                z = self._poly(b)
                if len(z):
                    lo, hi = np.minimum(lo, z.min(axis=0)), np.maximum(hi, z.max(axis=0))
            lo, hi = np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(hi), hi, 1.0)
            rng = hi - lo
            rng[rng < 10 * _EPS] = 1.0  # as MinMaxScaler: constant columns keep scale 1
            scale = 1.0 / rng
            offset, center = -lo * scale, lo
        scale[keep], offset[keep], center[keep] = 1.0, 0.0, 0.0
        self.scale, self.offset, self.center, self.n_features_in = scale, offset, center, n_in
        return self

    def transform(self, X, dtype="float32") -> np.ndarray:
        if self.scale is None:
            raise RuntimeError("Preprocessor.transform called before fit")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in:
            raise DataError(f"expected {self.n_features_in} feature columns, got shape {X.shape}")
        dtype = _choice(np.dtype(dtype).name, DTYPES, "dtype")
        out = np.empty((len(X), len(self.scale)), dtype=dtype)
        rows = block_rows(X.shape[1])
        for i in range(0, len(X), rows):
            self.transform_into(X[i:i + rows], out[i:i + rows])
        return out

    def transform_into(self, X: np.ndarray, out: np.ndarray, own: bool = False, cols: slice = slice(None)) -> None:
        """Write the transformed rows of the float64 block ``X`` into ``out`` (any float dtype).
        ``own``: X is a temporary the caller gives away (transformed in place, no copies).
        ``cols``: X holds only these output columns (without polynomial features: each output
        is then a function of its own column)."""
        if cols != slice(None) and self.degree > 1:
            raise ValueError("polynomial features need every input column at once")
        if len(X):
            scale, offset = self.scale[cols], self.offset[cols]
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by row, after
                if self.center is None:  # as the run was trained (x*scale + offset)
                    out[...] = self._poly(X) * scale + offset
                elif own and self.degree == 1:
                    X -= self.center[cols]
                    X *= scale
                    out[...] = X
                else:  # centred first: a column at 1.6e9 +- 1 keeps its digits
                    out[...] = (self._poly(X) - self.center[cols]) * scale

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.scale is None:
            raise RuntimeError("Preprocessor.state_dict called before fit")
        extra = {} if self.center is None else {"prep.center": np.asarray(self.center, dtype=np.float64)}
        return extra | {
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
        p.center = np.asarray(d["prep.center"], dtype=np.float64) if "prep.center" in d else None
        n_out = p._poly(np.zeros((1, p.n_features_in))).shape[1]
        if p.scale.shape != (n_out,) or p.offset.shape != (n_out,) or (
                p.center is not None and p.center.shape != (n_out,)):
            raise DataError(f"preprocessor state: expected scale and offset of length {n_out}, "
                            f"got shapes {p.scale.shape} and {p.offset.shape}")
        return p
