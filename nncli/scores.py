"""The scores `nncli evaluate` reports, in NumPy: the same numbers as scikit-learn's
``accuracy_score``, ``precision_recall_fscore_support(zero_division=0)``, ``log_loss``,
``confusion_matrix``, ``mean_squared_error``, ``mean_absolute_error`` and ``r2_score``
(tests/test_scores.py compares them on the same inputs). Importing ``sklearn.metrics`` costs
more than scoring a small model, and these are a few lines each.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class (labels 0..k-1)."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def classification(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, k: int) -> dict:
    """Scores of predicted classes ``pred`` and probabilities ``proba`` (n, k) against true
    classes ``y`` (labels 0..k-1)."""
    cm = confusion_matrix(y, pred, k)
    tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    f1 = _divide(2 * tp, support + predicted)  # 2 tp / (2 tp + fp + fn)
    return {"accuracy": float(np.mean(y == pred)), "precision": precision, "recall": recall, "f1": f1,
            "support": support, "log_loss": log_loss(y, proba), "confusion_matrix": cm}


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean of -log p(true class), probabilities clipped to [eps, 1 - eps] of their dtype."""
    proba = np.asarray(proba)
    if proba.dtype not in (np.float32, np.float64):
        proba = proba.astype(np.float64)
    eps = np.finfo(proba.dtype).eps
    p = np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)
    return float(np.mean(-np.log(p)))


def regression(y: np.ndarray, pred: np.ndarray) -> dict:
    """MSE, MAE and R² of ``pred`` against ``y``, each averaged over the target columns. R² of
    a constant target is 1 for a perfect prediction and 0 otherwise, as scikit-learn's."""
    y, pred = np.asarray(y), np.asarray(pred)
    y, pred = y.reshape(len(y), -1), pred.reshape(len(pred), -1)
    mse = float(np.average(np.average((y - pred) ** 2, axis=0)))
    mae = float(np.average(np.average(np.abs(pred - y), axis=0)))
    num = ((y - pred) ** 2).sum(axis=0)
    den = ((y - np.average(y, axis=0)) ** 2).sum(axis=0)
    r2 = np.ones(y.shape[1], dtype=np.float64)
    valid = (den != 0) & (num != 0)
    r2[valid] = 1 - num[valid] / den[valid]
    r2[(num != 0) & (den == 0)] = 0.0
    return {"mse": mse, "mae": mae, "r2": float(np.average(r2))}
