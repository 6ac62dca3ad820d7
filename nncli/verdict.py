"""The bias/variance verdict of the course notes, one set of rules for every command.

J_train, J_cv and a baseline: high bias when J_train is far above the baseline, high variance
when J_cv is far above J_train. Two measures are judged: the loss (as trained, without
penalties) and the error (1 - accuracy, or 1 - R2 for regression). "Far" is a fraction
``THRESHOLD`` of the span between the baseline and a trivial model that knows nothing but the
training targets (the majority class, or the mean): a gap that small could be closed without
changing anything, a larger one is a finding. The baseline is the config's ``baseline.error``
/ ``baseline.loss`` (human-level, a published score) when set, otherwise 0: a perfect model,
with the trivial model printed as the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

THRESHOLD = 0.075  # a gap is "far" beyond 7.5% of the span baseline -> trivial model
MEASURES = ("loss", "error")

ADVICE = {
    "bias": "a bigger model, more features, longer training or less regularization help; more data does not",
    "variance": "more data, dropout, L2 or early stopping help; a bigger model does not",
}


@dataclass
class Baseline:
    """Reference levels per measure (None: 0, a perfect model) and the trivial model's levels."""

    trivial: dict  # measure -> value of the trivial model
    trivial_name: str  # "majority class" | "mean prediction"
    reference: dict = field(default_factory=dict)  # measure -> configured baseline

    def ref(self, m: str) -> float:
        v = self.reference.get(m)
        return 0.0 if v is None else float(v)

    def scale(self, m: str) -> float | None:
        """The span from the baseline to the trivial model (None when it is empty)."""
        trivial = self.trivial.get(m)
        if trivial is None or not math.isfinite(trivial) or trivial <= 0:
            return None
        span = trivial - self.ref(m)
        return span if span > 0 else trivial

    def as_dict(self) -> dict:
        return {"source": "config" if any(v is not None for v in self.reference.values())
                else f"trivial model ({self.trivial_name})",
                "reference": {m: self.reference.get(m) for m in MEASURES},
                "trivial": {"model": self.trivial_name, **self.trivial}}


def trivial_baseline(task: str, loss, y: np.ndarray, codes: np.ndarray | None = None,
                     reference: dict | None = None) -> Baseline:
    """The trivial model's loss and error on the training targets ``y`` (as the network is
    trained on them); ``codes`` are the class codes for a classification task."""
    y = np.asarray(y)
    n = len(y)
    if task == "classification":
        k = int(codes.max()) + 1 if codes is not None and len(codes) else 1
        prior = np.bincount(codes, minlength=k) / max(len(codes), 1)
        error = 1.0 - float(prior.max()) if len(codes) else 0.0
        if loss.fused_head == "softmax":
            out = np.tile(np.log(np.clip(prior, 1e-12, None)), (n, 1))
        elif loss.fused_head == "sigmoid":
            p = float(np.clip(prior[-1], 1e-12, 1 - 1e-12))
            out = np.full((n, 1), math.log(p / (1 - p)))
        else:
            out = np.tile(y.reshape(n, -1).mean(axis=0), (n, 1))
        name = "majority class"
    else:
        y = y.reshape(n, -1)
        out = np.tile(y.mean(axis=0), (n, 1))
        error, name = 1.0, "mean prediction"
    value = float(loss.forward(out.astype(y.dtype if y.dtype.kind == "f" else np.float64), y)) if n else math.nan
    return Baseline({"loss": value, "error": error}, name, dict(reference or {}))


def measures(task: str, scores: dict | None) -> dict | None:
    """{"loss", "error"} from one split's scores ({"loss", "accuracy"} or {"loss", "r2"})."""
    if not scores:
        return None
    metric = scores.get("accuracy", scores.get("r2"))
    return {"loss": scores.get("loss"), "error": None if metric is None else 1.0 - float(metric)}


@dataclass
class Verdict:
    bias: bool
    variance: bool | None  # None: no validation split to judge by
    label: str
    findings: list[str]
    baseline: Baseline

    def text(self) -> str:
        """One short line (the label); the numbers are in ``findings``."""
        return self.label

    def advice(self) -> list[str]:
        out = []
        if self.bias:
            out.append(f"high bias: {ADVICE['bias']}")
        if self.variance:
            out.append(f"high variance: {ADVICE['variance']}")
        return out

    def as_dict(self) -> dict:
        return {"verdict": self.label, "bias": self.bias, "variance": self.variance,
                "findings": self.findings, "advice": self.advice(), "baseline": self.baseline.as_dict(),
                "threshold": THRESHOLD}


def judge(task: str, train: dict, cv: dict | None, baseline: Baseline) -> Verdict:
    """The verdict from the training and cross-validation measures (``measures()``)."""
    bias = variance = False
    findings = []
    for m in MEASURES:
        scale = baseline.scale(m)
        j_train = train.get(m) if train else None
        if scale is None or j_train is None or not math.isfinite(j_train):
            continue
        ref = baseline.ref(m)
        if (j_train - ref) / scale > THRESHOLD:
            bias = True
            findings.append(f"J_train {m} {j_train:.4g} is far above the baseline {ref:.4g} "
                            f"(trivial model {baseline.trivial[m]:.4g})")
        j_cv = cv.get(m) if cv else None
        if j_cv is not None and math.isfinite(j_cv) and (j_cv - j_train) / scale > THRESHOLD:
            variance = True
            findings.append(f"J_cv {m} {j_cv:.4g} is far above J_train {j_train:.4g} "
                            f"(trivial model {baseline.trivial[m]:.4g})")
    has_cv = bool(cv) and any(cv.get(m) is not None for m in MEASURES)
    if bias and variance:
        label = "high bias and high variance"
    elif bias:
        label = "high bias (underfitting)"
    elif variance:
        label = "high variance (overfitting)"
    elif has_cv:
        label = "good fit"
    else:
        label = "no high bias"
    if not has_cv:
        label = f"{'high bias' if bias else 'no high bias'}; variance not judged (no validation split)"
        findings.append("variance cannot be judged without a validation split (set data.validation > 0)")
        variance = None
    return Verdict(bias, variance, label, findings, baseline)


def for_run(task: str, final: dict, baseline: Baseline) -> Verdict | None:
    """The verdict of a finished run from its final scores (None without training scores)."""
    train = measures(task, final.get("train"))
    if train is None:
        return None
    return judge(task, train, measures(task, final.get("validation")), baseline)


def run_baseline(cfg, parts, ds) -> Baseline:
    """The baseline of a config trained on a dataset: the config's levels, the trivial model's
    loss and error on the training split."""
    from nncli.build import targets

    y = parts.trainer._targets(targets(parts, ds, ds.y_train))
    codes = ds.y_train if ds.task == "classification" else None
    return trivial_baseline(ds.task, parts.trainer.loss, y, codes, cfg.baseline.model_dump())
