"""Regression targets standardized for training, predictions brought back to their units.

As Ludwig z-scores numeric outputs and scikit-learn's TransformedTargetRegressor wraps a
StandardScaler: the network learns z = (y - mean) / std, and every prediction and metric is
reported as y = z * std + mean. Without it a target in the hundreds (diabetes: 25..346) starts
hundreds of units from a freshly initialised network's outputs near 0.
"""

from __future__ import annotations

import numpy as np

SCALINGS = ("standard", "none")


class TargetScaler:
    def __init__(self, scaling: str = "none"):
        self.scaling = scaling
        self.mean = np.zeros(1)
        self.std = np.ones(1)

    def fit(self, y: np.ndarray) -> TargetScaler:
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)  # y: (n, n_targets)
        if self.scaling == "standard" and len(y):
            self.mean = y.mean(axis=0)
            std = y.std(axis=0)
            self.std = np.where(std > 0, std, 1.0)  # a constant target: nothing to divide by
        else:
            self.mean, self.std = np.zeros(y.shape[1]), np.ones(y.shape[1])
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        if self.scaling == "none":
            return y
        return ((np.asarray(y, np.float64) - self.mean) / self.std).astype(y.dtype)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Network outputs -> target units, in float64 (unchanged when unscaled)."""
        if self.scaling == "none":
            return z  # as the network gave them (the float type included)
        return np.asarray(z, np.float64) * self.std + self.mean

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"target.scaling": np.array(self.scaling), "target.mean": np.asarray(self.mean, np.float64),
                "target.std": np.asarray(self.std, np.float64)}

    @classmethod
    def from_state_dict(cls, d) -> TargetScaler:
        if "target.scaling" not in d:  # runs written before targets were scaled
            return cls("none")
        t = cls(str(np.asarray(d["target.scaling"])[()]))
        if t.scaling not in SCALINGS:
            raise ValueError(f"target.scaling is {t.scaling!r}")
        t.mean = np.asarray(d["target.mean"], np.float64).reshape(-1)
        t.std = np.asarray(d["target.std"], np.float64).reshape(-1)
        if t.mean.shape != t.std.shape or not (np.isfinite(t.std).all() and (t.std > 0).all()):
            raise ValueError("target.mean and target.std do not fit together")
        return t
