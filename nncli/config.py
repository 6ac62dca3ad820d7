"""The typed schema of an experiment, safe YAML loading and ``key=value`` overrides.

Every key has a default, unknown keys are rejected, and every problem in a file is
reported at once as ``file:line: dotted.key: expected ..., got ...``.
This module imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Sequence, Union

import yaml
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

from nncli.errors import ConfigError

ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
                    "softplus", "gelu", "maxout")
OUTPUT_NAMES = ("auto", "softmax", "sigmoid", "identity")
LOSS_NAMES = ("cross_entropy", "binary_cross_entropy", "mse", "mae", "sse", "huber")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                   "amsgrad", "nadam", "radam", "adabound")
SCHEDULE_NAMES = ("constant", "step", "exponential", "invscaling", "cosine", "plateau")
INIT_NAMES = ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "lecun_normal",
              "lecun_uniform", "normal")
DATASET_NAMES = ("digits", "iris", "wine", "breast_cancer", "diabetes", "make_classification",
                 "make_regression", "make_moons", "make_circles", "make_blobs")

MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 64


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


# ---------------------------------------------------------------------- YAML
_FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.2 floats with an exponent and no dot (1e-3, 1E5, -2e-4); YAML 1.1 needs the dot.
_EXP_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null",
                                                      "seq", "map")}


class _Rejected(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.line = mark.line + 1


class _Loader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases, merge keys, timestamps or non-core tags."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Rejected(f"aliases (*{event.anchor}) are not allowed", event.start_mark)
        if event.anchor is not None:
            raise _Rejected(f"anchors (&{event.anchor}) are not allowed", event.start_mark)
        tag = event.tag
        if tag not in (None, "!") and tag not in _ALLOWED_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise _Rejected(f"tag {shown!r} is not allowed", event.start_mark)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _Rejected(f"nesting deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes strings the loader would read as exponent floats."""


_Loader.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))
_Dumper.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":timestamp", ":merge", ":value"))]
    for ch, resolvers in _Loader.yaml_implicit_resolvers.items()}


def _error(message: str) -> ConfigError:
    """A ConfigError with a single problem."""
    return ConfigError(message, [message])


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path)


def _walk(loader: _Loader, node: Any, path: tuple, lines: dict) -> None:
    """Record the line of every key and list item; reject duplicate and non-scalar keys."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Rejected(f"{_dotted(path) or 'top level'}: expected plain keys, "
                                "got a list or mapping as a key", key_node.start_mark)
            key = loader.construct_object(key_node)
            if key in seen:
                raise _Rejected(f"duplicate key {_dotted(path + (key,))!r} "
                                f"(first on line {seen[key]}, again on line {line})",
                                key_node.start_mark)
            seen[key] = lines[path + (key,)] = line
            _walk(loader, value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(loader, item, path + (i,), lines)


def _load(text: str, where: str, empty: Any) -> tuple[Any, dict[tuple, int]]:
    """Parse one YAML document safely (``empty`` when there is none).

    Errors are prefixed with ``where`` (a file name or an override).
    """
    loader = _Loader(text)
    lines: dict[tuple, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return empty, lines
        _walk(loader, node, (), lines)
        return loader.construct_document(node), lines
    except _Rejected as exc:
        raise _error(f"{where}:{exc.line}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            problem = f"{exc.context} {exc.problem}"
        raise _error(f"{where}{pos}: invalid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise _error(f"{where}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    """Parse a config file's text; return the mapping and {key path: 1-based line}.

    An empty document is an empty mapping (every key has a default).
    """
    data, lines = _load(text, filename, empty={})
    if not isinstance(data, dict):
        raise _error(f"{filename}:1: expected a mapping of keys at the top level, "
                     f"got {_show(data)}")
    return data, lines


# ----------------------------------------------------------------- overrides
def _split_override(item: str) -> tuple[tuple[str, ...], str]:
    key, eq, value = item.partition("=")
    keys = tuple(k.strip() for k in key.split("."))
    if not eq or not all(keys):
        raise _error(f"override {item!r}: expected key.path=value, e.g. optimizer.lr=0.01")
    return keys, value


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Return a copy of ``data`` with each ``a.b.c=value`` applied (value parsed as YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        keys, text = _split_override(item)
        value, _ = _load(text, f"override {item!r}", empty=None)
        node = data
        for depth, key in enumerate(keys[:-1]):
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                msg = (f"override {item!r}: {_dotted(keys[:depth + 1])} is {_show(node)}, "
                       "not a mapping, so it has no keys")
                raise _error(msg)
        node[keys[-1]] = value
    return data


# ---------------------------------------------------------------- validation
_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false", "string_type": "a string",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "invalid_key": "a string key",
    "missing": "a value",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


def _section_model(path: Sequence[Any]) -> type[BaseModel] | None:
    """The schema class of the section at ``path`` (None if it is not a section)."""
    model: Any = Config
    for key in path:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        model = _find_model(field.annotation) if field else None
        if model is None:
            return None
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _find_model(arg)
        if found:
            return found
    return None


def _all_keys(model: type[BaseModel], path: tuple = ()) -> list[tuple]:
    out = []
    for key, field in model.model_fields.items():
        out.append(path + (key,))
        sub = _find_model(field.annotation)
        if sub:
            out += _all_keys(sub, path + (key,))
    return out


def _unknown_key(path: tuple) -> str:
    key = path[-1]
    allowed = list(getattr(_section_model(path[:-1]), "model_fields", ()))
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    elsewhere = [_dotted(p) for p in _all_keys(Config) if p[-1] == key]
    if elsewhere:
        return f"unknown key {key!r} here (did you mean {elsewhere[0]!r}?)"
    return f"unknown key {key!r}; expected one of {', '.join(sorted(allowed))}"


_NO_KEY = object()


def _clean_loc(loc: Sequence[Any], data: Any) -> tuple:
    """Pydantic's error location as a key path into ``data`` (union tags dropped)."""
    out: list[Any] = []
    node = data
    for elem in loc:
        if isinstance(node, dict):
            match = elem if elem in node else next(
                (k for k in node if str(k) == str(elem)), _NO_KEY)
            if match is not _NO_KEY:
                out.append(match)
                node = node[match]
                continue
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            out.append(elem)
            node = node[elem]
            continue
        if elem in _UNION_TAGS:
            continue
        out.append(elem)
        node = None
    return tuple(out)


def _describe(err: dict, path: tuple) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "config":
        return err["msg"]
    if kind in ("extra_forbidden", "invalid_key"):
        return _unknown_key(path)
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        expected = f"a value {op} {bound}"
    elif kind in ("too_short", "too_long"):
        expected = (f"at least {ctx.get('min_length')} items" if kind == "too_short"
                    else f"at most {ctx.get('max_length')} items")
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected')}"
    else:
        expected = _EXPECTED.get(kind, err["msg"])
    if kind in ("model_type", "dict_type") and not path:
        expected += " of keys at the top level"
    return f"expected {expected}, got {_show(err.get('input'))}"


def _where(filename: str, lines: dict, path: tuple) -> str:
    """``file:line`` of the nearest recorded key at or above ``path``, or an override label."""
    for key, label in lines.items():
        if isinstance(label, str) and key[:len(path)] == path and path:
            return label
    for n in range(len(path), 0, -1):
        line = lines.get(path[:n])
        if line is not None:
            return f"{filename}:{line}" if isinstance(line, int) else str(line)
    return filename


def validate(data: Any, filename: str = "<config>", lines: dict | None = None) -> Config:
    """Build a Config from parsed YAML; report every problem in one ConfigError.

    ``lines`` maps key paths to 1-based line numbers (or to a label such as an override).
    """
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors(include_url=False):
            path = _clean_loc(err["loc"], data)
            head = _where(filename, lines or {}, path) + (f": {_dotted(path)}" if path else "")
            problem = f"{head}: {_describe(err, path)}"
            if problem not in problems:
                problems.append(problem)
        n = len(problems)
        headline = f"{filename}: {n} problem{'s' if n != 1 else ''} in the config"
        error = ConfigError(headline + "\n" + "\n".join(problems), problems)
        error.headline = headline
        raise error from None


# ------------------------------------------------------------------- loading
def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise _error(f"{path}: is a directory, expected a YAML config file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _error(f"{path}: config file has {size} bytes, more than the limit of "
                              f"{MAX_CONFIG_BYTES} (1 MiB)")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise _error(f"{path}: config file not found") from None
    except OSError as exc:
        raise _error(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise _error(f"{path}: config file is larger than the limit of "
                          f"{MAX_CONFIG_BYTES} bytes (1 MiB)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(f"{path}: expected UTF-8 text, got byte 0x{raw[exc.start]:02x} "
                          f"at offset {exc.start}") from None


def load_config(path: str | Path, overrides: Sequence[str] = (), text: str | None = None) -> Config:
    """Read, parse, override and validate an experiment file.

    ``path == "-"`` means ``text`` holds what was read from stdin (shown as ``<stdin>``).
    """
    filename = "<stdin>" if str(path) == "-" else str(path)
    if text is None:
        if str(path) == "-":
            raise _error("<stdin>: no config text was given")
        text = _read_text(Path(path))
    elif len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise _error(f"{filename}: config text is larger than the limit of "
                          f"{MAX_CONFIG_BYTES} bytes (1 MiB)")
    data, lines = parse_yaml(text, filename)
    data = apply_overrides(data, overrides)
    for item in overrides:
        keys = _split_override(item)[0]
        lines = {k: v for k, v in lines.items() if k[:len(keys)] != keys}
        lines[keys] = f"override {item!r}"
    return validate(data, filename, lines)


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain JSON-able data, keys in schema order."""
    return cfg.model_dump(mode="json")


def dump_config(cfg: Config) -> str:
    """The resolved config as block-style YAML that ``load_config`` reads back equal."""
    return yaml.dump(config_to_dict(cfg), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True)


def config_schema() -> dict:
    """The JSON Schema of an experiment file, with descriptions for editor completion."""
    schema = Config.model_json_schema()
    schema["title"] = "nncli experiment"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
