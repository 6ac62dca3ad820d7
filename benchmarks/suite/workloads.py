"""What is trained: the workloads by name, their data and how a prediction is scored."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    kind: str  # which contender function runs it: "mlp" (more kinds: see suite/__init__.py)
    dataset: str  # a key of DATASETS
    task: str  # classification | regression
    hidden: tuple[int, ...]
    activation: str
    solver: str  # adam | sgd (momentum 0.9, no Nesterov)
    lr: float  # on the objective scikit-learn minimizes (0.5 * MSE for regression)
    batch: int
    epochs: int
    quick_epochs: int
    validation: float = 0.2  # held out, validated every epoch by nncli, scored at the end by all
    test: float = 0.0  # held out as well and never used here (the CLI scores it once)
    listed: bool = True  # in the default comparison (False: used by one bar only)

    @property
    def nncli_lr(self) -> float:
        # nncli's "mse" is mean((y-p)^2), twice scikit-learn's 0.5*mean((y-p)^2); momentum SGD
        # is linear in the gradient, so half the rate gives the very same updates.
        return self.lr / 2 if self.task == "regression" else self.lr

    @property
    def classification(self) -> bool:
        return self.task == "classification"


WORKLOADS = {
    "digits": Workload("mlp", "digits", "classification", (128,), "relu", "adam", 1e-3, 64, 100, 10),
    "large": Workload("mlp", "large", "classification", (256, 256), "relu", "adam", 1e-3, 256, 5, 1),
    "regression": Workload("mlp", "regression", "regression", (64, 64), "tanh", "sgd", 0.01, 32, 20, 2),
    # configs/digits.yaml as the core runs it: the reference of the "whole CLI vs core fit" bar
    "digits-config": Workload("mlp", "digits", "classification", (128,), "relu", "adam", 1e-3, 64, 30, 3,
                              validation=0.1, test=0.2, listed=False),
}


def _digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def _large():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=100_000, n_features=100, n_informative=50, n_classes=10,
                               random_state=0)


def _regression():
    from sklearn.datasets import make_regression

    return make_regression(n_samples=20_000, n_features=20, noise=10, random_state=0)


DATASETS = {"digits": _digits, "large": _large, "regression": _regression}


def make_data(w: Workload) -> tuple[dict, dict]:
    """(the float32 split every in-process contender uses, raw X and y for a CLI .npz).

    Xtr/ytr train; Xte/yte are the validation rows (validated each epoch, scored at the end).
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = DATASETS[w.dataset]()
    strat = y if w.classification else None
    if w.test:  # drop the test rows first, as the CLI keeps them away from training
        X, _, y, _ = train_test_split(X, y, test_size=w.test, random_state=1, stratify=strat)
        strat = y if w.classification else None
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=w.validation / (1 - w.test), random_state=0,
                                          stratify=strat)
    scaler = StandardScaler().fit(Xtr)
    d = {"Xtr": scaler.transform(Xtr).astype(np.float32), "Xte": scaler.transform(Xte).astype(np.float32)}
    if w.classification:
        d["ytr"], d["yte"] = ytr.astype(np.int64), yte.astype(np.int64)
        return d, {"X": X, "y": y}
    mu, sd = ytr.mean(), ytr.std()
    d["ytr"], d["yte"] = ((ytr - mu) / sd).astype(np.float32), ((yte - mu) / sd).astype(np.float32)
    return d, {"X": X, "y": (y - mu) / sd}


def n_outputs(w: Workload, d: dict) -> int:
    return int(d["ytr"].max()) + 1 if w.classification else 1


def score(task: str, pred: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of predicted labels, or R^2 of predicted values."""
    if task == "classification":
        return float(np.mean(pred == y))
    pred, y = pred.astype(np.float64).ravel(), y.astype(np.float64)
    return 1.0 - float(((y - pred) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())
