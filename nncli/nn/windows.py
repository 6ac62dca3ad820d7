"""What Conv2D and the pooling layers share: a kH x kW window moved by a stride over padded
images (``Windowed``), and the ``Workspace`` of arrays reused from batch to batch.

Samples are (C, H, W) and batches (batch, C, H, W), PyTorch's and ONNX's NCHW order. Inside,
these layers keep images channels-last in memory: each returns an NCHW *view* of a
(batch, H, W, C) array. That makes im2col a copy of contiguous runs of kW*C values and each
convolution one matrix product whose result needs no transpose; the next conv or pool reads
its input the same way, and ``Flatten`` copies into PyTorch's (C, H, W) order.

Arrays a layer needs only during one step (the padded input, the im2col matrix, the gradient
of the padded input) live in a ``Workspace``, allocated once for the largest batch seen and
reused as views of its first rows. Every step rewrites all it reads of such an array before
reading it, except padding borders (zeros, -inf), which are written once at allocation and
never exposed; so no value leaks from one batch into the next. Forward outputs are fresh
arrays (the next layer may overwrite them in place); ``backward`` may return a view into the
workspace, valid until the layer's next ``backward``.

A module of its own because convolution (``conv.py``) and pooling (``pooling.py``) both stand on
it: the window geometry (kernel, stride, padding, output size), the strided views that read
every window entry at once, and the scatter of gradients back into the padded input.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nncli.nn.layers import Layer


def _pair(v, what: str) -> tuple[int, int]:
    a, b = (v, v) if np.ndim(v) == 0 else tuple(v)
    if int(a) != a or int(b) != b or a < 1 or b < 1:
        raise ValueError(f"{what} must be a positive integer or a pair of them, got {v!r}")
    return int(a), int(b)


def _check_padding(padding):
    """"valid", "same", or (pad_h, pad_w) from an int or a pair of non-negative ints."""
    if isinstance(padding, str):
        if padding in ("valid", "same"):
            return padding
    else:
        try:
            ph, pw = (padding, padding) if np.ndim(padding) == 0 else tuple(padding)
            if int(ph) == ph >= 0 and int(pw) == pw >= 0:
                return int(ph), int(pw)
        except (TypeError, ValueError):
            pass
    raise ValueError(f"padding must be 'valid', 'same', or a non-negative int or pair, got {padding!r}")


def _padding(padding, size, kernel, stride) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for a checked padding on images of ``size``."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        # TensorFlow's SAME = ONNX's SAME_UPPER: out = ceil(in / stride), the odd pixel at the end
        pads = []
        for n, k, s in zip(size, kernel, stride):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    return padding[0], padding[0], padding[1], padding[1]


def _image_shape(layer, input_shape) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"{layer.kind} expects (channels, height, width) samples, "
                         f"got shape {tuple(input_shape)}")
    return tuple(int(s) for s in input_shape)


class Workspace:
    """Arrays reused from batch to batch, by name; batches up to the largest seen get views of
    the first rows (unless ``exact``). ``init`` fills an array once, when allocated (padding
    that is never written)."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape, dtype, init=None, exact: bool = False) -> np.ndarray:
        a = self.arrays.get(name)
        if a is None or a.shape[1:] != tuple(shape[1:]) or a.dtype != dtype or \
                (a.shape[0] != shape[0] if exact else a.shape[0] < shape[0]):
            a = np.empty(shape, dtype) if init is None else np.full(shape, init, dtype)
            self.arrays[name] = a
        return a[:shape[0]]


class Windowed(Layer):
    """What Conv2D and the pools share: a kH x kW window moved by a stride over padded images."""

    def __init__(self, kernel, stride, padding):
        super().__init__()
        self.kernel = _pair(kernel, "kernel size")
        self.stride = self.kernel if stride is None else _pair(stride, "stride")
        self.padding = _check_padding(padding)
        self.ws = Workspace()

    def build(self, input_shape):
        self.input_shape = (C, H, W) = _image_shape(self, input_shape)
        (kh, kw), (sh, sw) = self.kernel, self.stride
        self.pads = pt, pb, pl, pr = _padding(self.padding, (H, W), self.kernel, self.stride)
        self.padded = (H + pt + pb, W + pl + pr)
        self.out_hw = ((H + pt + pb - kh) // sh + 1, (W + pl + pr - kw) // sw + 1)
        if min(self.out_hw) < 1:
            raise ValueError(f"{self.kind} window {kh}x{kw} is larger than the padded "
                             f"{H + pt + pb}x{W + pl + pr} image")
        # windows that cover the padded image exactly once: a gradient then writes every cell once
        self.tiles = self.stride == self.kernel and self.padded == (self.out_hw[0] * kh, self.out_hw[1] * kw)
        self.offsets = [(i, j) for i in range(kh) for j in range(kw)]
        return self.input_shape

    def _windows(self, xp):
        """(batch, Ho, Wo, kH, kW, C) read-only view of the windows of xp: (batch, Hp, Wp, C)."""
        (ho, wo), (kh, kw), (sh, sw) = self.out_hw, self.kernel, self.stride
        s0, s1, s2, s3 = xp.strides
        return as_strided(xp, (len(xp), ho, wo, kh, kw, xp.shape[3]),
                          (s0, s1 * sh, s2 * sw, s1, s2, s3), writeable=False)

    def _offset(self, a, i, j):
        """Entry (i, j) of every window: a (batch, Ho, Wo, C) strided view of a: (batch, Hp, Wp, C)."""
        (ho, wo), (sh, sw) = self.out_hw, self.stride
        return a[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]

    def _pad(self, xt, fill, dtype, contiguous=True):
        """xt: (batch, H, W, C) -> the padded (batch, Hp, Wp, C): xt itself when there is no
        padding (and it is contiguous, if asked: as_strided needs its standard strides)."""
        pt, _, pl, _ = self.pads
        if not any(self.pads) and xt.dtype == dtype and (xt.flags.c_contiguous or not contiguous):
            return xt
        n, (hp, wp), (c, h, w) = len(xt), self.padded, self.input_shape
        xp = self.ws.get("xp", (n, hp, wp, c), dtype, init=fill)
        xp[:, pt:pt + h, pl:pl + w] = xt
        return xp

    def _grad_buffer(self, n, dtype):
        """The padded input's gradient, zeroed unless the windows will write every cell of it."""
        dxp = self.ws.get("dxp", (n, *self.padded, self.input_shape[0]), dtype)
        if not self.tiles:
            dxp.fill(0)
        return dxp

    def _scatter(self, dxp, k, g):
        """Add g: (batch, Ho, Wo, C), the gradient of window entry k, to where it was read from."""
        v = self._offset(dxp, *self.offsets[k])
        if self.tiles:  # each cell is in exactly one window: assign
            np.copyto(v, g)
        else:
            np.add(v, g, out=v)

    def _unpad(self, dxp):
        """The gradient of the unpadded input, as an NCHW view."""
        pt, _, pl, _ = self.pads
        _, h, w = self.input_shape
        return dxp[:, pt:pt + h, pl:pl + w].transpose(0, 3, 1, 2)

    def _describe(self, name, default_stride):
        (kh, kw), (sh, sw) = self.kernel, self.stride
        text = f"{name} {kh}x{kw}"
        if (sh, sw) != default_stride:
            text += f" stride {sh}" if sh == sw else f" stride {sh}x{sw}"
        if self.padding == "same":
            text += " padding same"
        elif self.padding != "valid" and any(self.padding):
            ph, pw = self.padding
            text += f" padding {ph}" if ph == pw else f" padding {ph}x{pw}"
        return text

    def __getstate__(self):  # copies and pickles carry no scratch arrays (forward again before backward)
        state = {k: v for k, v in self.__dict__.items() if k not in ("cols", "arg", "x")}
        state["ws"] = Workspace()
        return state
