"""Conv2D: convolution over images as im2col and one matrix product per batch (or chunk).

The window geometry, the channels-last layout (forward returns an NCHW view of (batch, H, W, C)
memory) and the arrays reused from batch to batch are ``windows.py``'s, shared with the pooling
layers; this module holds what only convolution has: weights and bias, the im2col matrix, the
chunked evaluation that bounds memory, and the products that give dW, db and dx.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.nn.initializers import DEFAULT_INIT, INITIALIZERS
from nncli.nn.registry import lookup
from nncli.nn.windows import Windowed

EVAL_CHUNK = 1 << 22  # im2col entries per evaluation chunk: bounds memory when predicting large sets
FEW_CHANNELS = 1  # up to this many input channels im2col fills its matrix transposed (measured: at 3
# channels the one-window-per-row fill is already the faster; see Conv2D._im2col)


class Conv2D(Windowed):
    """z[n, f] = sum_c W[f, c] (*) x[n, c] + b[f]: cross-correlation, as PyTorch's Conv2d.

    W: (filters, C_in, kH, kW), PyTorch's and ONNX's layout; b: (filters,). ``padding`` is
    "valid" (none), "same" (output ceil(H / stride) x ceil(W / stride); when the total padding
    is odd the extra row/column goes at the bottom/right: TensorFlow's SAME and ONNX's
    SAME_UPPER, and PyTorch's padding="same" at stride 1), an int or an (pad_h, pad_w) pair of
    zeros on both sides. Initializers see fan_in = C_in*kH*kW and fan_out = filters*kH*kW.
    """

    kind = "conv2d"
    decay = ("W",)
    private_output = True

    def __init__(self, filters: int, kernel, stride=1, padding="valid", bias: bool = True,
                 init: str = DEFAULT_INIT, init_scale: float = 0.01):
        super().__init__(kernel, stride, padding)
        self.filters, self.bias = int(filters), bool(bias)
        self.init_name, self.init_scale = init, init_scale
        self.init = lookup(INITIALIZERS, init, "initializer")

    def build(self, input_shape):
        super().build(input_shape)
        self.transposed_cols = self.input_shape[0] <= FEW_CHANNELS
        return (self.filters, *self.out_hw)

    def param_shapes(self):
        shapes = {"W": (self.filters, self.input_shape[0], *self.kernel)}
        if self.bias:
            shapes["b"] = (self.filters,)
        return shapes

    def init_params(self, rng):
        area = self.kernel[0] * self.kernel[1]
        W = self.params["W"]
        W[...] = self.init(rng, self.input_shape[0] * area, self.filters * area, W.shape, self.init_scale)
        if self.bias:
            self.params["b"][...] = 0

    def macs(self):
        return self.filters * self.input_shape[0] * self.kernel[0] * self.kernel[1] * math.prod(self.out_hw)

    def describe(self):
        return self._describe(f"conv2d {self.filters}", (1, 1))

    def _im2col(self, x, dtype):
        """x: (m, C, H, W) -> cols: (m*Ho*Wo, kH*kW*C [+ 1]), one window per row in (i, j, c)
        order, then a column of ones when there is a bias: the forward product then adds b, and
        the product that gives dW gives db beside it.

        With few channels the windows' rows are short, so cols is filled transposed instead:
        row (i, j, c) of cols.T is a shifted image, a long contiguous copy. Its buffer then has
        the batch's exact size (BLAS needs a contiguous operand; a view of a larger one is copied).
        """
        xp = self._pad(x.transpose(0, 2, 3, 1), 0, dtype)
        m, (ho, wo), (kh, kw), c = len(x), self.out_hw, self.kernel, self.input_shape[0]
        k, windows = kh * kw * c, self._windows(xp)  # windows: (m, Ho, Wo, kH, kW, C)
        if self.transposed_cols:
            cols_t = self.ws.get("cols_t", (k + self.bias, m, ho, wo), dtype, exact=True)
            np.copyto(cols_t[:k].reshape(kh, kw, c, m, ho, wo), windows.transpose(3, 4, 5, 0, 1, 2))
            if self.bias:
                cols_t[k] = 1
            return cols_t.reshape(k + self.bias, m * ho * wo).T
        cols = self.ws.get("cols", (m, ho, wo, k + self.bias), dtype)
        np.copyto(cols[..., :k].reshape(m, ho, wo, kh, kw, c), windows)
        if self.bias:
            cols[..., k] = 1
        return cols.reshape(m * ho * wo, k + self.bias)

    def forward(self, x, training=False):
        # x: (batch, C, H, W) -> z: (batch, F, Ho, Wo), an NCHW view of (batch, Ho, Wo, F) memory
        W = self.params["W"]
        n, f, (ho, wo), dtype = len(x), self.filters, self.out_hw, W.dtype
        p, k = ho * wo, W[0].size
        # wk: (F, K [+ 1]), the weights in im2col's column order (F, kH, kW, C), then b
        wk = self.ws.get("wk", (f, k + self.bias), dtype)
        np.copyto(wk[:, :k].reshape(f, *self.kernel, -1), W.transpose(0, 2, 3, 1))
        if self.bias:
            wk[:, k] = self.params["b"]
        z = np.empty((n * p, f), dtype)
        # training keeps the whole batch's columns for backward; evaluation may go in chunks
        rows = max(1, n if training or n * p * k <= EVAL_CHUNK else EVAL_CHUNK // (p * k))
        for lo in range(0, max(n, 1), rows):  # at least once: an empty batch has empty columns too
            hi = min(lo + rows, n)
            self.cols = self._im2col(x[lo:hi], dtype)
            np.dot(self.cols, wk.T, out=z[lo * p:hi * p])  # z = cols @ W.T + b: (m*Ho*Wo, F)
        self.x, self.kept = x, rows >= n
        return z.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)

    def backward(self, dout):
        # dout: (batch, F, Ho, Wo) -> dx: (batch, C, H, W)
        W = self.params["W"]
        n, f, dtype = len(dout), self.filters, W.dtype
        dz = dout.transpose(0, 2, 3, 1)  # (batch, Ho, Wo, F): a view when dout came from these layers
        if not dz.flags.c_contiguous or dz.dtype != dtype:
            buf = self.ws.get("dz", dz.shape, dtype)
            np.copyto(buf, dz)
            dz = buf
        dz = dz.reshape(-1, f)
        if not self.frozen:
            cols = self.cols if self.kept else self._im2col(self.x, dtype)
            k = W[0].size
            dwk = self.ws.get("dwk", (f, k + self.bias), dtype)
            np.dot(dz.T, cols, out=dwk)  # [dW | db] = dz.T @ [cols | 1]: (F, K [+ 1])
            np.copyto(self.grads["W"], dwk[:, :k].reshape(f, *self.kernel, -1).transpose(0, 3, 1, 2))
            if self.bias:
                self.grads["b"][...] = dwk[:, k]
        if not self.need_input_grad:
            return None
        # dcols = dz @ W, computed as one (batch*Ho*Wo, C) block per window entry (i, j): a stack
        # of products dz @ W[:, :, i, j] whose blocks col2im then reads contiguously
        c, area = self.input_shape[0], self.kernel[0] * self.kernel[1]
        w_ij = self.ws.get("w_ij", (area, f, c), dtype)
        np.copyto(w_ij.reshape(*self.kernel, f, c), W.transpose(2, 3, 0, 1))
        dcols = self.ws.get("dcols", (area, len(dz), c), dtype, exact=True)  # batch not first: no prefix views
        np.matmul(dz, w_ij, out=dcols)  # (kH*kW, batch*Ho*Wo, C)
        dxp = self._grad_buffer(n, dtype)
        for k in range(area):
            self._scatter(dxp, k, dcols[k].reshape(n, *self.out_hw, c))
        return self._unpad(dxp)
