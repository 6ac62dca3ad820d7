"""Pooling over images: MaxPool2D and AvgPool2D, windows reduced to their maximum or mean.

They have no parameters and share one padding rule (at most half the window, as PyTorch). The
window geometry, the channels-last layout (forward returns an NCHW view of (batch, H, W, C)
memory) and the arrays reused from batch to batch are ``windows.py``'s, shared with Conv2D;
this module holds the reductions and their gradients, which convolution has no use for.
"""

from __future__ import annotations

import numpy as np

from nncli.nn.windows import Windowed


class _Pool(Windowed):
    """A pooling window: ``pool`` an int or (pH, pW); ``stride`` defaults to ``pool``;
    ``padding`` an int or (pad_h, pad_w) pair on both sides, at most half the window
    (PyTorch's rule, so no window lies wholly in the padding). Output floor((H + 2p - k) / s) + 1."""

    private_output = True

    def __init__(self, pool, stride=None, padding=0):
        if isinstance(padding, str):
            raise ValueError(f"{self.kind} padding must be an int or a pair of ints, got {padding!r}")
        super().__init__(pool, stride, padding)

    def build(self, input_shape):
        super().build(input_shape)
        pt, pb, pl, pr = self.pads
        kh, kw = self.kernel
        if max(pt, pb) > kh // 2 or max(pl, pr) > kw // 2:
            raise ValueError(f"{self.kind} padding {self.padding} is more than half the {kh}x{kw} window")
        return (self.input_shape[0], *self.out_hw)

    def describe(self):
        return self._describe(self.kind, self.kernel)


class MaxPool2D(_Pool):
    """a = max over each window; padding counts as -inf. The gradient goes to one input per
    window: the first maximum in row-major window order (as PyTorch on the CPU), so ties are
    deterministic."""

    kind = "maxpool2d"

    def forward(self, x, training=False):
        # x: (batch, C, H, W) -> a: (batch, C, Ho, Wo), an NCHW view of (batch, Ho, Wo, C) memory
        xp = self._pad(x.transpose(0, 2, 3, 1), -np.inf, x.dtype, contiguous=False)
        n, (ho, wo), c = len(x), self.out_hw, self.input_shape[0]
        a = np.empty((n, ho, wo, c), x.dtype)
        # arg: which window entry won, kept for backward. A later entry wins only if strictly
        # greater, so arg ends as the last k that beat everything before it: max over k of k*better
        arg_type = np.uint8 if len(self.offsets) < 256 else np.intp
        self.arg = self.ws.get("arg", a.shape, arg_type)
        better = self.ws.get("better", a.shape, bool)
        k_better = self.ws.get("k_better", a.shape, arg_type)
        np.copyto(a, self._offset(xp, 0, 0))
        self.arg.fill(0)
        for k, (i, j) in enumerate(self.offsets[1:], 1):
            v = self._offset(xp, i, j)
            np.greater(v, a, out=better)
            np.maximum(a, v, out=a)
            np.multiply(better, arg_type(k), out=k_better)
            np.maximum(self.arg, k_better, out=self.arg)
        return a.transpose(0, 3, 1, 2)

    def backward(self, dout):
        # dout: (batch, C, Ho, Wo) -> dx: (batch, C, H, W); dx = dout at each window's winner, else 0
        if not self.need_input_grad:
            return None
        dt = dout.transpose(0, 2, 3, 1)
        dxp = self._grad_buffer(len(dout), dout.dtype)
        won, g = self.ws.get("better", dt.shape, bool), self.ws.get("g", dt.shape, dout.dtype)
        for k in range(len(self.offsets)):
            np.equal(self.arg, k, out=won)
            if self.tiles:  # straight into place: each input cell is in one window
                np.multiply(dt, won, out=self._offset(dxp, *self.offsets[k]))
            else:
                np.multiply(dt, won, out=g)
                self._scatter(dxp, k, g)
        return self._unpad(dxp)


class AvgPool2D(_Pool):
    """a = mean over each window. ``count_include_pad=True`` (PyTorch's default) divides by the
    window's area, padding zeros included; False divides by the number of real pixels in the
    window (ONNX's default, and Keras's with "same" padding)."""

    kind = "avgpool2d"

    def __init__(self, pool, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(pool, stride, padding)
        self.count_include_pad = bool(count_include_pad)

    def build(self, input_shape):
        out = super().build(input_shape)
        (kh, kw), (sh, sw), (ho, wo) = self.kernel, self.stride, self.out_hw
        pt, _, pl, _ = self.pads
        _, h, w = self.input_shape
        if self.count_include_pad or not any(self.pads):
            self.scale = 1.0 / (kh * kw)  # a Python float keeps the batch's dtype
        else:  # real pixels per window: rows in it times columns in it
            rows = [min(o * sh + kh, pt + h) - max(o * sh, pt) for o in range(ho)]
            cols = [min(o * sw + kw, pl + w) - max(o * sw, pl) for o in range(wo)]
            self.scale = 1.0 / np.outer(rows, cols)[:, :, None]  # (Ho, Wo, 1)
        return out

    def _scale(self, dtype):
        return self.scale if isinstance(self.scale, float) else self.scale.astype(dtype)

    def forward(self, x, training=False):
        # x: (batch, C, H, W) -> a: (batch, C, Ho, Wo), an NCHW view of (batch, Ho, Wo, C) memory
        xp = self._pad(x.transpose(0, 2, 3, 1), 0, x.dtype, contiguous=False)
        a = np.empty((len(x), *self.out_hw, self.input_shape[0]), x.dtype)
        np.copyto(a, self._offset(xp, 0, 0))
        for i, j in self.offsets[1:]:
            np.add(a, self._offset(xp, i, j), out=a)
        a *= self._scale(x.dtype)
        return a.transpose(0, 3, 1, 2)

    def backward(self, dout):
        # dout: (batch, C, Ho, Wo) -> dx: (batch, C, H, W); each window entry gets dout * scale
        if not self.need_input_grad:
            return None
        dt = dout.transpose(0, 2, 3, 1)
        g = np.multiply(dt, self._scale(dout.dtype), out=self.ws.get("g", dt.shape, dout.dtype))
        dxp = self._grad_buffer(len(dout), dout.dtype)
        for k in range(len(self.offsets)):
            self._scatter(dxp, k, g)
        return self._unpad(dxp)
