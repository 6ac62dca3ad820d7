"""Every layer kind of the core as ONNX nodes: one function per kind, in a dict by ``kind``.

``LAYER_EXPORTERS[layer.kind](g, layer, x) -> y`` adds the layer's inference-time nodes to
the graph ``g`` and returns the name of their output. Batch norm uses its running statistics;
dropout is the identity. A kind missing here is refused by name (``export_layers``), and a test
walks the core's registries so that a new layer without an exporter fails it.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.errors import ExportError
from nncli.export.graph import Graph


def _dense(g: Graph, layer, x):
    # x: (batch, n_in) @ W: (n_in, units) + b
    p = layer.params
    inputs = [x, g.const(p["W"], "W")] + ([g.const(p["b"], "b")] if layer.bias else [])
    return g.op("Gemm", inputs, "dense")


def _batchnorm(g: Graph, layer, x):
    p, b = layer.params, layer.buffers
    return g.op("BatchNormalization", [x, g.const(p["gamma"], "gamma"), g.const(p["beta"], "beta"),
                                       g.const(b["running_mean"], "mean"), g.const(b["running_var"], "var")],
                "batchnorm", epsilon=float(layer.eps))


def _through(g: Graph, layer, x):
    return x


def _conv2d(g: Graph, layer, x):
    # ONNX's pads are (top, left, bottom, right); the layer keeps (top, bottom, left, right)
    pt, pb, pl, pr = layer.pads
    p = layer.params
    inputs = [x, g.const(p["W"], "W")] + ([g.const(p["b"], "b")] if "b" in p else [])
    return g.op("Conv", inputs, "conv", kernel_shape=list(layer.kernel), strides=list(layer.stride),
                pads=[pt, pl, pb, pr])


def _pool(op, **extra):
    def export(g: Graph, layer, x):
        pt, pb, pl, pr = layer.pads
        attrs = dict(kernel_shape=list(layer.kernel), strides=list(layer.stride), pads=[pt, pl, pb, pr])
        if op == "AveragePool":
            attrs["count_include_pad"] = int(layer.count_include_pad)
        return g.op(op, [x], op.lower(), **attrs)
    return export


def _flatten(g: Graph, layer, x):
    return g.op("Flatten", [x], "flatten", axis=1)  # (batch, C, H, W) -> (batch, C*H*W), C-major


def _simple(op, **attrs):
    return lambda g, layer, x: g.op(op, [x], op.lower(), **attrs)


def _leaky(g: Graph, layer, x):
    return g.op("LeakyRelu", [x], "leaky_relu", alpha=float(layer.slope))


def _prelu(g: Graph, layer, x):
    # alpha: one per unit (batch, n) or per channel (batch, C, H, W): shaped to broadcast
    alpha = layer.params["alpha"].reshape((layer.n,) + (1,) * (len(layer.input_shape) - 1))
    return g.op("PRelu", [x, g.const(alpha, "alpha")], "prelu")


def _gelu(g: Graph, layer, x):
    # z * Phi(z) = z * 0.5 * (1 + erf(z / sqrt 2)), exact as the core's (opset 17 has no Gelu)
    k = g.const(np.array(math.sqrt(0.5), g.dtype), "rsqrt2")
    half, one = g.const(np.array(0.5, g.dtype), "half"), g.const(np.array(1.0, g.dtype), "one")
    cdf = g.op("Mul", [g.op("Add", [g.op("Erf", [g.op("Mul", [x, k])]), one]), half])
    return g.op("Mul", [x, cdf], "gelu")


def _maxout(g: Graph, layer, x):
    # (batch, units * k) -> (batch, units, k) -> max over the k pieces
    units = layer.input_shape[0] // layer.k
    shaped = g.op("Reshape", [x, g.const(np.array([0, units, layer.k], np.int64), "shape")])
    return g.op("ReduceMax", [shaped], "maxout", axes=[2], keepdims=0)


LAYER_EXPORTERS = {
    "dense": _dense,
    "batchnorm": _batchnorm,
    "dropout": _through,
    "flatten": _flatten,
    "conv2d": _conv2d,
    "maxpool2d": _pool("MaxPool"),
    "avgpool2d": _pool("AveragePool"),
    # activations and output heads
    "identity": _through,
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"),
    "relu": _simple("Relu"),
    "leaky_relu": _leaky,
    "prelu": _prelu,
    "elu": _simple("Elu", alpha=1.0),
    "softplus": _simple("Softplus"),
    "gelu": _gelu,
    "maxout": _maxout,
    "softmax": _simple("Softmax", axis=1),
}


def export_layers(g: Graph, net, x: str) -> str:
    """The network's layers in order, from the graph value ``x`` (the network's float type)."""
    unknown = [f"{name} ({layer.kind})" for name, layer in zip(net.names, net.layers)
               if layer.kind not in LAYER_EXPORTERS]
    if unknown:
        raise ExportError(f"cannot export layer {', '.join(unknown)} to ONNX: no exporter for it; "
                          f"expected kinds among {', '.join(sorted(LAYER_EXPORTERS))}")
    for layer in net.layers:
        x = LAYER_EXPORTERS[layer.kind](g, layer, x)
    return x
