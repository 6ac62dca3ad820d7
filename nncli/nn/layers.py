"""The layer contract, and the dense-network layers: Dense, Dropout, BatchNorm, Flatten.

Every layer derives from ``Layer`` and is used by ``Network`` only through this contract, so a
new kind (a convolution, a reshape) plugs in by implementing it; nothing else changes.

- ``build(input_shape) -> output_shape``: told the shape of one sample (no batch axis) before
  any parameter exists; returns the shape of one output sample.
- ``param_shapes() -> {name: shape}``: the trainable parameters. The network allocates them as
  views into its one flat vector ``theta`` (and ``grad``) and sets ``params``/``grads``.
- ``init_params(rng)``: fill ``params`` in place from the generator.
- ``init_buffers(dtype)``: create ``buffers``, state that is not trained but saved with the
  weights (batch norm's running statistics).
- ``decay``: the parameter names that take weight penalties (weights, never biases).
- ``forward(x, training) -> out`` keeps what ``backward`` needs.
- ``backward(dout) -> dx``: returns dL/dx (``None`` when ``need_input_grad`` is False) and
  *writes*, never accumulates, each parameter's gradient into ``grads``; a frozen layer writes
  none. ``backward`` may overwrite ``dout``: the caller never reuses it.
- ``inplace``: forward may overwrite its input. The network hands such a layer a private copy
  unless the layer before it declares ``private_output`` (its output is a fresh array that
  nothing else keeps).
- ``random``: the layer draws random numbers in training. The network gives it its own
  generator, ``rng``, spawned from the seed; its state is saved in checkpoints, so adding a
  random layer never disturbs another consumer's stream.
- ``kind``: the stable name used for saved weight keys (``dense0.W``): a file format, not the
  Python class name.
- ``macs(input_shape)``: multiply-adds per sample, for summaries.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.nn.initializers import DEFAULT_INIT, INITIALIZERS
from nncli.nn.registry import lookup


class Layer:
    """Base of every layer: no parameters, no buffers, shape kept (see the module docstring)."""

    kind = "layer"
    decay: tuple[str, ...] = ()
    inplace = False
    private_output = False
    random = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.frozen = False
        self.need_input_grad = True
        self.rng: np.random.Generator | None = None
        self.input_shape: tuple[int, ...] = ()

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        return self.input_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def init_params(self, rng: np.random.Generator) -> None:
        pass

    def init_buffers(self, dtype) -> None:
        pass

    def macs(self) -> int:
        return 0

    def forward(self, x, training: bool = False):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def describe(self) -> str:
        """A short description for summaries ("relu", "dropout 0.2", ...)."""
        return self.kind


class Dense(Layer):
    """z = x @ W + b, with W: (n_in, units)."""

    kind = "dense"
    decay = ("W",)
    private_output = True

    def __init__(self, units: int, bias: bool = True, init: str = DEFAULT_INIT, init_scale: float = 0.01):
        super().__init__()
        self.units, self.bias = int(units), bias
        self.init_name = init
        self.init = lookup(INITIALIZERS, init, "initializer")
        self.init_scale = init_scale
        self.n_in = 0
        self._ones = np.ones(0)

    def build(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"dense expects flat samples, got shape {tuple(input_shape)} (add a flatten layer)")
        self.input_shape = tuple(input_shape)
        self.n_in = int(input_shape[0])
        return (self.units,)

    def param_shapes(self):
        shapes = {"W": (self.n_in, self.units)}
        if self.bias:
            shapes["b"] = (self.units,)
        return shapes

    def init_params(self, rng):
        W = self.params["W"]
        W[...] = self.init(rng, self.n_in, self.units, W.shape, self.init_scale)
        if self.bias:
            self.params["b"][...] = 0

    def macs(self):
        return self.n_in * self.units

    def describe(self):
        return f"dense {self.units}"

    def forward(self, x, training=False):
        # x: (batch, n_in) -> z: (batch, units)
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
                if len(self._ones) != len(dz) or self._ones.dtype != dz.dtype:
                    self._ones = np.ones(len(dz), dz.dtype)
                np.dot(self._ones, dz, out=self.grads["b"])
        return np.dot(dz, self.params["W"].T) if self.need_input_grad else None  # dx = dz @ W.T


class Dropout(Layer):
    """Inverted dropout: scale kept units by 1/(1-rate) in training, identity at evaluation."""

    kind = "dropout"
    random = True

    def __init__(self, rate: float):
        super().__init__()
        self.rate = float(rate)
        self.fixed_mask = None  # set by gradient checks to differentiate with a known mask

    def describe(self):
        return f"dropout {self.rate:g}"

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


class BatchNorm(Layer):
    """Normalise each feature (each channel, for images) over the batch, then scale by gamma
    and shift by beta.

    Training uses batch statistics and updates running ones (PyTorch's momentum 0.1 and
    unbiased running variance); evaluation, and a frozen layer, use the running ones. For
    samples of shape (C, H, W) the statistics are per channel, over the batch and the pixels.
    """

    kind = "batchnorm"
    private_output = True

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.n = 0

    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.n = int(input_shape[0])
        # axes reduced over: the batch, and the pixels of image samples
        self.axes = (0,) + tuple(range(2, len(input_shape) + 1))
        return self.input_shape

    def _shaped(self, v):
        """A per-feature vector shaped to broadcast against (batch, C, ...)."""
        return v.reshape((self.n,) + (1,) * (len(self.input_shape) - 1))

    def param_shapes(self):
        return {"gamma": (self.n,), "beta": (self.n,)}

    def init_params(self, rng):
        self.params["gamma"][...] = 1
        self.params["beta"][...] = 0

    def init_buffers(self, dtype):
        self.buffers = {"running_mean": np.zeros(self.n, dtype), "running_var": np.ones(self.n, dtype)}

    def macs(self):
        return 2 * math.prod(self.input_shape)

    def forward(self, x, training=False):
        # x: (batch, n) or (batch, C, H, W); statistics per feature / channel
        self.training = training and not self.frozen
        if self.training:
            mu = x.mean(axis=self.axes)
            var = x.var(axis=self.axes)
            m, count = self.momentum, x.size // self.n
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            rm *= 1 - m
            rm += m * mu
            rv *= 1 - m
            rv += (m * count / max(count - 1, 1)) * var
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        self.inv_std = self._shaped(1.0 / np.sqrt(var + self.eps))
        self.xhat = (x - self._shaped(mu)) * self.inv_std
        return self.xhat * self._shaped(self.params["gamma"]) + self._shaped(self.params["beta"])

    def backward(self, dout):
        ax = self.axes
        if not self.frozen:
            np.sum(dout * self.xhat, axis=ax, out=self.grads["gamma"])
            np.sum(dout, axis=ax, out=self.grads["beta"])
        dxhat = dout * self._shaped(self.params["gamma"])
        if not self.training:
            return dxhat * self.inv_std
        # dx = inv_std / N * (N dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), N samples per feature
        n = dout.size // self.n
        return (self.inv_std / n) * (
            n * dxhat - dxhat.sum(axis=ax, keepdims=True)
            - self.xhat * (dxhat * self.xhat).sum(axis=ax, keepdims=True))


class Flatten(Layer):
    """(batch, C, H, W) -> (batch, C*H*W), the order PyTorch and ONNX use."""

    kind = "flatten"

    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.size = math.prod(input_shape)
        return (self.size,)

    def forward(self, x, training=False):
        # x: (batch, C, H, W) -> (batch, C*H*W); a copy when x is a channels-last view (windows.py)
        return x.reshape(len(x), self.size)  # the size, not -1: an empty batch has no -1

    def backward(self, dout):
        return dout.reshape((len(dout),) + self.input_shape)
