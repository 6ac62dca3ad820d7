"""ONNX export: a saved run's whole inference path, or a core Network, as one ONNX graph.

    from nncli.export import export_run, network_model
    export_run("runs/…-digits", "digits.onnx")          # inputs -> preprocessing -> net -> head
    model = network_model(net)                          # a Network alone: x -> its output

Built with the ``onnx`` package's helpers (the ``onnx`` extra), opset ``graph.OPSET`` (plus
ai.onnx.ml for category columns). Outputs of a run: classification gives ``label`` (the class,
as the run names it) and ``probabilities`` (batch, classes) in the order of the metadata's
``classes``; regression gives ``value`` (batch, targets) in the target's own units. The
model's metadata names the nncli version, the run and each input.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nncli import __version__, runs
from nncli.errors import UsageError


def _onnx():
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UsageError("nncli export needs the onnx package: pip install 'nncli[onnx]'") from None


def network_model(net, input_name: str = "x", output_name: str = "y"):
    """A core Network as an ONNX model: input (batch, *net.input_shape) in the network's float
    type, output its raw output (what ``net.predict`` returns)."""
    _onnx()
    from onnx import TensorProto

    from nncli.export.graph import Graph
    from nncli.export.layers import export_layers

    g = Graph(net.dtype)
    elem = TensorProto.FLOAT if net.dtype == np.float32 else TensorProto.DOUBLE
    x = g.input(input_name, elem, ["batch", *net.input_shape])
    g.output(export_layers(g, net, x), output_name, elem, ["batch", *net.output_shape])
    return g.model("nncli_network", "a network exported by nncli", {"nncli_version": __version__}, __version__)


def _head(g, lr, out: str) -> dict:
    """classification: label and probabilities; regression: value in the target's units."""
    from onnx import TensorProto

    elem = TensorProto.FLOAT if g.dtype == np.float32 else TensorProto.DOUBLE
    if lr.meta["task"] == "classification":
        fused = lr.loss.fused_head
        p = g.op("Softmax", [out], "softmax", axis=1) if fused == "softmax" else \
            g.op("Sigmoid", [out], "sigmoid") if fused == "sigmoid" else out
        if lr.meta["n_out"] == 1:  # one sigmoid column: P(second class); the first is 1 - p
            p = g.op("Concat", [g.op("Sub", [g.const(np.array(1, g.dtype), "one"), p]), p], "two", axis=1)
        total = g.op("ReduceSum", [p, g.const(np.array([1], np.int64), "axis")], "total", keepdims=1)
        p = g.op("Div", [p, total], "probabilities")
        g.output(p, "probabilities", elem, ["batch", len(lr.classes)])
        index = g.op("ArgMax", [p], "argmax", axis=1, keepdims=0)
        classes = np.asarray(lr.classes)
        kind = classes.dtype.kind
        if kind in "US":
            table, label_elem = classes.astype(str), TensorProto.STRING
        elif kind in "iub":
            table, label_elem = classes.astype(np.int64), TensorProto.INT64
        else:
            table, label_elem = classes.astype(np.float64), TensorProto.DOUBLE
        g.output(g.op("Gather", [g.const(table, "classes"), index], "label", axis=0), "label", label_elem, ["batch"])
        g.outputs.reverse()  # label first, as scikit-learn's converters order them
        return {"outputs": ["label", "probabilities"], "classes": [str(c) for c in classes]}
    n = int(lr.net.output_shape[0])
    v = g.op("Cast", [out], "double", to=TensorProto.DOUBLE)
    if lr.target.scaling == "standard":
        v = g.op("Add", [g.op("Mul", [v, g.const(lr.target.std.astype(np.float64), "std")]),
                         g.const(lr.target.mean.astype(np.float64), "mean")], "value")
    g.output(v, "value", TensorProto.DOUBLE, ["batch", n])
    return {"outputs": ["value"]}


def run_model(run: str, runs_dir="runs"):
    """(ONNX model, description) of a saved run's whole inference path."""
    _onnx()
    from nncli.export.graph import OPSET, Graph
    from nncli.export.inputs import encoded_inputs, preprocessed, scaled_images
    from nncli.export.layers import export_layers
    from nncli.savedrun import load_run

    run_dir, lr = load_run(run, runs_dir)
    g = Graph(lr.net.dtype)
    if lr.encoder is None:  # a model that takes images: (batch, C, H, W) pixels, scaled per channel
        x, inputs = scaled_images(g, lr.prep)
    else:
        encoded, inputs = encoded_inputs(g, lr.encoder, list(lr.cfg.data.missing_values))
        x = preprocessed(g, lr.prep, encoded)
        if len(lr.net.input_shape) > 1:  # image-shaped samples of a table: each row's values, channel-major
            x = g.op("Reshape", [x, g.const(np.array([-1, *lr.net.input_shape], np.int64), "shape")], "images")
    out = export_layers(g, lr.net, x)
    about = {"run": run_dir.name, "name": lr.cfg.name, "task": lr.meta["task"], "inputs": inputs,
             **_head(g, lr, out), "opset": OPSET, "nncli_version": __version__}
    metadata = {"nncli_version": __version__, "run": run_dir.name, "run_name": lr.cfg.name,
                "task": lr.meta["task"], "description": json.dumps(about)}
    doc = f"nncli run {run_dir.name} ({lr.meta['task']}): inputs -> preprocessing -> network -> head"
    return g.model(f"nncli_{lr.cfg.name}", doc, metadata, __version__), about


def export_run(run: str, output, runs_dir="runs", force: bool = False) -> dict:
    """Write the run's ONNX model to ``output``; returns its description."""
    output = Path(output)
    if output.exists() and not force:
        raise UsageError(f"--output {output}: the file exists; pass --force to overwrite it")
    model, about = run_model(run, runs_dir)
    runs.atomic_write_bytes(output, model.SerializeToString())
    return {**about, "output": str(output)}
