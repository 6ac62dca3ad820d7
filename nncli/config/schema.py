"""The typed schema of an experiment: every key, its type, default, bounds and meaning.

Every key has a default and unknown keys are rejected. ``load.py`` reads YAML into it. The
optimizer and schedule sections live in ``optimizers.py``, the field types in ``fields.py``.
This package imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BeforeValidator, Field, StrictInt, field_validator, model_validator

from nncli.config.aliases import ACTIVATION_ALIASES, LOSS_ALIASES
from nncli.config.data import DataConfig
from nncli.config.layers import IMAGE_KINDS, LAYER_MODELS, LayerEntry, LayerList, layer_specs
from nncli.config.fields import (  # noqa: F401  (ByName, _UNION_TAGS, _show: part of the schema's API)
    _UNION_TAGS,
    ByName,
    FilePath,
    Name,
    Rate,
    Scalar,
    Size,
    _check_full,
    _choice,
    _fail,
    _float,
    _int,
    _one_or_list,
    _raise,
    _Section,
    _shorthand,
    _show,
    _tagged,
    _unused,
)
from nncli.config.names import (
    ACTIVATION_NAMES,
    INIT_NAMES,
    LOSS_NAMES,
    OUTPUT_NAMES,
)
from nncli.config.optimizers import (  # noqa: F401  (re-exported)
    OPTIMIZER_MODELS,
    SCHEDULE_MODELS,
    AdamConfig,
    LookaheadConfig,
    OptimizerConfig,
    ScheduleConfig,
)

ActivationName = _choice(ACTIVATION_NAMES, ACTIVATION_ALIASES)


def _sizes(value: Any) -> Any:
    """One layer size alone is a list of one (scikit-learn takes hidden_layer_sizes=100 too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list):
        raise _fail(f"expected a list of layer sizes such as [128] or [128, 64] ([] for none), got {_show(value)}")
    return value


def _one_or_list_int(value: Any) -> str:
    return "_list" if isinstance(value, list) else "_int"


FreezeEntry = Annotated[Union[StrictInt, Annotated[str, Field(strict=True, min_length=1)]], Field(union_mode="left_to_right")]


class ModelConfig(_Section):
    """The network: hidden layers, activations, initialization and output."""

    layers: Annotated[Optional[list[LayerEntry]], LayerList(LAYER_MODELS)] = Field(
        None, description="The layers before the output layer, in order, instead of `hidden`: e.g. "
                          "[{conv2d: {filters: 16, kernel: 3, padding: same}}, {activation: relu}, "
                          "{maxpool2d: 2}, flatten, {dense: 64}, {activation: relu}]. See "
                          "[model.layers](#modellayers).")
    hidden: Annotated[list[Size], BeforeValidator(_sizes)] = Field(
        default_factory=lambda: [128],
        description="Sizes of the hidden layers, e.g. [128, 64] (128 alone is [128]); "
                    "[] = linear/logistic/softmax regression.")
    activation: _tagged(("_one", ActivationName), ("_list", list[ActivationName]),
                        pick=_one_or_list) = Field(
        "relu", description="One activation for all hidden layers or one per layer "
                            "(logistic is sigmoid, linear is identity).")
    leaky_slope: float = _float(0.01, "Slope of leaky_relu for negative inputs (>= 0); "
                                      "also the initial slope of prelu.", ge=0)
    maxout_pieces: int = _int(2, "Linear pieces per maxout unit (>= 2).", ge=2)
    init: _choice(("auto",) + INIT_NAMES) = Field(
        "auto", description="Weight init; auto: xavier_uniform (the Keras and scikit-learn default).")
    init_scale: float = _float(0.01, "Standard deviation of the plain `normal` init (> 0).", gt=0)
    dropout: _tagged(("_one", Rate), ("_list", list[Rate]), pick=_one_or_list) = Field(
        0.0, description="Dropout rate(s) in [0, 1) after each hidden layer; one or one per layer.")
    batch_norm: bool = Field(False, strict=True,
                             description="Batch normalization after each hidden dense layer.")
    bias: bool = Field(True, strict=True, description="Give dense layers a bias vector.")
    output: _choice(OUTPUT_NAMES, ACTIVATION_ALIASES) = Field(
        "auto", description="Output activation; auto: follows from the task and loss.")
    init_from: Optional[FilePath] = Field(
        None, strict=True, description="A run directory whose weights start this model.")
    freeze: _tagged(("_int", Annotated[int, Field(strict=True, ge=0)]), ("_list", list[FreezeEntry]),
                    pick=_one_or_list_int) = Field(
        0, description="Freeze the first N weighted layers (dense, and conv2d in model.layers, with what "
                       "follows each), or a list of layers by name (conv2d0, dense1, as the summary "
                       "shows them) or by index (in model.layers; counted in the built network with hidden).")

    @property
    def weighted(self) -> int:
        """Layers with weights that ``freeze: N`` counts: the hidden ones and the output."""
        if self.layers is None:
            return len(self.hidden) + 1
        return sum(kind in ("conv2d", "dense") for kind, _ in layer_specs(self.layers)) + 1

    @property
    def images(self) -> bool:
        """The model takes images: model.layers starts with a convolution, pooling or flatten."""
        return bool(self.layers) and layer_specs(self.layers[:1])[0][0] in IMAGE_KINDS + ("flatten",)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        n = len(self.hidden)
        problems = []
        if self.layers is not None:
            problems += _layer_list_problems(self)
        else:
            for key in ("activation", "dropout"):
                value = getattr(self, key)
                if isinstance(value, list) and len(value) != n:
                    problems.append((key, f"expected one entry per hidden layer ({n}), "
                                          f"got {len(value)}: {_show(value)}", value))
        if isinstance(self.freeze, int) and self.freeze > self.weighted:
            what = "dense layers" if self.layers is None else "conv2d and dense layers, the output included"
            problems.append(("freeze", f"expected at most {self.weighted} (the number of {what}), "
                                       f"got {self.freeze}", self.freeze))
        acts = {self.activation} if isinstance(self.activation, str) else set(self.activation)
        if self.layers is not None:
            acts = {spec["name"] for kind, spec in layer_specs(self.layers) if kind == "activation"}
        problems += [p for p in [
            _unused(self, "leaky_slope", bool(acts & {"leaky_relu", "prelu"}),
                    "only leaky_relu and prelu use it (set model.activation)"),
            _unused(self, "maxout_pieces", "maxout" in acts, "only maxout uses it (set model.activation: maxout)"),
            _unused(self, "init_scale", self.init == "normal", "only the plain normal init uses it "
                                                               "(set model.init: normal)"),
        ] if p]
        _raise("ModelConfig", problems)
        return self


def _layer_list_problems(m: ModelConfig) -> list[tuple[str, str, Any]]:
    """model.layers says everything about the hidden layers: the keys that say it for
    ``hidden`` may not be set to anything but their defaults beside it."""
    problems, fields = [], type(m).model_fields
    if m.hidden != fields["hidden"].default_factory():
        problems.append(("layers", "model.layers and model.hidden both describe the hidden layers; keep "
                                   "one (hidden: [64] is layers: [{dense: 64}, {activation: relu}])", None))
    for key, entry in (("activation", "{activation: relu}"), ("dropout", "{dropout: 0.2}"),
                       ("batch_norm", "batch_norm")):
        if getattr(m, key) != fields[key].default:
            problems.append((key, f"{_show(getattr(m, key))} has no effect with model.layers: write "
                                  f"{entry} entries in the list where you want them", getattr(m, key)))
    return problems


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
