"""The network: a stack of layers sharing one flat parameter vector; and ``build_mlp``.

All trainable parameters live in one flat vector ``theta`` and their gradients in one flat
vector ``grad``; each layer's ``W``, ``b``, ... are views into them. Optimizers, penalties and
gradient clipping then touch a handful of large arrays per step instead of many small ones.
The layout puts frozen parameters first and, within each part, the parameters that take
weight penalties (weights, never biases) first, so "trainable" and "trainable weights" are
each one contiguous slice.

The network uses its layers only through the contract in ``layers.py``.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.nn.activations import OUTPUT_HEADS, make_activation
from nncli.nn.initializers import DEFAULT_INIT
from nncli.nn.layers import BatchNorm, Dense, Dropout, Layer
from nncli.nn.registry import lookup


class Network:
    """Layers in order, built for samples of ``input_shape``.

    ``blocks[i]`` lists the layer indices of block i (for an MLP: a Dense and what follows it
    up to the next Dense); freezing block i freezes every parameter in it. ``seed`` (an int or
    a ``np.random.SeedSequence``) gives the initial weights one stream and every random layer
    a stream of its own.
    """

    def __init__(self, layers: list[Layer], input_shape, *, blocks: list[list[int]] | None = None,
                 dtype=np.float32, seed: int | np.random.SeedSequence = 0):
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in np.atleast_1d(input_shape))
        self.blocks = blocks or [[i] for i in range(len(self.layers))]
        self.dtype = np.dtype(dtype)
        self.names = layer_names(self.layers)
        self.shapes = [self.input_shape]  # shapes[i]: one sample's shape entering layer i
        for layer in self.layers:
            self.shapes.append(tuple(layer.build(self.shapes[-1])))
        for layer in self.layers:
            layer.init_buffers(self.dtype)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
        init_seed, *layer_seeds = ss.spawn(1 + len(self.layers))
        for layer, s in zip(self.layers, layer_seeds):
            if layer.random:
                layer.rng = np.random.default_rng(s)
        self.theta = np.zeros(0, self.dtype)
        self._allocate()
        rng = np.random.default_rng(init_seed)
        for layer in self.layers:
            layer.init_params(rng)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[-1]

    # -- layout
    def _allocate(self):
        """(Re)build theta and grad with the layout described in the module docstring."""
        entries = [(i, pname, shape) for i, layer in enumerate(self.layers)
                   for pname, shape in layer.param_shapes().items()]
        entries.sort(key=lambda e: (not self.layers[e[0]].frozen, e[1] not in self.layers[e[0]].decay))
        old = {(i, p): self.layers[i].params[p].copy() for i, p, _ in entries if p in self.layers[i].params}
        size = sum(math.prod(s) for _, _, s in entries)
        self.theta = np.zeros(size, self.dtype)
        self.grad = np.zeros(size, self.dtype)
        self._bind(entries)
        for (i, pname), arr in old.items():
            self.layers[i].params[pname][...] = arr

    def _bind(self, entries):
        """Point every layer's params and grads at their slices of theta and grad."""
        for layer in self.layers:
            layer.params, layer.grads = {}, {}
        offset = self.n_frozen = self.n_decay = 0
        for i, pname, shape in entries:
            layer, k = self.layers[i], math.prod(shape)
            layer.params[pname] = self.theta[offset:offset + k].reshape(shape)
            layer.grads[pname] = self.grad[offset:offset + k].reshape(shape)
            if layer.frozen:
                self.n_frozen = offset + k
            elif pname in layer.decay:
                self.n_decay = offset + k - self.n_frozen
            offset += k
        self.entries = entries
        first_trainable = min((i for i, layer in enumerate(self.layers)
                               if layer.param_shapes() and not layer.frozen), default=len(self.layers))
        # nothing before the first trainable layer needs an input gradient, so backward stops there
        for i, layer in enumerate(self.layers):
            layer.need_input_grad = i > first_trainable
        self._stop = first_trainable
        # what an optimizer's state is laid out for: it refuses to step once this changes
        self.layout = tuple((self.names[i], pname, shape) for i, pname, shape in entries
                            if not self.layers[i].frozen)

    # copies and pickles carry theta and grad; the layers' views are rebuilt against the copy's own
    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bind(self.entries)

    @property
    def trainable(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, gradients) of everything not frozen: one contiguous slice each."""
        return self.theta[self.n_frozen:], self.grad[self.n_frozen:]

    @property
    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, gradients) that take L1/L2 penalties: trainable weights only."""
        lo, hi = self.n_frozen, self.n_frozen + self.n_decay
        return self.theta[lo:hi], self.grad[lo:hi]

    def freeze(self, layers) -> None:
        """Freeze these layers (indices or names); their parameters never change again.

        An optimizer built before this call refuses to step (the trainable slice moved).
        """
        idx = {self.index(x) for x in layers}
        for i, layer in enumerate(self.layers):
            layer.frozen = i in idx
        self._allocate()

    def freeze_blocks(self, n_blocks: int) -> None:
        """Freeze the first ``n_blocks`` blocks (for an MLP: its first n dense layers)."""
        self.freeze([i for b in self.blocks[:n_blocks] for i in b])

    def index(self, which: int | str) -> int:
        """The position of a layer given by index (negative from the end) or by name."""
        if isinstance(which, str):
            if which not in self.names:
                raise ValueError(f"no layer named '{which}': the layers are {', '.join(self.names)}")
            return self.names.index(which)
        if not -len(self.layers) <= which < len(self.layers):
            raise ValueError(f"no layer {which}: the network has {len(self.layers)} layers")
        return which % len(self.layers)

    # -- compute
    def forward(self, x, training: bool = False):
        private = False  # the caller's array: never overwritten
        for layer in self.layers:
            if layer.inplace and not private:
                x = x.copy()
            x = layer.forward(x, training)
            private = layer.private_output
        return x

    def backward(self, dout) -> None:
        for layer in reversed(self.layers[self._stop:]):
            dout = layer.backward(dout)

    def predict(self, x, batch_size: int = 4096):
        """Forward in evaluation mode, in chunks so memory stays bounded."""
        x = np.asarray(x, self.dtype)
        if len(x) <= batch_size:
            return self.forward(x)
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    # -- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by ``<layer name>.<name>`` (copies)."""
        state = {}
        for name, layer in zip(self.names, self.layers):
            for key, arr in {**layer.params, **layer.buffers}.items():
                state[f"{name}.{key}"] = arr.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Copy every parameter and buffer in; a missing name or a shape that differs raises."""
        for name, layer in zip(self.names, self.layers):
            for key, arr in {**layer.params, **layer.buffers}.items():
                src = state.get(f"{name}.{key}")
                if src is None or src.shape != arr.shape:
                    got = "missing" if src is None else f"shape {src.shape}"
                    raise ValueError(f"weights '{name}.{key}': expected shape {arr.shape}, got {got}")
                arr[...] = src

    def layer_state(self, i: int) -> dict[str, np.ndarray]:
        layer = self.layers[i]
        return {**layer.params, **layer.buffers}

    def random_state(self) -> dict[str, dict]:
        """The bit-generator state of every random layer, by layer name."""
        return {name: layer.rng.bit_generator.state for name, layer in zip(self.names, self.layers)
                if layer.rng is not None}

    def set_random_state(self, states: dict[str, dict]) -> None:
        for name, layer in zip(self.names, self.layers):
            if layer.rng is not None:
                layer.rng.bit_generator.state = states[name]


def layer_names(layers) -> list[str]:
    """``<kind><n>``: dense0, batchnorm0, dense1, ... (the keys of saved weights)."""
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        counts[layer.kind] = counts.get(layer.kind, -1) + 1
        names.append(f"{layer.kind}{counts[layer.kind]}")
    return names


def build_mlp(n_in: int, hidden: list[int], n_out: int, *, activation="relu",
              output: str = "identity", dropout=0.0, batch_norm: bool = False, bias: bool = True,
              init: str | None = None, init_scale: float = 0.01, leaky_slope: float = 0.01,
              maxout_pieces: int = 2, dtype=np.float32, seed: int | np.random.SeedSequence = 0) -> Network:
    """``[n_in] + hidden + [n_out]`` dense layers; ``hidden=[]`` is linear/logistic regression.

    ``activation``, ``dropout`` and ``batch_norm`` are one value for every hidden layer or one
    per layer. ``output`` is the head the network applies itself ("identity" when the loss is
    fused with it).
    """
    n = len(hidden)
    acts = [activation] * n if isinstance(activation, str) else list(activation)
    rates = [dropout] * n if isinstance(dropout, (int, float)) else list(dropout)
    norms = [batch_norm] * n if isinstance(batch_norm, bool) else list(batch_norm)
    layers, blocks = [], []
    for units, act, rate, norm in zip(hidden, acts, rates, norms):
        f = make_activation(act, leaky_slope, maxout_pieces)
        start = len(layers)
        layers.append(Dense(units * f.width_factor, bias, init or DEFAULT_INIT, init_scale))
        if norm:
            layers.append(BatchNorm())
        layers.append(f)
        if rate > 0:
            layers.append(Dropout(rate))
        blocks.append(list(range(start, len(layers))))
    start = len(layers)
    layers.append(Dense(n_out, bias, init or DEFAULT_INIT, init_scale))
    if output != "identity":
        layers.append(lookup(OUTPUT_HEADS, output, "output head")())
    blocks.append(list(range(start, len(layers))))
    return Network(layers, (n_in,), blocks=blocks, dtype=dtype, seed=seed)
