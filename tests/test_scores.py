"""nncli's NumPy scores equal scikit-learn's metrics on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from nncli import scores


def _probabilities(gen, n, k, dtype):
    p = gen.dirichlet(np.full(k, 0.5), size=n).astype(dtype)
    p[: n // 10] = np.eye(k, dtype=dtype)[gen.integers(0, k, n // 10)]  # exact 0s and 1s: clipped
    return p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3, 10])
def test_classification_scores_equal_scikit_learns(k, dtype):
    gen = np.random.default_rng(k)
    for trial in range(20):
        n = int(gen.integers(1, 300))
        y = gen.integers(0, k, n)
        proba = _probabilities(gen, n, k, dtype)
        pred = proba.argmax(axis=1)
        if trial % 4 == 0:
            pred = np.minimum(pred, k - 2)  # a class never predicted: precision 0 by zero_division
        labels = np.arange(k)
        got = scores.classification(y, pred, proba, k)
        p, r, f, support = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        np.testing.assert_allclose(got["precision"], p, rtol=1e-15)
        np.testing.assert_allclose(got["recall"], r, rtol=1e-15)
        np.testing.assert_allclose(got["f1"], f, rtol=1e-15)
        assert np.array_equal(got["support"], support)
        assert got["accuracy"] == metrics.accuracy_score(y, pred)
        assert np.array_equal(got["confusion_matrix"], metrics.confusion_matrix(y, pred, labels=labels))
        want = metrics.log_loss(y, y_proba=proba, labels=labels)
        assert got["log_loss"] == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("columns", [None, 1, 3])
def test_regression_scores_equal_scikit_learns(columns, dtype):
    gen = np.random.default_rng(7)
    shape = lambda n: (n,) if columns is None else (n, columns)  # noqa: E731
    for trial in range(20):
        n = int(gen.integers(2, 200))
        y = gen.normal(3, 2, shape(n)).astype(dtype)
        pred = (y + gen.normal(0, 0.5, shape(n))).astype(dtype)
        if trial == 1:
            y[:] = 1.5  # a constant target: R² 0 (imperfect) ...
        if trial == 2:
            y[:], pred[:] = 1.5, 1.5  # ... or 1 (perfect)
        got = scores.regression(y, pred)
        tol = 1e-6 if dtype == np.float32 else 1e-12
        assert got["mse"] == pytest.approx(metrics.mean_squared_error(y, pred), rel=tol)
        assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y, pred), rel=tol)
        assert got["r2"] == pytest.approx(metrics.r2_score(y, pred), rel=tol, abs=tol)
