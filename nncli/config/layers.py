"""``model.layers``: a network written as a list of layers, one small mapping each.

    layers:
      - conv2d: {filters: 16, kernel: 3, padding: same}
      - activation: relu
      - maxpool2d: 2            # a scalar is the layer's main setting: {pool: 2}
      - flatten                 # a bare name: the layer's defaults
      - dense: 64
      - dropout: 0.2

Each entry is ``{kind: settings}``; the kinds and their settings are ``LAYER_KINDS``. The
output layer (one unit per class or target, and its head) is added after the list, as it is
after ``model.hidden``. A typo in a kind or a setting is reported with a "did you mean".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BeforeValidator, Discriminator, Field, StrictInt, Tag, create_model

from nncli.config.aliases import ACTIVATION_ALIASES
from nncli.config.fields import (
    _UNION_TAGS,
    Rate,
    Size,
    _Choice,
    _choice,
    _fail,
    _float,
    _int,
    _OneOf,
    _Section,
    _show,
    _tagged,
)

LAYER_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
                     "softplus", "gelu", "maxout")


def _padding_value(value: Any) -> Any:
    if value in ("valid", "same") or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise _fail(f"expected valid, same or a number of pixels >= 0, got {_show(value)}")


Padding = Annotated[Union[str, StrictInt], BeforeValidator(_padding_value)]


class Conv2DSpec(_Choice):
    """A 2-D convolution: `filters` kernels slid over the image."""

    filters: Size = Field(..., description="Number of filters (output channels), >= 1.")
    kernel: Size = _int(3, "Kernel height and width in pixels (>= 1).", ge=1)
    stride: Size = _int(1, "Step between windows in pixels (>= 1).", ge=1)
    padding: Padding = Field("valid", description="valid: no padding; same: output as large as the input "
                                                  "(at stride 1); or a number of zero pixels on each side.")
    bias: bool = Field(True, strict=True, description="Give each filter a bias.")


class PoolSpec(_Choice):
    """A pooling window: the maximum (maxpool2d) or the mean (avgpool2d) of each window."""

    pool: Size = Field(..., description="Window height and width in pixels (>= 1).")
    stride: Optional[Size] = Field(None, description="Step between windows; null: the window size.")
    padding: int = _int(0, "Pixels of padding on each side, at most half the window.", ge=0)


class DenseSpec(_Choice):
    """A fully connected layer: every input to every unit."""

    units: Size = Field(..., description="Number of units (>= 1).")
    bias: bool = Field(True, strict=True, description="Give each unit a bias.")


class ActivationSpec(_Choice):
    """An element-wise activation function (model.leaky_slope and model.maxout_pieces apply)."""

    name: _choice(LAYER_ACTIVATIONS, ACTIVATION_ALIASES) = Field(..., description="The function.")


class DropoutSpec(_Choice):
    """Inverted dropout: zero a fraction of the inputs in training."""

    rate: Rate = Field(..., description="Fraction dropped, in [0, 1).")


class BatchNormSpec(_Choice):
    """Batch normalization: per feature, or per channel of images."""

    momentum: float = _float(0.1, "Weight of each batch in the running statistics, in (0, 1].", gt=0, le=1)
    eps: float = _float(1e-5, "Added to the variance before its square root (> 0).", gt=0)


class FlattenSpec(_Choice):
    """Images (channels, height, width) to flat vectors, for dense layers."""


# kind -> (settings model, the setting a scalar stands for)
LAYER_KINDS: dict[str, tuple[type[_Choice], str | None]] = {
    "conv2d": (Conv2DSpec, "filters"),
    "maxpool2d": (PoolSpec, "pool"),
    "avgpool2d": (PoolSpec, "pool"),
    "flatten": (FlattenSpec, None),
    "dense": (DenseSpec, "units"),
    "activation": (ActivationSpec, "name"),
    "dropout": (DropoutSpec, "rate"),
    "batch_norm": (BatchNormSpec, None),
}
# Keras's and PyTorch's names for the same kinds
KIND_ALIASES = {"conv": "conv2d", "conv2D": "conv2d", "maxpool": "maxpool2d", "max_pool": "maxpool2d",
                "max_pooling2d": "maxpool2d", "avgpool": "avgpool2d", "avg_pool": "avgpool2d",
                "average_pooling2d": "avgpool2d", "linear": "dense", "batchnorm": "batch_norm",
                "batch_normalization": "batch_norm", "batchnorm2d": "batch_norm"}
IMAGE_KINDS = ("conv2d", "maxpool2d", "avgpool2d")  # layers that take (channels, height, width)


def _expand(kind: str):
    model, main = LAYER_KINDS[kind]

    def expand(value: Any) -> Any:
        if value is None:
            return {}
        if main is not None and not isinstance(value, dict):
            return {main: value}
        return value
    return expand


def _entry(value: Any) -> Any:
    """One list entry as ``{kind: settings}``: a bare name is its defaults, a kind's alias is
    read as the kind; an unknown kind or setting is refused with a close match."""
    if isinstance(value, str):
        value = {value: {}}
    if not isinstance(value, dict) or len(value) != 1:
        raise _fail(f"expected one layer as a mapping {{kind: settings}} such as {{dense: 64}} or "
                    f"{{conv2d: {{filters: 16, kernel: 3}}}}, got {_show(value)}")
    (kind, settings), = value.items()
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in LAYER_KINDS:
        close = difflib.get_close_matches(str(kind), [*LAYER_KINDS, *KIND_ALIASES], n=1)
        hint = f" (did you mean {KIND_ALIASES.get(close[0], close[0])!r}?)" if close else ""
        raise _fail(f"unknown layer kind {_show(kind)}{hint}; expected one of {', '.join(LAYER_KINDS)}")
    model, main = LAYER_KINDS[kind]
    if isinstance(settings, dict):
        known = list(model.model_fields)
        for key in settings:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                takes = f"it takes {', '.join(known)}" if known else "it takes no settings"
                raise _fail(f"unknown key {_show(key)} of {kind}{hint}; {takes}")
    elif settings is not None and main is None:
        raise _fail(f"{kind} takes {', '.join(model.model_fields) or 'no settings'} as a mapping, "
                    f"got {_show(settings)} (write {{{kind}: {{}}}} or just {kind})")
    return {kind: settings}


def _kind_of(value: Any) -> str:
    if isinstance(value, _Section):  # serializing a validated entry
        return next(iter(type(value).model_fields))
    return next(iter(value)) if isinstance(value, dict) and len(value) == 1 else ""


def _layer_model(kind: str, model: type[_Section], main: str | None):
    # the scalar form is in the JSON Schema for editors; validation always sees the mapping
    # (null is the defaults: {flatten: null})
    scalar = model.model_fields[main].annotation if main else type(None)
    annotation = _tagged(("_one", scalar), ("_mapping", model), pick=lambda v: "_mapping")
    return create_model(
        f"{kind}_layer", __base__=_Choice, __doc__=(model.__doc__ or "").strip(),
        **{kind: (Annotated[annotation, BeforeValidator(_expand(kind))], Field(..., description=model.__doc__))})


LAYER_MODELS = {kind: _layer_model(kind, model, main) for kind, (model, main) in LAYER_KINDS.items()}
# a bare kind ("flatten") is in the JSON Schema for editors; validation sees {flatten: {}}
_BARE = Annotated[Literal[tuple(LAYER_KINDS)], Tag("_bare_layer")]
_LAYERS = Annotated[Union[tuple(Annotated[m, Tag(f"_{k}_layer")] for k, m in LAYER_MODELS.items()) + (_BARE,)],
                    Discriminator(lambda v: f"_{_kind_of(v)}_layer")]
# validated by its kind's model alone (``_entry`` has made it {kind: settings}); the union is the JSON Schema's
LayerEntry = Annotated[_LAYERS, _OneOf(lambda v: LAYER_MODELS[_kind_of(v)], _LAYERS), BeforeValidator(_entry)]
_UNION_TAGS.update({f"_{k}_layer" for k in LAYER_KINDS} | {"_bare_layer"})


@dataclass(frozen=True)
class LayerList:
    """Marks ``model.layers`` for the reference page: one table of settings per kind."""

    kinds: dict


def layer_specs(entries) -> list[tuple[str, dict]]:
    """The validated entries as (kind, settings) pairs of plain values."""
    out = []
    for entry in entries:
        (kind, spec), = entry.model_dump().items()
        out.append((kind, spec))
    return out


def first_kind(entries) -> str | None:
    return _kind_of(entries[0].model_dump()) if entries else None


def sizes_and_activations(entries) -> tuple[list, str | list[str]]:
    """For run listings: each weighted layer's size (conv32 for 32 filters, 128 for a dense
    layer's units) and the activation (or activations) used."""
    specs = layer_specs(entries)
    sizes = [f"conv{s['filters']}" if k == "conv2d" else s["units"] for k, s in specs if k in ("conv2d", "dense")]
    acts = list(dict.fromkeys(s["name"] for k, s in specs if k == "activation"))
    return sizes, acts[0] if len(acts) == 1 else acts
