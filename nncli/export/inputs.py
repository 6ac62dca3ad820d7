"""A run's fitted input pipeline as ONNX nodes: imputation, one-hot categories, missing
indicators, polynomial features and scaling, in float64 as nncli computes them, then cast to
the network's float type.

The graph's inputs:
- a run whose inputs are all number columns takes one input ``X``: double, (batch, columns)
  in the run's column order; NaN marks a missing value (imputed as in training);
- any other run takes one input per column, named as the column: numbers and booleans
  (0/1) as double (batch, 1) with NaN for missing; categories as string (batch, 1), where
  an empty string or any of the run's ``data.missing_values`` is a missing cell.
Date columns are refused (their calendar parts are not exported).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from nncli.data.encode import MISSING
from nncli.errors import ExportError
from nncli.export.graph import Graph

F64 = np.float64


def _impute(g: Graph, x: str, fill: np.ndarray) -> str:
    """NaN -> the fitted fill (a NaN fill: the run had no missing values; NaN passes through)."""
    return g.op("Where", [g.op("IsNaN", [x]), g.const(fill.astype(F64), "fill"), x], "impute")


def _indicator(g: Graph, x: str) -> str:
    return g.op("Cast", [g.op("IsNaN", [x])], "indicator", to=TensorProto.DOUBLE)


def _category(g: Graph, code, x: str, missing_tokens: list[str]) -> list[str]:
    """One-hot block of a category column from a (batch, 1) string input."""
    cats = [str(c) for c in code.categories]
    other = [str(c) for c in code.other]
    width = len(code.names()) - code.indicator
    other_pos = len(cats) + (code.missing == "column")
    pos = {c: i for i, c in enumerate(cats)}
    pos.update({c: other_pos for c in other})
    if code.missing == "column":
        miss = len(cats)
    elif code.missing == "other":
        miss = other_pos
    elif code.missing == "fill":
        miss = pos.get(code.fill_value, -1)
    else:
        miss = -1
    tokens = [t for t in dict.fromkeys(["", *missing_tokens]) if t not in pos]
    pos.update({t: miss for t in tokens})
    keys = list(pos)
    where = g.op("LabelEncoder", [x], "position", domain="ai.onnx.ml", keys_strings=keys,
                 values_int64s=[int(pos[k]) for k in keys], default_int64=-1)  # (batch, 1); unseen: -1
    hot = g.op("Equal", [where, g.const(np.arange(width, dtype=np.int64), "slots")])  # (batch, width)
    pieces = [g.op("Cast", [hot], "onehot", to=TensorProto.DOUBLE)]
    if code.indicator:
        flag = g.op("LabelEncoder", [x], "is_missing", domain="ai.onnx.ml", keys_strings=tokens or [""],
                    values_int64s=[1] * len(tokens or [""]), default_int64=0)
        pieces.append(g.op("Cast", [flag], "indicator", to=TensorProto.DOUBLE))
    return pieces


def encoded_inputs(g: Graph, encoder, missing_tokens: list[str]) -> tuple[str, list[dict]]:
    """Graph inputs and the (batch, n_encoded) double matrix the run's encoder makes of them;
    also a description of each input for the model's metadata."""
    codes = encoder.codes
    dates = [c.name for c in codes if c.type == "date"]
    if dates:
        raise ExportError(f"cannot export date column{'s' * (len(dates) > 1)} {', '.join(dates)} to ONNX: "
                          "their calendar parts are not exported; retrain with data.dates: drop")
    if all(c.type == "number" for c in codes):
        X = g.input("X", TensorProto.DOUBLE, ["batch", len(codes)])
        described = [{"name": "X", "type": "double", "shape": ["batch", len(codes)],
                      "columns": [c.name for c in codes]}]
        if not any(c.indicator for c in codes):
            return _impute(g, X, np.array([c.fill[0] for c in codes])), described
        pieces = []
        for k, c in enumerate(codes):
            col = g.op("Gather", [X, g.const(np.array([k], np.int64), "col")], "column", axis=1)
            pieces.append(_impute(g, col, c.fill))
            if c.indicator:
                pieces.append(_indicator(g, col))
        return g.op("Concat", pieces, "encoded", axis=1), described
    pieces, described = [], []
    for c in codes:
        if c.type == "category":
            x = g.input(c.name, TensorProto.STRING, ["batch", 1])
            pieces += _category(g, c, x, missing_tokens)
            described.append({"name": c.name, "type": "string", "shape": ["batch", 1],
                              "missing": ["", *missing_tokens], "one_hot": c.names()})
        else:
            x = g.input(c.name, TensorProto.DOUBLE, ["batch", 1])
            pieces.append(_impute(g, x, c.fill))
            if c.indicator:
                pieces.append(_indicator(g, x))
            described.append({"name": c.name, "type": "double", "shape": ["batch", 1],
                              "values": "0 or 1" if c.type == "binary" else "numbers", "missing": "NaN"})
    return g.op("Concat", pieces, "encoded", axis=1), described


def preprocessed(g: Graph, prep, x: str) -> str:
    """Polynomial features, then (z - center) * scale (or z * scale + offset in older runs),
    in double; then cast to the network's float type."""
    z = x
    if prep.degree > 1:
        # each output is prod_j x_j ** p_j: (batch, 1, n_in) ** (n_out, n_in), multiplied along n_in
        powers = prep._poly_features(prep.n_features_in).powers_.astype(F64)
        wide = g.op("Unsqueeze", [x, g.const(np.array([1], np.int64), "axis")])
        z = g.op("ReduceProd", [g.op("Pow", [wide, g.const(powers, "powers")])], "poly", axes=[2], keepdims=0)
    if prep.center is not None:
        z = g.op("Mul", [g.op("Sub", [z, g.const(prep.center.astype(F64), "center")]),
                         g.const(prep.scale.astype(F64), "scale")], "scaled")
    else:
        z = g.op("Add", [g.op("Mul", [z, g.const(prep.scale.astype(F64), "scale")]),
                         g.const(prep.offset.astype(F64), "offset")], "scaled")
    to = TensorProto.FLOAT if g.dtype == np.float32 else TensorProto.DOUBLE
    return g.op("Cast", [z], "features", to=to)


def scaled_images(g: Graph, scaler) -> tuple[str, list[dict]]:
    """The input ``images`` (batch, C, H, W) of raw pixels in double, channels first as nncli
    reads them (data.layout), and x * scale[c] + offset[c] per channel in the network's type."""
    c, h, w = (int(v) for v in scaler.shape)
    x = g.input("images", TensorProto.DOUBLE, ["batch", c, h, w])
    z = g.op("Add", [g.op("Mul", [x, g.const(scaler.scale.reshape(c, 1, 1).astype(F64), "pixel_scale")]),
                     g.const(scaler.offset.reshape(c, 1, 1).astype(F64), "pixel_offset")], "pixels")
    to = TensorProto.FLOAT if g.dtype == np.float32 else TensorProto.DOUBLE
    described = [{"name": "images", "type": "double", "shape": ["batch", c, h, w],
                  "meaning": f"raw pixels, channels first; scaled in the graph ({scaler.scaling})"}]
    return g.op("Cast", [z], "features", to=to), described


__all__ = ["encoded_inputs", "preprocessed", "scaled_images", "MISSING"]
