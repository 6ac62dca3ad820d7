"""The typed schema of an experiment: every key, its type, default, bounds and meaning.

Every key has a default and unknown keys are rejected. ``config.py`` reads YAML into it.
This module imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

import difflib
import json
import re
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
        _raise("ModelConfig", problems)
        return self


class LossConfig(_Section):
    """The training objective."""

    name: _choice(("auto",) + LOSS_NAMES) = Field(
        "auto", description="Loss; auto: cross_entropy (classification) or mse (regression).")
    class_weight: Optional[_tagged(
        ("_balanced", _choice(("balanced",))),
        ("_mapping", dict[str, Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]]),
        pick=lambda v: "_mapping" if isinstance(v, dict) else "_balanced")] = Field(
        None, description="null, balanced, or a mapping class label -> weight (> 0).")
    huber_delta: float = _float(1.0, "Where huber turns from quadratic to linear (> 0).", gt=0)

    @field_validator("class_weight", mode="before")
    @classmethod
    def _labels_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v
                    for k, v in value.items()}
        return value


class LookaheadConfig(_Section):
    """Lookahead wrapper: slow weights follow the fast ones every k steps."""

    k: int = _int(5, "Fast steps between slow-weight updates (>= 1).", ge=1)
    alpha: float = _float(0.5, "Slow-weight step size, in (0, 1].", gt=0, le=1)


class ScheduleConfig(_Section):
    """Learning-rate schedule, applied once per epoch."""

    name: _choice(SCHEDULE_NAMES) = Field("constant", description="Schedule.")
    step_size: int = _int(1, "step: epochs between decays (>= 1).", ge=1)
    gamma: float = _float(0.1, "step and exponential: lr *= gamma, in (0, 1].", gt=0, le=1)
    power_t: float = _float(0.5, "invscaling: lr = lr0 / (epoch + 1) ** power_t (>= 0).", ge=0)
    warmup: int = _int(0, "cosine: linear warm-up epochs (>= 0).", ge=0)
    min_lr: float = _float(0.0, "cosine and plateau: lowest learning rate (>= 0).", ge=0)
    patience: int = _int(2, "plateau: epochs without improvement before cutting (>= 0).", ge=0)
    factor: float = _float(0.2, "plateau: lr *= factor, in (0, 1).", gt=0, lt=1)
    threshold: float = _float(1e-4, "plateau: smallest change that counts as improvement.", ge=0)


class OptimizerConfig(_Section):
    """The update rule and its hyper-parameters."""

    name: _choice(OPTIMIZER_NAMES) = Field("adam", description="Optimizer.")
    lr: float = _float(0.001, "Learning rate (> 0).", gt=0)
    momentum: float = _float(0.9, "Momentum of sgd, momentum and nesterov, in [0, 1).", ge=0, lt=1)
    betas: Annotated[tuple[Rate, Rate], BeforeValidator(_check_pair)] = Field(
        (0.9, 0.999), description="Adam-family decay rates of the first and second moments.")
    eps: float = _float(1e-8, "Added to denominators for stability (> 0).", gt=0)
    weight_decay: float = _float(0.0, "L2 penalty (>= 0): coupled for adam etc., decoupled for "
                                      "adamw, as in PyTorch.", ge=0)
    rho: float = _float(0.9, "rmsprop: decay of the squared-gradient average, in [0, 1).",
                        ge=0, lt=1)
    final_lr: float = _float(0.1, "adabound: the final SGD learning rate (> 0).", gt=0)
    lookahead: Optional[LookaheadConfig] = Field(
        None, description="Wrap the optimizer in Lookahead (null: off).")
    clip_norm: Optional[float] = _float(None, "Clip the global gradient norm to this value (> 0).",
                                        gt=0)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig,
                                     description="Learning-rate schedule.")


class RegularizationConfig(_Section):
    """Penalties on the weights (never on biases)."""

    l1: float = _float(0.0, "L1 penalty on weights (never biases): loss += l1 * sum|W| (>= 0).", ge=0)
    l2: float = _float(0.0, "L2 penalty on weights (never biases): loss += l2/2 * sum W^2 (>= 0).", ge=0)


class EarlyStoppingConfig(_Section):
    """Stop when a monitored metric stops improving."""

    enabled: bool = Field(False, strict=True, description="Turn early stopping on.")
    monitor: _choice(("val_loss", "val_accuracy", "val_r2", "loss")) = Field(
        "val_loss", description="Metric to watch.")
    patience: int = _int(10, "Epochs without improvement before stopping (>= 1).", ge=1)
    min_delta: float = _float(0.0, "Smallest change that counts as improvement (>= 0).", ge=0)


class TrainingConfig(_Section):
    """The epoch and batch loop."""

    epochs: int = _int(30, "Passes over the training split (>= 1).", ge=1)
    batch_size: _tagged(("_int", Size), ("_full", Annotated[Literal["full"],
                                                             BeforeValidator(_check_full)]),
                        pick=lambda v: "_full" if isinstance(v, str) else "_int") = Field(
        64, description="Samples per batch (>= 1); full = batch gradient descent; 1 = plain SGD.")
    shuffle: bool = Field(True, strict=True, description="Reshuffle the training split each epoch.")
    dtype: _choice(("float32", "float64")) = Field("float32", description="Floating-point type.")
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig,
                                                description="Early stopping.")
    checkpoint_every: int = _int(0, "Also checkpoint every N batches (0 = once per epoch only).",
                                 ge=0)


class Config(_Section):
    """An nncli experiment."""

    name: Name = Field("run", description="Run name, part of the run directory under runs/.")
    seed: int = _int(0, "One seed drives splitting, init, dropout and shuffling (>= 0).", ge=0)
    description: str = Field("", strict=True, description="Free text about the experiment.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="Model.")
    loss: LossConfig = Field(default_factory=LossConfig, description="Loss.")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig, description="Optimizer.")
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig,
                                                 description="Weight penalties.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training loop.")
    plots: bool = Field(True, strict=True, description="Write learning_curves.png into the run directory "
                                                       "when training ends (needs matplotlib).")
