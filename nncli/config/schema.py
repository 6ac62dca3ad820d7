"""The typed schema of an experiment: ``Config``, every key of it, with its type, default,
bounds and meaning, and here the sections of a few keys each (loss, regularization, baseline,
training and its early stopping).

Every key has a default and unknown keys are rejected. ``load.py`` reads YAML into it. The
larger sections have modules of their own: ``data.py``, ``model.py`` (``layers.py`` for
``model.layers``), ``optimizers.py`` (optimizer and schedule) and ``sweep.py``; the names a
choice may take are in ``names.py``, the field types in ``fields.py``. This package imports
neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nncli.config.aliases import LOSS_ALIASES
from nncli.config.data import DataConfig
from nncli.config.fields import (
    Name,
    Size,
    _check_full,
    _choice,
    _fail,
    _float,
    _int,
    _raise,
    _Section,
    _shorthand,
    _tagged,
    _unused,
)
from nncli.config.model import ModelConfig
from nncli.config.names import LOSS_NAMES
from nncli.config.optimizers import AdamConfig, OptimizerConfig
from nncli.config.sweep import SweepConfig


class LossConfig(_Section):
    """The training objective."""

    name: _choice(("auto",) + LOSS_NAMES, LOSS_ALIASES) = Field(
        "auto", description="Loss; auto: cross_entropy (classification) or mse (regression). Keras's "
                            "and scikit-learn's names are read as nncli's (categorical_crossentropy, "
                            "binary_crossentropy, mean_squared_error, log_loss, ...).")
    class_weight: Optional[_tagged(
        ("_balanced", _choice(("balanced",))),
        ("_mapping", dict[str, Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]]),
        pick=lambda v: "_mapping" if isinstance(v, dict) else "_balanced")] = Field(
        None, description="null, balanced, or a mapping class label -> weight (> 0).")
    huber_delta: float = _float(1.0, "huber: where the loss turns from quadratic to linear (> 0).", gt=0)

    @field_validator("class_weight", mode="before")
    @classmethod
    def _labels_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v
                    for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check(self) -> LossConfig:
        _raise("LossConfig", [p for p in [
            _unused(self, "huber_delta", self.name == "huber", "only the huber loss uses it (set loss.name: huber)")]
            if p])
        return self


class RegularizationConfig(_Section):
    """Penalties on the weights (never on biases)."""

    l1: float = _float(0.0, "L1 penalty on weights (never biases): loss += l1 * sum|W| (>= 0).", ge=0)
    l2: float = _float(0.0, "L2 penalty on weights (never biases): loss += l2/2 * sum W^2 (>= 0).", ge=0)


class BaselineConfig(_Section):
    """The level the bias/variance verdict measures training error against (the notes'
    baseline: human-level performance, a published score); unset: a trivial model's."""

    error: Optional[float] = _float(None, "Reference error: 1 - accuracy for classification, 1 - R2 for "
                                          "regression, in [0, 1] (null: none).", ge=0, le=1)
    loss: Optional[float] = _float(None, "Reference value of the training loss (>= 0; null: none).", ge=0)


class EarlyStoppingConfig(_Section):
    """Stop when a monitored metric stops improving (on by default; false turns it off)."""

    monitor: _choice(("auto", "val_loss", "val_accuracy", "val_r2", "loss")) = Field(
        "auto", description="Metric to watch; auto: val_loss, or the training loss when there is "
                            "no validation split.")
    patience: _tagged(("_int", Size), ("_auto", _choice(("auto",))),
                      pick=lambda v: "_auto" if isinstance(v, str) else "_int") = Field(
        "auto", description="Epochs without improvement before stopping (>= 1); auto: 10, or as "
                            "many as make 1000 batches when an epoch has fewer than 100.")
    min_delta: float = _float(0.0, "Smallest change that counts as improvement (>= 0).", ge=0)
    restore_best: bool = Field(True, strict=True, description="Put the best epoch's weights back at the end.")

    @model_validator(mode="before")
    @classmethod
    def _enabled(cls, data: Any) -> Any:
        # `enabled: true|false` (nncli 0.1) is still read: true is the same as leaving it out
        if isinstance(data, dict) and data.get("enabled") is True:
            return {k: v for k, v in data.items() if k != "enabled"}
        return data


def _early_stopping_off(value: Any) -> Any:
    if value is False or (isinstance(value, dict) and value.get("enabled") is False):
        if isinstance(value, dict):
            defaults = EarlyStoppingConfig.model_fields
            changed = [k for k, v in value.items() if k != "enabled" and (k not in defaults or v != defaults[k].default)]
            if changed:
                raise _fail(f"enabled: false turns early stopping off, yet {', '.join(changed)} "
                            "is set: remove enabled: false to use them, or write early_stopping: false")
        return None
    return {} if value is True else value


class TrainingConfig(_Section):
    """The epoch and batch loop."""

    epochs: int = _int(1000, "Passes over the training split at most (>= 1); early stopping "
                             "usually ends a run well before.", ge=1)
    batch_size: _tagged(("_int", Size), ("_full", Annotated[Literal["full"],
                                                             BeforeValidator(_check_full)]),
                        pick=lambda v: "_full" if isinstance(v, str) else "_int") = Field(
        200, description="Samples per batch (>= 1; a smaller training split is one batch, as "
                         "scikit-learn's auto); full = batch gradient descent; 1 = plain SGD.")
    shuffle: bool = Field(True, strict=True, description="Reshuffle the training split each epoch.")
    dtype: _choice(("float32", "float64")) = Field("float32", description="Floating-point type.")
    early_stopping: Annotated[Optional[EarlyStoppingConfig], BeforeValidator(_early_stopping_off)] = Field(
        default_factory=EarlyStoppingConfig,
        description="Early stopping (on by default): a mapping of its settings (true: the defaults) "
                    "or false/null: off.")
    checkpoint_every: int = _int(0, "Also checkpoint every N batches (0 = once per epoch only).",
                                 ge=0)


class Config(_Section):
    """An nncli experiment."""

    name: Name = Field("run", description="Run name, part of the run directory under runs/.")
    seed: int = _int(0, "One seed drives splitting, init, dropout and shuffling (0 .. 2**32 - 1, "
                        "the range scikit-learn's generators take).", ge=0, le=2**32 - 1)
    description: str = Field("", strict=True, description="Free text about the experiment.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Model.")
    loss: Annotated[LossConfig, _shorthand("auto")] = Field(default_factory=LossConfig, description="Loss.")
    optimizer: OptimizerConfig = Field(default_factory=AdamConfig, description="Optimizer.")
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig,
                                                 description="Weight penalties.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training loop.")
    baseline: BaselineConfig = Field(default_factory=BaselineConfig,
                                     description="Reference levels for the bias/variance verdict.")
    plots: bool = Field(True, strict=True, description="Write learning_curves.png into the run directory "
                                                       "when training ends (needs matplotlib).")
    sweep: Optional[SweepConfig] = Field(None, description="Search space and strategy for `nncli sweep` "
                                                           "(ignored by `nncli train`).")
