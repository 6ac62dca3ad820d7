"""The ``model:`` section: the network before its output layer, as ``hidden`` sizes with
per-layer activation and dropout or as a ``layers`` list; initialization (or the weights of
another run), the output head and which layers start frozen.

Its cross-key rules (one entry per hidden layer, ``layers`` replacing ``hidden``, keys only
some activations use) are the model's alone, so they live beside it; the ``layers`` list
itself is in ``layers.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional, Union

from pydantic import BeforeValidator, Field, StrictInt, model_validator

from nncli.config.aliases import ACTIVATION_ALIASES
from nncli.config.fields import (
    FilePath,
    Rate,
    Size,
    _choice,
    _fail,
    _float,
    _int,
    _one_or_list,
    _raise,
    _Section,
    _show,
    _tagged,
    _unused,
)
from nncli.config.layers import IMAGE_KINDS, LAYER_MODELS, LayerEntry, LayerList, layer_specs
from nncli.config.names import ACTIVATION_NAMES, INIT_NAMES, OUTPUT_NAMES

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
