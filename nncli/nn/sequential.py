"""A network from a list of layer specs: ``[("conv2d", {"filters": 16, ...}), ("activation",
{"name": "relu"}), ...]``, then the output layer, as ``build_mlp`` adds it after the hidden ones.

``LAYER_KINDS`` maps each kind to a function of its settings (and the network-wide defaults)
that returns the layer: the same names as the config's ``model.layers`` entries.
"""

from __future__ import annotations

import numpy as np

from nncli.nn.activations import OUTPUT_HEADS, make_activation
from nncli.nn.conv import Conv2D
from nncli.nn.initializers import DEFAULT_INIT
from nncli.nn.layers import BatchNorm, Dense, Dropout, Flatten, Layer
from nncli.nn.network import Network
from nncli.nn.pooling import AvgPool2D, MaxPool2D
from nncli.nn.registry import lookup

WEIGHTED = ("conv2d", "dense")  # kinds that start a block (what ``freeze: N`` counts)

LAYER_KINDS = {
    "conv2d": lambda s, d: Conv2D(s["filters"], s.get("kernel", 3), s.get("stride", 1), s.get("padding", "valid"),
                                  s.get("bias", True), d["init"], d["init_scale"]),
    "maxpool2d": lambda s, d: MaxPool2D(s["pool"], s.get("stride"), s.get("padding", 0)),
    "avgpool2d": lambda s, d: AvgPool2D(s["pool"], s.get("stride"), s.get("padding", 0)),
    "flatten": lambda s, d: Flatten(),
    "dense": lambda s, d: Dense(s["units"], s.get("bias", True), d["init"], d["init_scale"]),
    "activation": lambda s, d: make_activation(s["name"], d["leaky_slope"], d["maxout_pieces"]),
    "dropout": lambda s, d: Dropout(s["rate"]),
    "batch_norm": lambda s, d: BatchNorm(s.get("momentum", 0.1), s.get("eps", 1e-5)),
}


class SpecError(ValueError):
    """A layer list that cannot be built: ``index`` is the entry's position (None: the output)."""

    def __init__(self, message: str, index: int | None):
        super().__init__(message)
        self.index = index


def build_sequential(input_shape, specs: list[tuple[str, dict]], n_out: int, *, output: str = "identity",
                     bias: bool = True, init: str | None = None, init_scale: float = 0.01,
                     leaky_slope: float = 0.01, maxout_pieces: int = 2, dtype=np.float32,
                     seed: int | np.random.SeedSequence = 0) -> Network:
    """The listed layers, then ``Dense(n_out)`` and the ``output`` head. Layer i of the network
    is entry i of ``specs``. A Dense followed by maxout gets ``pieces`` times its units, as in
    ``build_mlp``. Raises SpecError naming the entry whose input shape does not fit."""
    defaults = {"init": init or DEFAULT_INIT, "init_scale": init_scale, "leaky_slope": leaky_slope,
                "maxout_pieces": maxout_pieces}
    layers: list[Layer] = []
    for kind, settings in specs:
        layer = lookup(LAYER_KINDS, kind, "layer kind")(settings, defaults)
        if layers and isinstance(layers[-1], Dense) and getattr(layer, "width_factor", 1) > 1:
            layers[-1].units *= layer.width_factor
        layers.append(layer)
    shape = tuple(int(s) for s in np.atleast_1d(input_shape))
    for i, layer in enumerate(layers):
        try:
            shape = tuple(layer.build(shape))
        except ValueError as e:
            raise SpecError(f"{specs[i][0]} cannot take inputs of shape {shape}: {e}", i) from None
    if len(shape) != 1:
        raise SpecError(f"the output layer needs flat inputs, got shape {shape}: end the list with flatten", None)
    layers.append(Dense(n_out, bias, defaults["init"], init_scale))
    if output != "identity":
        layers.append(lookup(OUTPUT_HEADS, output, "output head")())
    return Network(layers, input_shape, blocks=blocks([k for k, _ in specs], len(layers)), dtype=dtype, seed=seed)


def blocks(kinds: list[str], n_layers: int) -> list[list[int]]:
    """Layer indices per block: a conv2d or dense layer and what follows it up to the next
    one (layers before the first join it); the output layer and its head are the last."""
    out: list[list[int]] = []
    current: list[int] = []
    for i, kind in enumerate(kinds):
        if kind in WEIGHTED and any(kinds[j] in WEIGHTED for j in current):
            out.append(current)
            current = []
        current.append(i)
    if any(kinds[j] in WEIGHTED for j in current):
        out.append(current)
        current = []
    return out + [current + list(range(len(kinds), n_layers))]
