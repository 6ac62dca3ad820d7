"""What ranks trials: one metric of a finished run, and whether higher is better.

``Metric.of(summary)`` is the one place a trial's score is computed from its run. A score
that needs more than one run's summary (k-fold cross-validation, say) replaces it here.
"""

from __future__ import annotations

from dataclasses import dataclass

_SPLITS = {"val": "validation", "": "train"}


@dataclass(frozen=True)
class Metric:
    """``val_accuracy``, ``val_r2``, ``val_loss``, ``accuracy``, ``r2`` or ``loss``; None: the
    validation metric of each run's task (accuracy for classification, R^2 for regression)."""

    name: str | None = None

    def resolved(self, summary: dict) -> str:
        if self.name is not None:
            return self.name
        return "val_accuracy" if summary.get("task") == "classification" else "val_r2"

    @property
    def label(self) -> str:
        return self.name or "val_accuracy|val_r2"

    def higher_is_better(self, name: str | None = None) -> bool:
        return not (name or self.name or "val_").endswith("loss")

    @property
    def needs_validation(self) -> bool:
        return self.name is None or self.name.startswith("val_")

    def of(self, summary: dict | None) -> float | None:
        """The trial's score from its run's summary (final metrics), or None when it has none."""
        if not summary:
            return None
        name = self.resolved(summary)
        prefix, _, key = name.rpartition("_")
        split = ((summary.get("final") or {}).get(_SPLITS[prefix]) or {})
        value = split.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    def rank_key(self, score: float | None, name: str | None = None):
        """Sort key putting the best first and trials without a score last."""
        if score is None:
            return (1, 0.0)
        return (0, -score if self.higher_is_better(name) else score)
