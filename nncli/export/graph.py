"""A small builder over the ``onnx`` package's helpers: nodes, constants and names.

Every node gets a fresh output name from a hint (``dense0_3``), constants become initializers,
and ``model`` wraps it all with the stated opsets and metadata, then runs ONNX's checker.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # ai.onnx: every operator used here has this version or older (ReduceMax keeps axes as an attribute)
ML_OPSET = 3  # ai.onnx.ml, for LabelEncoder (strings -> positions)
ELEM = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
        np.dtype(np.int64): TensorProto.INT64, np.dtype(bool): TensorProto.BOOL}


class Graph:
    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)  # the network's float type
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self._n = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value, hint: str = "c", dtype=None) -> str:
        """An initializer holding ``value`` (numbers as ``dtype``; a list of str as strings)."""
        name = self.fresh(hint)
        arr = np.asarray(value)
        if arr.dtype.kind in "UO":
            flat = [str(v).encode("utf-8") for v in arr.reshape(-1)]
            self.inits.append(helper.make_tensor(name, TensorProto.STRING, arr.shape, flat))
        else:
            self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype or arr.dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, domain: str = "", **attrs) -> str:
        out = self.fresh(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def input(self, name: str, elem: int, shape: list) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        return name

    def output(self, value: str, name: str, elem: int, shape: list) -> None:
        """Expose ``value`` as the graph output ``name``."""
        self.nodes.append(helper.make_node("Identity", [value], [name], name=f"out_{name}"))
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def model(self, name: str, doc: str, metadata: dict[str, str], version: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.inits)
        opsets = [helper.make_opsetid("", OPSET)]
        if any(n.domain == "ai.onnx.ml" for n in self.nodes):
            opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="nncli", producer_version=version,
                                  doc_string=doc)
        model.ir_version = 8  # what ONNX Runtime 1.14 and later read, with opset 17
        helper.set_model_props(model, metadata)
        onnx.checker.check_model(model, full_check=True)
        return model
