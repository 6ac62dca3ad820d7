"""Layers and the network: forward, backward, parameters, state_dict.

All trainable parameters of a network live in one flat vector ``theta`` and their gradients
in one flat vector ``grad``; each layer's ``W``, ``b``, ... are views into them. Optimizers,
penalties and gradient clipping then touch a handful of large arrays per step instead of
many small ones. The layout puts frozen parameters first and, within each part, the
parameters that take weight penalties (weights, never biases) first, so "trainable" and
"trainable weights" are each one contiguous slice.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.activations import OUTPUT_HEADS, Activation, make_activation
from nncli.errors import lookup
from nncli.initializers import DEFAULT_INIT, INITIALIZERS  # noqa: F401  (INITIALIZERS: part of the model's API)




# ---------------------------------------------------------------- layers
class Dense(Activation):
    """z = x @ W + b."""

    decay = ("W",)

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: str = "he_normal",
                 init_scale: float = 0.01):
        self.n_in, self.n_out, self.bias = n_in, n_out, bias
        self.init = lookup(INITIALIZERS, init, "initializer")
        self.init_scale = init_scale
        self.need_dx = True
        self._ones = np.ones(0)

    def param_shapes(self):
        shapes = {"W": (self.n_in, self.n_out)}
        if self.bias:
            shapes["b"] = (self.n_out,)
        return shapes

    def init_params(self, rng):
        W = self.params["W"]
        W[...] = self.init(rng, self.n_in, self.n_out, W.shape, self.init_scale)
        if self.bias:
            self.params["b"][...] = 0

    def forward(self, x, training=False):
        # x: (batch, n_in) -> z: (batch, n_out)
        self.x = x
        z = np.dot(x, self.params["W"])  # np.dot: the same GEMM as @ with less dispatch
        if self.bias:
            z += self.params["b"]
        return z

    def backward(self, dz):
        if not self.frozen:
            np.dot(self.x.T, dz, out=self.grads["W"])  # dW = x.T @ dz
            if self.bias:
                # db = sum over the batch, as ones @ dz: a BLAS call is faster than a reduction
                if len(self._ones) != len(dz):
                    self._ones = np.ones(len(dz), dz.dtype)
                np.dot(self._ones, dz, out=self.grads["b"])
        return np.dot(dz, self.params["W"].T) if self.need_dx else None  # dx = dz @ W.T


class Dropout(Activation):
    """Inverted dropout: scale kept units by 1/(1-rate) in training, identity at evaluation."""

    def __init__(self, rate: float, rng: np.random.Generator):
        self.rate, self.rng = rate, rng
        self.fixed_mask = None  # set by tests to check the gradient with a known mask

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self.mask = None
            return x
        if self.fixed_mask is not None:
            self.mask = self.fixed_mask
        else:
            keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
            self.mask = keep * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self.mask

    def backward(self, da):
        if self.mask is not None:
            da *= self.mask
        return da


class BatchNorm(Activation):
    """Normalise each unit over the batch, then scale by gamma and shift by beta.

    Training uses batch statistics and updates running ones (PyTorch's momentum 0.1 and
    unbiased running variance); evaluation, and a frozen layer, use the running ones.
    """

    def __init__(self, n: int, momentum: float = 0.1, eps: float = 1e-5):
        self.n, self.momentum, self.eps = n, momentum, eps

    def param_shapes(self):
        return {"gamma": (self.n,), "beta": (self.n,)}

    def init_params(self, rng):
        self.params["gamma"][...] = 1
        self.params["beta"][...] = 0

    def init_buffers(self, dtype):
        self.buffers = {"running_mean": np.zeros(self.n, dtype), "running_var": np.ones(self.n, dtype)}

    def forward(self, x, training=False):
        # x: (batch, n)
        self.training = training and not self.frozen
        if self.training:
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            m, n = self.momentum, len(x)
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            rm *= 1 - m
            rm += m * mu
            rv *= 1 - m
            rv += (m * n / max(n - 1, 1)) * var
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.xhat = (x - mu) * self.inv_std
        return self.xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, dout):
        if not self.frozen:
            np.sum(dout * self.xhat, axis=0, out=self.grads["gamma"])
            np.sum(dout, axis=0, out=self.grads["beta"])
        dxhat = dout * self.params["gamma"]
        if not self.training:
            return dxhat * self.inv_std
        # dx = inv_std / N * (N dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
        n = len(dout)
        return (self.inv_std / n) * (
            n * dxhat - dxhat.sum(axis=0) - self.xhat * (dxhat * self.xhat).sum(axis=0)
        )


# ---------------------------------------------------------------- the network
class Network:
    """A stack of layers sharing one flat parameter vector.

    ``blocks[i]`` lists the layer indices of block i (a Dense and what follows it up to the
    next Dense); freezing block i freezes every parameter in it.
    """

    def __init__(self, layers: list, blocks: list[list[int]] | None = None,
                 dtype=np.float32, rng: np.random.Generator | None = None):
        self.layers = layers
        self.blocks = blocks or [[i] for i in range(len(layers))]
        self.dtype = np.dtype(dtype)
        self.names = _layer_names(layers)
        self.theta = np.zeros(0, self.dtype)
        for layer in layers:
            if isinstance(layer, BatchNorm):
                layer.init_buffers(self.dtype)
        self._allocate()
        rng = rng if rng is not None else np.random.default_rng(0)
        for layer in layers:
            layer.init_params(rng)

    # -- layout
    def _entries(self):
        for i, layer in enumerate(self.layers):
            for pname, shape in layer.param_shapes().items():
                yield i, pname, shape

    def _allocate(self):
        """(Re)build theta and grad with the layout described in the module docstring."""
        entries = sorted(self._entries(), key=lambda e: (
            not self.layers[e[0]].frozen, e[1] not in self.layers[e[0]].decay))
        old = {(i, p): self.layers[i].params[p].copy() for i, p, _ in entries if p in self.layers[i].params}
        size = sum(math.prod(s) for _, _, s in entries)
        self.theta = np.zeros(size, self.dtype)
        self.grad = np.zeros(size, self.dtype)
        for layer in self.layers:
            layer.params, layer.grads = {}, {}
        offset = self.n_frozen = self.n_decay = 0
        for i, pname, shape in entries:
            layer, k = self.layers[i], math.prod(shape)
            layer.params[pname] = self.theta[offset:offset + k].reshape(shape)
            layer.grads[pname] = self.grad[offset:offset + k].reshape(shape)
            if (i, pname) in old:
                layer.params[pname][...] = old[(i, pname)]
            if layer.frozen:
                self.n_frozen = offset + k
            elif pname in layer.decay:
                self.n_decay = offset + k - self.n_frozen
            offset += k
        self.entries = entries
        first_trainable = min((i for i, layer in enumerate(self.layers)
                               if layer.param_shapes() and not layer.frozen), default=len(self.layers))
        # no layer before the first trainable one needs its input gradient
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                layer.need_dx = i > first_trainable
        self._stop = first_trainable

    @property
    def trainable(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, gradients) of everything not frozen: one contiguous slice each."""
        return self.theta[self.n_frozen:], self.grad[self.n_frozen:]

    @property
    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, gradients) that take L1/L2 penalties: trainable weights only."""
        lo, hi = self.n_frozen, self.n_frozen + self.n_decay
        return self.theta[lo:hi], self.grad[lo:hi]

    def freeze(self, n_blocks: int) -> None:
        """Freeze the first ``n_blocks`` blocks; their parameters never change again."""
        for b, idx in enumerate(self.blocks):
            for i in idx:
                self.layers[i].frozen = b < n_blocks
        self._allocate()

    # -- compute
    def forward(self, x, training: bool = False):
        for layer in self.layers:
            x = layer.forward(x, training)
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
        state = {}
        for i, layer in enumerate(self.layers):
            for pname, arr in layer.params.items():
                state[f"{self.names[i]}.{pname}"] = arr.copy()
            for bname, arr in getattr(layer, "buffers", {}).items():
                state[f"{self.names[i]}.{bname}"] = arr.copy()
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> list[str]:
        """Copy matching arrays in; returns the names left at their initial values.

        ``strict`` demands every name with the same shape. Otherwise names or shapes that
        differ are skipped (transfer learning onto a new head).
        """
        skipped = []
        for i, layer in enumerate(self.layers):
            targets = {**layer.params, **getattr(layer, "buffers", {})}
            for pname, arr in targets.items():
                key = f"{self.names[i]}.{pname}"
                src = state.get(key)
                if src is None or src.shape != arr.shape:
                    if strict:
                        got = "missing" if src is None else f"shape {src.shape}"
                        raise ValueError(f"weights '{key}': expected shape {arr.shape}, got {got}")
                    skipped.append(key)
                    continue
                arr[...] = src
        return skipped


def _layer_names(layers) -> list[str]:
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        kind = type(layer).__name__.lower()
        counts[kind] = counts.get(kind, -1) + 1
        names.append(f"{kind}{counts[kind]}")
    return names


def build_mlp(n_in: int, hidden: list[int], n_out: int, *, activation="relu",
              output: str = "identity", dropout=0.0, batch_norm: bool = False, bias: bool = True,
              init: str | None = None, init_scale: float = 0.01, leaky_slope: float = 0.01,
              maxout_pieces: int = 2, dtype=np.float32, rng: np.random.Generator | None = None) -> Network:
    """``[n_in] + hidden + [n_out]`` dense layers; ``hidden=[]`` is linear/logistic regression.

    ``activation`` and ``dropout`` are one value for every hidden layer or one per layer.
    ``output`` is the head the network applies itself ("identity" when the loss is fused).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    acts = [activation] * len(hidden) if isinstance(activation, str) else list(activation)
    rates = [dropout] * len(hidden) if isinstance(dropout, (int, float)) else list(dropout)
    layers, blocks, width = [], [], n_in
    for units, act, rate in zip(hidden, acts, rates):
        f = make_activation(act, leaky_slope, maxout_pieces)
        f.build(units)
        start = len(layers)
        layers.append(Dense(width, units * f.width_factor, bias, init or DEFAULT_INIT, init_scale))
        if batch_norm:
            layers.append(BatchNorm(units * f.width_factor))
        layers.append(f)
        if rate > 0:
            layers.append(Dropout(rate, rng))
        blocks.append(list(range(start, len(layers))))
        width = units
    start = len(layers)
    layers.append(Dense(width, n_out, bias, init or DEFAULT_INIT, init_scale))
    if output != "identity":
        layers.append(lookup(OUTPUT_HEADS, output, "output head")())
    blocks.append(list(range(start, len(layers))))
    return Network(layers, blocks, dtype, rng)
