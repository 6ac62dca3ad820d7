"""The typed schema of an experiment: every key, its type, default, bounds and meaning.

Every key has a default and unknown keys are rejected. ``config.py`` reads YAML into it.
This module imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError


ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
                    "softplus", "gelu", "maxout")
OUTPUT_NAMES = ("auto", "softmax", "sigmoid", "identity")
LOSS_NAMES = ("cross_entropy", "binary_cross_entropy", "mse", "mae", "sse", "huber")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                   "amsgrad", "nadam", "radam", "adabound")
SCHEDULE_NAMES = ("constant", "step", "exponential", "invscaling", "cosine", "plateau")
INIT_NAMES = ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "lecun_normal",
              "lecun_uniform", "normal", "kaiming_normal", "kaiming_uniform", "glorot_normal",
              "glorot_uniform")
DATASET_NAMES = ("digits", "iris", "wine", "breast_cancer", "diabetes", "make_classification",
                 "make_regression", "make_moons", "make_circles", "make_blobs")



# ---------------------------------------------------------------- field types
def _fail(message: str) -> PydanticCustomError:
    """A complete one-line problem ("expected ..., got ..."), shown as is."""
    return PydanticCustomError("config", "{message}", {"message": message})


def _show(value: Any) -> str:
    """A short rendering of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return repr(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _choice(names: tuple[str, ...]) -> Any:
    """A Literal of ``names`` whose error lists the sorted choices and a close match."""
    def check(value: Any) -> Any:
        if isinstance(value, str) and value in names:
            return value
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(f"expected one of {', '.join(sorted(names))}{hint}, got {_show(value)}")
    return Annotated[Literal[names], BeforeValidator(check)]


def _tagged(*branches: tuple[str, Any], pick: Any) -> Any:
    """A union validated by one branch only, chosen by ``pick(value)``, so errors stay specific."""
    members = tuple(Annotated[t, Tag(tag)] for tag, t in branches)
    return Annotated[Union[members], Discriminator(pick)]


# Union branch tags; they appear in pydantic's error locations and are removed from key paths.
_UNION_TAGS = {"_one", "_list", "_int", "_full", "_balanced", "_mapping"}


def _one_or_list(value: Any) -> str:
    return "_list" if isinstance(value, list) else "_one"


def _check_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value) or ".." in value:
        raise _fail("expected 1..64 letters, digits, '.', '_' or '-' starting with a letter or "
                    f"digit and without '..', got {_show(value)}")
    return value


def _check_scalar(value: Any) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise _fail(f"expected a number, string or boolean, got {_show(value)}")
    return value


def _check_full(value: Any) -> Any:
    if value != "full":
        raise _fail(f"expected an integer >= 1 or 'full', got {_show(value)}")
    return value


def _check_pair(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _fail(f"expected a list of 2 numbers [beta1, beta2], got {_show(value)}")
    return value


def _float(default: Any, description: str, **bounds: Any) -> Any:
    return Field(default, description=description, strict=True, allow_inf_nan=False, **bounds)


def _int(default: Any, description: str, **bounds: Any) -> Any:
    return Field(default, description=description, strict=True, **bounds)


Rate = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, lt=1)]
Size = Annotated[int, Field(strict=True, ge=1)]
Scalar = Annotated[Union[StrictBool, StrictInt, StrictFloat, StrictStr],
                   BeforeValidator(_check_scalar)]
Name = Annotated[str, Field(strict=True), AfterValidator(_check_name)]
ActivationName = _choice(ACTIVATION_NAMES)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _raise(model: str, problems: list[tuple[str, str, Any]]) -> None:
    """Raise the cross-field ``problems`` (key, message, input) at their own keys."""
    if problems:
        raise ValidationError.from_exception_data(model, [
            InitErrorDetails(type=_fail(message), loc=(key,), input=value)
            for key, message, value in problems])


# -------------------------------------------------------------------- schema
class DataConfig(_Section):
    """Where the samples come from and how they are split and scaled."""

    dataset: Optional[_choice(DATASET_NAMES)] = Field(
        "digits", description="Built-in dataset or generator (null when `path` is used).")
    path: Optional[str] = Field(
        None, strict=True, description="A .csv or .npz file used instead of `dataset`.")
    label: Optional[str] = Field(
        None, strict=True, description="CSV label column name (default: the last column).")
    params: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Keyword arguments of a make_* generator, e.g. n_samples, noise.")
    task: Optional[_choice(("classification", "regression"))] = Field(
        None, description="classification or regression; null: inferred from the data.")
    validation: float = _float(0.1, "Fraction of samples held out for validation, in [0, 1).",
                               ge=0, lt=1)
    test: float = _float(0.2, "Fraction of samples held out for testing, in [0, 1); "
                              "validation + test < 1.", ge=0, lt=1)
    scaling: _choice(("standard", "minmax", "none")) = Field(
        "standard", description="Feature scaling fitted on the training split.")
    polynomial: int = _int(1, "Degree of polynomial features, 1..10 (1 = none).", ge=1, le=10)
    subset: Optional[int] = _int(None, "Keep only the first N samples (>= 2).", ge=2)

    @model_validator(mode="before")
    @classmethod
    def _path_replaces_dataset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("path") is not None and "dataset" not in data:
            return {**data, "dataset": None}
        return data

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        problems = []
        if self.path is not None and self.dataset is not None:
            problems.append(("path", "expected either `path` or `dataset`, not both, got path "
                             f"{self.path!r} and dataset {self.dataset!r}", self.path))
        if self.path is None and self.dataset is None:
            problems.append(("dataset", "expected a dataset name or a `path`, got neither", None))
        if self.path is not None and not self.path.lower().endswith((".csv", ".npz")):
            problems.append(("path", f"expected a .csv or .npz file, got {self.path!r}", self.path))
        if self.validation + self.test >= 1:
            problems.append(("test", "expected validation + test < 1, got "
                             f"{self.validation} + {self.test}", self.test))
        _raise("DataConfig", problems)
        return self


class ModelConfig(_Section):
    """The network: hidden layers, activations, initialization and output."""

    hidden: list[Size] = Field(
        default_factory=lambda: [128],
        description="Sizes of the hidden layers; [] = linear/logistic/softmax regression.")
    activation: _tagged(("_one", ActivationName), ("_list", list[ActivationName]),
                        pick=_one_or_list) = Field(
        "relu", description="One activation for all hidden layers or one per layer.")
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
    output: _choice(OUTPUT_NAMES) = Field(
        "auto", description="Output activation; auto: follows from the task and loss.")
    init_from: Optional[str] = Field(
        None, strict=True, description="A run directory whose weights start this model.")
    freeze: int = _int(0, "Freeze the first N dense layers (0..len(hidden)+1).", ge=0)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        n = len(self.hidden)
        problems = []
        for key in ("activation", "dropout"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != n:
                problems.append((key, f"expected one entry per hidden layer ({n}), "
                                      f"got {len(value)}: {_show(value)}", value))
        if self.freeze > n + 1:
            problems.append(("freeze", f"expected at most {n + 1} (the number of dense layers), "
                                       f"got {self.freeze}", self.freeze))
        acts = {self.activation} if isinstance(self.activation, str) else set(self.activation)
        problems += [p for p in [
            _unused(self, "leaky_slope", bool(acts & {"leaky_relu", "prelu"}),
                    "only leaky_relu and prelu use it (set model.activation)"),
            _unused(self, "maxout_pieces", "maxout" in acts, "only maxout uses it (set model.activation: maxout)"),
            _unused(self, "init_scale", self.init == "normal", "only the plain normal init uses it "
                                                               "(set model.init: normal)"),
        ] if p]
        _raise("ModelConfig", problems)
        return self


def _unused(section: BaseModel, key: str, used: bool, hint: str) -> tuple[str, str, Any] | None:
    """A problem for ``key`` set to a non-default value where nothing uses it (never a silent no-op)."""
    value = getattr(section, key)
    if used or key not in section.model_fields_set or value == type(section).model_fields[key].default:
        return None
    return (key, f"{_show(value)} has no effect: {hint}", value)


def _shorthand(default_name: str, off: str | None = None) -> Any:
    """Accept ``name`` for ``{name: name}`` (Hydra's group choice) and, where ``off`` is given,
    false/null for ``{name: off}``; true for the defaults."""
    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if value is True:
            return {}
        if off is not None and value in (False, None):
            return {"name": off}
        return value
    return BeforeValidator(expand)


@dataclass(frozen=True)
class ByName:
    """Marks a section whose keys depend on its ``name``: ``models[name]`` validates it."""

    models: dict
    default: str

    def model_for(self, value: Any) -> type[BaseModel] | None:
        name = value.get("name", self.default) if isinstance(value, dict) else self.default
        return self.models.get(name) if isinstance(name, str) else None


def _by_name(models: dict[str, type[BaseModel]], default: str) -> Any:
    """One model per name, chosen by the section's ``name`` key (``default`` when absent); an
    unknown name is reported at ``name`` with the choices and a close match."""
    names = tuple(models)

    class UnknownName(_Section):
        model_config = ConfigDict(extra="allow")
        name: _choice(names)

    def pick(value: Any) -> str:
        name = value.get("name", default) if isinstance(value, dict) else getattr(value, "name", default)
        return f"_{name}" if isinstance(name, str) and name in models else "_unknown"

    _UNION_TAGS.update({f"_{n}" for n in names} | {"_unknown"})
    members = tuple(Annotated[m, Tag(f"_{n}")] for n, m in models.items())
    members += (Annotated[UnknownName, Tag("_unknown")],)
    return Annotated[Union[members], Discriminator(pick), ByName(models, default)]


class LossConfig(_Section):
    """The training objective."""

    name: _choice(("auto",) + LOSS_NAMES) = Field(
        "auto", description="Loss; auto: cross_entropy (classification) or mse (regression).")
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


class LookaheadConfig(_Section):
    """Lookahead wrapper: slow weights follow the fast ones every k steps."""

    k: int = _int(5, "Fast steps between slow-weight updates (>= 1).", ge=1)
    alpha: float = _float(0.5, "Slow-weight step size, in (0, 1].", gt=0, le=1)


# ---- learning-rate schedules: one section per schedule, mirroring nncli.nn.schedules
class _Schedule(_Section):
    """Learning-rate schedule, applied once per epoch."""


class ConstantSchedule(_Schedule):
    """The learning rate stays at optimizer.lr."""

    name: Literal["constant"] = "constant"


class StepSchedule(_Schedule):
    """lr = lr0 * gamma ** (epoch // step_size)."""

    name: Literal["step"] = "step"
    step_size: int = _int(1, "Epochs between decays (>= 1).", ge=1)
    gamma: float = _float(0.1, "lr *= gamma every step_size epochs, in (0, 1].", gt=0, le=1)


class ExponentialSchedule(_Schedule):
    """lr = lr0 * gamma ** epoch."""

    name: Literal["exponential"] = "exponential"
    gamma: float = _float(0.95, "lr *= gamma every epoch, in (0, 1].", gt=0, le=1)


class InvScalingSchedule(_Schedule):
    """lr = lr0 / (epoch + 1) ** power_t (scikit-learn's invscaling)."""

    name: Literal["invscaling"] = "invscaling"
    power_t: float = _float(0.5, "Exponent of the inverse scaling (>= 0).", ge=0)


class CosineSchedule(_Schedule):
    """Linear warm-up, then a half cosine from lr0 down to min_lr at the last epoch."""

    name: Literal["cosine"] = "cosine"
    warmup: int = _int(0, "Linear warm-up epochs (>= 0).", ge=0)
    min_lr: float = _float(0.0, "Lowest learning rate (>= 0).", ge=0)


class PlateauSchedule(_Schedule):
    """Cut the rate when the monitored loss stops improving (scikit-learn's adaptive)."""

    name: Literal["plateau"] = "plateau"
    patience: int = _int(2, "Epochs without improvement before cutting (>= 0).", ge=0)
    factor: float = _float(0.2, "lr *= factor at each cut, in (0, 1).", gt=0, lt=1)
    threshold: float = _float(1e-4, "Smallest decrease of the loss that counts as improvement (>= 0).", ge=0)
    min_lr: float = _float(0.0, "Lowest learning rate (>= 0).", ge=0)


SCHEDULE_MODELS: dict[str, type[_Schedule]] = {
    "constant": ConstantSchedule, "step": StepSchedule, "exponential": ExponentialSchedule,
    "invscaling": InvScalingSchedule, "cosine": CosineSchedule, "plateau": PlateauSchedule}
ScheduleConfig = Annotated[_by_name(SCHEDULE_MODELS, "constant"),
                           _shorthand("constant", off="constant")]


# ---- optimizers: one section per optimizer, mirroring nncli.nn.optim's constructors
def _lr(default: float) -> Any:
    return _float(default, "Learning rate (> 0).", gt=0)


def _weight_decay(default: float = 0.0) -> Any:
    return _float(default, "L2 penalty in the update (>= 0): added to the gradient, or decoupled for "
                           "adamw (as in PyTorch).", ge=0)


def _momentum(default: float) -> Any:
    return _float(default, "Momentum: v <- momentum v + g, in [0, 1).", ge=0, lt=1)


def _eps(default: float) -> Any:
    return _float(default, "Added to the denominator for stability (> 0).", gt=0)


Betas = Annotated[tuple[Rate, Rate], BeforeValidator(_check_pair)]
_BETAS = Field((0.9, 0.999), description="Decay rates of the first and second moment averages.")


class _Optimizer(_Section):
    """The update rule and its hyper-parameters."""

    lookahead: Optional[LookaheadConfig] = Field(
        None, description="Wrap the optimizer in Lookahead (null: off).")
    clip_norm: Optional[float] = _float(None, "Clip the global gradient norm to this value (> 0).", gt=0)
    schedule: ScheduleConfig = Field(default_factory=ConstantSchedule, description="Learning-rate schedule.")

    @field_validator("lookahead", mode="before")
    @classmethod
    def _lookahead_shorthand(cls, value: Any) -> Any:
        return {} if value is True else (None if value is False else value)


class SGDConfig(_Optimizer):
    """Stochastic gradient descent: p <- p - lr v, v <- momentum v + g (PyTorch's SGD)."""

    name: Literal["sgd"] = "sgd"
    lr: float = _lr(1e-3)
    momentum: float = _momentum(0.0)
    nesterov: bool = Field(False, strict=True, description="Nesterov momentum (needs momentum > 0).")
    weight_decay: float = _weight_decay()

    @model_validator(mode="after")
    def _check(self) -> SGDConfig:
        if self.nesterov and self.momentum == 0:
            _raise("SGDConfig", [("nesterov", "expected momentum > 0 with nesterov: true, got momentum 0",
                                  self.nesterov)])
        return self


class MomentumConfig(_Optimizer):
    """SGD with momentum (the notes' SGDM)."""

    name: Literal["momentum"] = "momentum"
    lr: float = _lr(1e-3)
    momentum: float = _momentum(0.9)
    weight_decay: float = _weight_decay()


class NesterovConfig(_Optimizer):
    """SGD with Nesterov momentum (the notes' NAG)."""

    name: Literal["nesterov"] = "nesterov"
    lr: float = _lr(1e-3)
    momentum: float = _momentum(0.9)
    weight_decay: float = _weight_decay()


class AdagradConfig(_Optimizer):
    """AdaGrad: steps scaled by the root of the summed squared gradients."""

    name: Literal["adagrad"] = "adagrad"
    lr: float = _lr(1e-2)
    eps: float = _eps(1e-10)
    weight_decay: float = _weight_decay()


class RMSpropConfig(_Optimizer):
    """RMSprop: steps scaled by the root of a running average of squared gradients."""

    name: Literal["rmsprop"] = "rmsprop"
    lr: float = _lr(1e-2)
    rho: float = _float(0.99, "Decay of the squared-gradient average, in [0, 1) (PyTorch's alpha).",
                        ge=0, lt=1)
    eps: float = _eps(1e-8)
    weight_decay: float = _weight_decay()


class AdamConfig(_Optimizer):
    """Adam."""

    name: Literal["adam"] = "adam"
    lr: float = _lr(1e-3)
    betas: Betas = _BETAS
    eps: float = _eps(1e-8)
    weight_decay: float = _weight_decay()


class AdamWConfig(AdamConfig):
    """Adam with decoupled weight decay."""

    name: Literal["adamw"] = "adamw"
    weight_decay: float = _weight_decay(1e-2)


class AMSGradConfig(AdamConfig):
    """Adam with the running maximum of the second moment."""

    name: Literal["amsgrad"] = "amsgrad"


class NAdamConfig(AdamConfig):
    """Adam with Nesterov momentum."""

    name: Literal["nadam"] = "nadam"
    lr: float = _lr(2e-3)
    momentum_decay: float = _float(4e-3, "Momentum schedule's decay psi (>= 0).", ge=0)


class RAdamConfig(AdamConfig):
    """Rectified Adam."""

    name: Literal["radam"] = "radam"


class AdaBoundConfig(AdamConfig):
    """Adam whose steps are clipped into bounds that close in on SGD's final_lr."""

    name: Literal["adabound"] = "adabound"
    final_lr: float = _float(0.1, "The final SGD learning rate the bounds converge to (> 0).", gt=0)
    gamma: float = _float(1e-3, "Speed at which the bounds close in (> 0).", gt=0)


OPTIMIZER_MODELS: dict[str, type[_Optimizer]] = {
    "sgd": SGDConfig, "momentum": MomentumConfig, "nesterov": NesterovConfig,
    "adagrad": AdagradConfig, "rmsprop": RMSpropConfig, "adam": AdamConfig, "adamw": AdamWConfig,
    "amsgrad": AMSGradConfig, "nadam": NAdamConfig, "radam": RAdamConfig, "adabound": AdaBoundConfig}
OptimizerConfig = Annotated[_by_name(OPTIMIZER_MODELS, "adam"), _shorthand("adam")]


class RegularizationConfig(_Section):
    """Penalties on the weights (never on biases)."""

    l1: float = _float(0.0, "L1 penalty on weights (never biases): loss += l1 * sum|W| (>= 0).", ge=0)
    l2: float = _float(0.0, "L2 penalty on weights (never biases): loss += l2/2 * sum W^2 (>= 0).", ge=0)


class EarlyStoppingConfig(_Section):
    """Stop when a monitored metric stops improving (on when this section is present)."""

    monitor: _choice(("val_loss", "val_accuracy", "val_r2", "loss")) = Field(
        "val_loss", description="Metric to watch.")
    patience: int = _int(10, "Epochs without improvement before stopping (>= 1).", ge=1)
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

    epochs: int = _int(30, "Passes over the training split (>= 1).", ge=1)
    batch_size: _tagged(("_int", Size), ("_full", Annotated[Literal["full"],
                                                             BeforeValidator(_check_full)]),
                        pick=lambda v: "_full" if isinstance(v, str) else "_int") = Field(
        64, description="Samples per batch (>= 1); full = batch gradient descent; 1 = plain SGD.")
    shuffle: bool = Field(True, strict=True, description="Reshuffle the training split each epoch.")
    dtype: _choice(("float32", "float64")) = Field("float32", description="Floating-point type.")
    early_stopping: Annotated[Optional[EarlyStoppingConfig], BeforeValidator(_early_stopping_off)] = Field(
        None, description="Early stopping: a mapping of its settings (true: the defaults) or false/null: off.")
    checkpoint_every: int = _int(0, "Also checkpoint every N batches (0 = once per epoch only).",
                                 ge=0)


class Config(_Section):
    """An nncli experiment."""

    name: Name = Field("run", description="Run name, part of the run directory under runs/.")
    seed: int = _int(0, "One seed drives splitting, init, dropout and shuffling (>= 0).", ge=0)
    description: str = Field("", strict=True, description="Free text about the experiment.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Model.")
    loss: Annotated[LossConfig, _shorthand("auto")] = Field(default_factory=LossConfig, description="Loss.")
    optimizer: OptimizerConfig = Field(default_factory=AdamConfig, description="Optimizer.")
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig,
                                                 description="Weight penalties.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training loop.")
