"""Losses, each with its gradient beside it.

``forward(out, y, w=None)`` returns the mean loss over the batch as a Python float and keeps
what ``backward()`` needs; ``backward()`` returns dL/dout with the 1/batch already applied.
``w`` are per-sample weights (class weights arrive here as per-sample weights): the loss is
``sum_i w_i l_i / batch``, as in Keras.

Cross-entropies are fused with their output head and take logits: the gradient of
softmax + cross-entropy w.r.t. the logits is ``softmax(z) - onehot(y)``, and of sigmoid +
binary cross-entropy ``sigmoid(z) - y``. That identity holds only for these matched pairs,
which is why the network applies no output activation when such a loss is used.
"""

from __future__ import annotations

import numpy as np

from nncli.nn.registry import lookup


def _expit(z):
    from scipy.special import expit  # imported on first use: only sigmoid heads need it

    return expit(z)


class Loss:
    fused_head = None  # name of the output head folded into this loss, if any
    threshold = 0.5  # decision threshold on a single output column

    def link(self, out):
        """Map the network's output to predictions (probabilities or values)."""
        return out

    def _weighted_mean(self, per_sample, w):
        # add.reduce / n rather than .mean(): the same number for a fraction of the call cost
        if w is None:
            return float(np.add.reduce(per_sample)) / len(per_sample)
        return float(per_sample @ w) / len(per_sample)

    def _scale(self, grad, w, n):
        grad *= 1.0 / n
        if w is not None:
            grad *= w.reshape(-1, *([1] * (grad.ndim - 1)))
        return grad


class SoftmaxCrossEntropy(Loss):
    """y: integer class codes (batch,); out: logits (batch, classes)."""

    fused_head = "softmax"

    def link(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    row_starts = ones = np.zeros(0)

    def forward(self, z, y, w=None):
        # z: (batch, classes). log sum exp z = m + log sum exp(z - m): finite for any finite z.
        # m is the batch's largest logit (one cheap reduction); only if some row lies so far
        # below it that its exponentials would lose precision, each row is shifted by its own max.
        n, c = z.shape
        if self.row_starts.shape != (n,) or len(self.ones) != c or self.ones.dtype != z.dtype:
            self.row_starts = np.arange(0, n * c, c)
            self.ones = np.ones(c, z.dtype)
        self.flat = self.row_starts + y  # index of each sample's true-class logit in z.ravel()
        m = z.max()
        e = np.subtract(z, m)
        np.exp(e, out=e)
        s = e @ self.ones  # row sums as a matrix-vector product: faster than a reduction
        if s.min() < 1e-20:
            m = z.max(axis=1)
            np.subtract(z, m[:, None], out=e)
            np.exp(e, out=e)
            s = e @ self.ones
        picked = z.ravel().take(self.flat)
        picked -= m  # z_y - m first: exact when they are close, whatever their size
        per_sample = np.log(s)
        per_sample -= picked
        np.maximum(per_sample, 0, out=per_sample)  # >= 0 in exact arithmetic; rounding can dip below
        # keep softmax / n: the gradient below then needs no second pass to apply the 1/n
        s *= n
        e /= s[:, None]
        self.p, self.n, self.w = e, n, w
        return self._weighted_mean(per_sample, w)

    def backward(self):
        # d loss / d z = (softmax(z) - onehot(y)) / n, and self.p already holds softmax(z) / n
        grad = self.p
        grad.ravel()[self.flat] -= 1.0 / self.n
        if self.w is not None:
            grad *= self.w[:, None]
        return grad


class SigmoidBinaryCrossEntropy(Loss):
    """y: 0/1 targets shaped like out (batch, k); out: logits."""

    fused_head = "sigmoid"
    threshold = 0.0  # on logits

    def link(self, z):
        return _expit(z)

    def forward(self, z, y, w=None):
        # log(1 + exp(-|z|)) + max(z, 0) - z y: finite for any finite z
        self.z, self.y, self.w = z, y, w
        per_elem = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return self._weighted_mean(per_elem.mean(axis=1), w)

    def backward(self):
        grad = _expit(self.z) - self.y
        return self._scale(grad, self.w, self.z.size)


class MSE(Loss):
    """Mean over all elements of (out - y)^2 (PyTorch's and Keras's MSE)."""

    def forward(self, out, y, w=None):
        self.diff, self.w = out - y, w
        return self._weighted_mean((self.diff * self.diff).mean(axis=1), w)

    def backward(self):
        return self._scale(2 * self.diff, self.w, self.diff.size)


class SSE(Loss):
    """E = 1/2 sum_n (y_n - y_hat_n)^2, summed over the batch (the notes' regression network)."""

    def forward(self, out, y, w=None):
        self.diff, self.w = out - y, w
        per_sample = 0.5 * (self.diff * self.diff).sum(axis=1)
        return float(per_sample.sum() if w is None else per_sample @ w)

    def backward(self):
        grad = self.diff.copy()
        return self._scale(grad, self.w, 1)


class MAE(Loss):
    """Mean over all elements of |out - y|; its subgradient is sign(out - y)."""

    def forward(self, out, y, w=None):
        self.diff, self.w = out - y, w
        return self._weighted_mean(np.abs(self.diff).mean(axis=1), w)

    def backward(self):
        return self._scale(np.sign(self.diff), self.w, self.diff.size)


class Huber(Loss):
    """Quadratic within ``delta`` of the target, linear beyond (PyTorch's HuberLoss)."""

    def __init__(self, delta: float = 1.0):
        self.delta = delta

    def forward(self, out, y, w=None):
        self.diff, self.w = out - y, w
        a = np.abs(self.diff)
        per_elem = np.where(a <= self.delta, 0.5 * a * a, self.delta * (a - 0.5 * self.delta))
        return self._weighted_mean(per_elem.mean(axis=1), w)

    def backward(self):
        grad = np.clip(self.diff, -self.delta, self.delta)
        return self._scale(grad, self.w, self.diff.size)


LOSSES = {
    "cross_entropy": SoftmaxCrossEntropy,
    "binary_cross_entropy": SigmoidBinaryCrossEntropy,
    "mse": MSE,
    "mae": MAE,
    "sse": SSE,
    "huber": Huber,
}


def make_loss(name: str, huber_delta: float = 1.0) -> Loss:
    cls = lookup(LOSSES, name, "loss")
    return Huber(huber_delta) if cls is Huber else cls()
