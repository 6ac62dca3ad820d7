"""The ``sweep:`` section: the keys to search over and how (strategy, trials, the metric that
ranks them, successive halving's settings).

Only ``nncli sweep`` reads it (``nncli.sweep.plan``, also for a ``--sweep-file``); ``nncli
train`` ignores it and no run's saved config has one, so it stands apart from the sections
that describe a run.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, model_validator

from nncli.config.fields import _choice, _int, _raise, _Section, _unused

SWEEP_STRATEGIES = ("grid", "random", "tpe", "halving")
SWEEP_METRICS = ("val_accuracy", "val_r2", "val_loss", "accuracy", "r2", "loss")


class SweepConfig(_Section):
    """A search over this config's keys, run by `nncli sweep`; `nncli train` ignores it, and no
    run's saved config has one."""

    strategy: Optional[_choice(SWEEP_STRATEGIES)] = Field(
        None, description="grid, random, tpe (Optuna) or halving; null: grid, or random when `trials` is set.")
    trials: Optional[int] = _int(None, "Trials to sample for random, tpe and halving (>= 1).", ge=1)
    seed: int = _int(0, "Seed of the sampler for random, tpe and halving (>= 0).", ge=0)
    metric: Optional[_choice(SWEEP_METRICS)] = Field(
        None, description="What ranks trials (losses lowest first); null: val_accuracy or val_r2 by task.")
    eta: int = _int(3, "halving: each rung keeps the best 1/eta of its trials (>= 2).", ge=2)
    min_epochs: Optional[int] = _int(
        None, "halving: the fewest epochs a rung may train (>= 1); null: 1.", ge=1)
    params: dict[str, Any] = Field(
        default_factory=dict, description="Key -> what to try: a list, `a,b,c`, choice(...), range(...), "
                                          "uniform(a,b), loguniform(a,b) or int(a,b).")

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        halving = self.strategy == "halving"
        _raise("SweepConfig", [p for p in [
            _unused(self, "eta", halving, "only the halving strategy uses it (set sweep.strategy: halving)"),
            _unused(self, "min_epochs", halving, "only the halving strategy uses it (set sweep.strategy: halving)"),
        ] if p])
        return self
