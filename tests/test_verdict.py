"""The bias/variance rules of nncli.verdict, on the notes' worked numbers and on trivial models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nncli.nn import make_loss
from nncli.verdict import THRESHOLD, Baseline, judge, trivial_baseline


def speech(train, cv):
    """The notes' speech-recognition example: human-level error 10.6%; a binary task whose
    trivial model errs half the time, so "far" is 7.5% of 0.5 - 0.106 = 0.03."""
    base = Baseline({"error": 0.5}, "majority class", {"error": 0.106})
    return judge("classification", {"error": train}, {"error": cv}, base)


def test_the_notes_examples():
    v = speech(0.108, 0.148)
    assert (v.bias, v.variance, v.label) == (False, True, "high variance (overfitting)")
    v = speech(0.15, 0.155)
    assert (v.bias, v.variance, v.label) == (True, False, "high bias (underfitting)")
    v = speech(0.15, 0.197)
    assert v.label == "high bias and high variance"
    v = speech(0.107, 0.11)
    assert v.label == "good fit" and v.advice() == []


def test_advice_follows_the_notes():
    assert "more data does not" in speech(0.15, 0.155).advice()[0]
    assert "more data" in speech(0.108, 0.148).advice()[0] and "bigger model does not" in speech(0.108, 0.148).advice()[0]


def test_a_tiny_training_loss_far_below_the_validation_loss_is_high_variance():
    # the case the old rule called a good fit: train loss 0.0001, validation loss 0.21, 10 classes
    base = Baseline({"loss": math.log(10), "error": 0.9}, "majority class")
    v = judge("classification", {"loss": 1e-4, "error": 0.0}, {"loss": 0.21, "error": 0.03}, base)
    assert v.variance and not v.bias
    assert 0.21 / math.log(10) > THRESHOLD


def test_no_validation_split_is_said_plainly():
    base = Baseline({"loss": 1.0, "error": 0.5}, "majority class")
    v = judge("classification", {"loss": 0.01, "error": 0.0}, None, base)
    assert v.variance is None and v.text() == "no high bias; variance not judged (no validation split)"
    assert "variance cannot be judged without a validation split" in v.findings[-1]


def test_trivial_models():
    # majority class of [0, 0, 0, 1]: error 1/4; softmax cross-entropy of the prior = entropy
    codes = np.array([0, 0, 0, 1])
    b = trivial_baseline("classification", make_loss("cross_entropy"), codes, codes)
    assert b.trivial["error"] == pytest.approx(0.25)
    assert b.trivial["loss"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    # binary cross-entropy on one logit: the same entropy
    b = trivial_baseline("classification", make_loss("binary_cross_entropy"),
                         codes.astype(float).reshape(-1, 1), codes)
    assert b.trivial["loss"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    # regression: the mean's MSE is the variance (nncli's mse is the mean of squares), 1 - R2 = 1
    y = np.array([[1.0], [2.0], [3.0], [6.0]])
    b = trivial_baseline("regression", make_loss("mse"), y)
    assert b.trivial == {"loss": pytest.approx(make_loss("mse").forward(np.full((4, 1), 3.0), y)), "error": 1.0}
    assert b.as_dict()["source"] == "trivial model (mean prediction)"


def test_a_configured_baseline_moves_the_reference():
    base = Baseline({"error": 0.9}, "majority class", {"error": 0.3})
    assert judge("classification", {"error": 0.31}, {"error": 0.32}, base).label == "good fit"
    assert judge("classification", {"error": 0.31}, {"error": 0.32},
                 Baseline({"error": 0.9}, "majority class")).bias
