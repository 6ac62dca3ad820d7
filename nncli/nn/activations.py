"""Activations, each with its derivative right beside it.

Every activation is a layer (``layers.Layer``): ``forward(z, training)`` keeps what
``backward`` needs and ``backward(da)`` returns dL/dz. ``backward`` may overwrite ``da`` in
place: the caller never reuses it. Activations with learned parameters (prelu; maxout's pieces
live in the Dense layer before it) declare them in ``param_shapes`` like any other layer.
"""

from __future__ import annotations

import math

import numpy as np
from nncli.nn.layers import Layer
from nncli.nn.registry import lookup


# scipy.special is imported by the activations that use it, when they first run: importing it
# costs more than training a small network, and most networks never need it
def expit(z):
    from scipy.special import expit as _expit

    return _expit(z)


def erf(z):
    from scipy.special import erf as _erf

    return _erf(z)


class Activation(Layer):
    """An elementwise layer: no parameters (unless it says so), same shape in and out."""

    width_factor = 1  # how many pre-activation units feed one output unit (maxout: k)

    def describe(self):
        return self.kind


class Identity(Activation):
    kind = "identity"

    def forward(self, z, training=False):
        return z

    def backward(self, da):
        return da


class Sigmoid(Activation):
    kind = "sigmoid"

    def forward(self, z, training=False):
        self.a = expit(z)
        return self.a

    def backward(self, da):
        # sigma'(z) = a (1 - a)
        da *= self.a
        da *= 1 - self.a
        return da


class Tanh(Activation):
    kind = "tanh"

    def forward(self, z, training=False):
        self.a = np.tanh(z)
        return self.a

    def backward(self, da):
        # tanh'(z) = 1 - a^2
        da *= 1 - self.a * self.a
        return da


class ReLU(Activation):
    kind = "relu"
    inplace = private_output = True

    def forward(self, z, training=False):
        # z is the layer's own fresh output: zero its negatives in place; the mask is also
        # the derivative (a compare and a multiply beat np.maximum here)
        self.mask = z > 0
        return np.multiply(z, self.mask, out=z)

    def backward(self, da):
        # relu'(z) = 1 where z > 0, else 0
        da *= self.mask
        return da


class LeakyReLU(Activation):
    kind = "leaky_relu"
    private_output = True

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = slope

    def forward(self, z, training=False):
        self.neg = z < 0
        a = z.copy()
        a[self.neg] *= self.slope
        return a

    def backward(self, da):
        da[self.neg] *= self.slope
        return da


class PReLU(Activation):
    """Leaky ReLU whose negative slope ``alpha`` (one per unit, or per channel of an image)
    is learned, as PyTorch's PReLU(num_parameters=C)."""

    kind = "prelu"
    private_output = True

    def __init__(self, slope: float = 0.25):
        super().__init__()
        self.slope, self.n = slope, 0

    def build(self, input_shape):
        self.input_shape = tuple(input_shape)
        self.n = int(input_shape[0])
        self.axes = (0,) + tuple(range(2, len(input_shape) + 1))  # the batch and the pixels
        return self.input_shape

    def param_shapes(self):
        return {"alpha": (self.n,)}

    def init_params(self, rng):
        self.params["alpha"][...] = self.slope

    def _alpha(self):
        return self.params["alpha"].reshape((self.n,) + (1,) * (len(self.input_shape) - 1))

    def forward(self, z, training=False):
        # z: (batch, n) or (batch, C, H, W)
        self.z = z
        self.neg = z < 0
        return np.where(self.neg, self._alpha() * z, z)

    def backward(self, da):
        # dL/dalpha = sum over the batch (and pixels) of da * z where z < 0
        if not self.frozen:
            np.sum(np.where(self.neg, da * self.z, 0), axis=self.axes, out=self.grads["alpha"])
        return np.where(self.neg, da * self._alpha(), da) if self.need_input_grad else None


class ELU(Activation):
    kind = "elu"

    def forward(self, z, training=False):
        self.pos = z > 0
        self.a = np.where(self.pos, z, np.expm1(np.minimum(z, 0)))
        return self.a

    def backward(self, da):
        # elu'(z) = 1 for z > 0, a + 1 otherwise
        return np.where(self.pos, da, da * (self.a + 1))


class Softplus(Activation):
    kind = "softplus"
    private_output = True

    def forward(self, z, training=False):
        self.z = z
        return np.logaddexp(0, z)

    def backward(self, da):
        # softplus'(z) = sigmoid(z)
        da *= expit(self.z)
        return da


class GELU(Activation):
    """Exact GELU, z * Phi(z), as PyTorch's default."""

    kind = "gelu"
    private_output = True

    def forward(self, z, training=False):
        self.z = z
        self.cdf = 0.5 * (1 + erf(z * math.sqrt(0.5)))
        return z * self.cdf

    def backward(self, da):
        # gelu'(z) = Phi(z) + z phi(z)
        pdf = np.exp(-0.5 * self.z * self.z) * (1 / math.sqrt(2 * math.pi))  # Python floats keep float32
        da *= self.cdf + self.z * pdf
        return da


class Maxout(Activation):
    """Max over ``k`` linear pieces per unit: the Dense before it has k times the units."""

    kind = "maxout"
    private_output = True

    def __init__(self, k: int = 2):
        super().__init__()
        self.k = self.width_factor = k

    def build(self, input_shape):
        if len(input_shape) != 1 or input_shape[0] % self.k:
            raise ValueError(f"maxout with {self.k} pieces expects flat samples whose width is a "
                             f"multiple of {self.k}, got shape {tuple(input_shape)}")
        self.input_shape = tuple(input_shape)
        return (input_shape[0] // self.k,)

    def describe(self):
        return f"maxout {self.k}"

    def forward(self, z, training=False):
        # z: (batch, units * k) -> (batch, units, k) -> a: (batch, units)
        zk = z.reshape(z.shape[0], -1, self.k)
        self.arg = zk.argmax(axis=2)[..., None]
        self.shape = zk.shape
        return np.take_along_axis(zk, self.arg, axis=2)[..., 0]

    def backward(self, da):
        # the gradient flows only to the piece that won
        dz = np.zeros(self.shape, dtype=da.dtype)
        np.put_along_axis(dz, self.arg, da[..., None], axis=2)
        return dz.reshape(self.shape[0], -1)


class Softmax(Activation):
    """Softmax output head, for losses that are not fused with it."""

    kind = "softmax"

    def forward(self, z, training=False):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.a = e / e.sum(axis=1, keepdims=True)
        return self.a

    def backward(self, da):
        # Jacobian-vector product: a * (da - sum(da * a))
        return self.a * (da - (da * self.a).sum(axis=1, keepdims=True))


# Hidden-layer activations by config name. ``leaky_slope`` and ``maxout_pieces`` are the
# only knobs; ``make_activation`` passes them to the classes that take them.
ACTIVATIONS = {
    "identity": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "elu": ELU,
    "softplus": Softplus,
    "gelu": GELU,
    "maxout": Maxout,
}

# Output heads applied by the network when the loss is not fused with them.
OUTPUT_HEADS = {"identity": Identity, "sigmoid": Sigmoid, "softmax": Softmax}


def make_activation(name: str, leaky_slope: float = 0.01, maxout_pieces: int = 2) -> Activation:
    cls = lookup(ACTIVATIONS, name, "activation")
    if cls is LeakyReLU:
        return LeakyReLU(leaky_slope)
    if cls is PReLU:
        return PReLU(leaky_slope)
    if cls is Maxout:
        return Maxout(maxout_pieces)
    return cls()
