"""ONNX export: ONNX Runtime on the exported graph gives what `nncli predict` gives, for every
shipped config, for files with categories and missing values, and for every layer kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from helpers import write

CONFIGS = sorted(Path(__file__).resolve().parent.parent.joinpath("configs").glob("*.yaml"))


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _predict(run, frame, tmp_path):
    """`nncli predict`'s columns for the rows of a pandas frame (written as CSV, read by name)."""
    from nncli import inference

    src = tmp_path / "rows.csv"
    frame.to_csv(src, index=False)
    return inference.predict(str(run), str(src)).columns


def _same(pred: dict, outputs: dict, classes=None):
    if "probabilities" in outputs:
        proba = np.column_stack([pred[f"p_{c}"] for c in classes])
        np.testing.assert_allclose(outputs["probabilities"], proba, atol=1e-5, rtol=0)
        assert [str(v) for v in outputs["label"]] == [str(v) for v in pred["prediction"]]
    else:
        names = sorted(k for k in pred if k.startswith("prediction"))
        values = np.column_stack([np.asarray(pred[k], np.float64) for k in names])
        np.testing.assert_allclose(outputs["value"], values, rtol=1e-5, atol=1e-5)


def _train(nncli, cfg, tmp_path, *sets):
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet", *[a for s in sets for a in ("--set", s)])
    assert r.code == 0, r.err
    return Path(r.out.strip())


def _export(nncli, run, tmp_path) -> tuple[Path, dict]:
    out = tmp_path / "model.onnx"
    r = nncli("export", run, "--format", "onnx", "-o", out, "--json")
    assert r.code == 0, r.err
    return out, json.loads(r.out)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_exports_to_what_predict_gives(config, tmp_path, nncli):
    import pandas as pd

    from nncli import inference, modelfiles
    from nncli.config import load_config
    from nncli.data import read_raw

    run = _train(nncli, config, tmp_path, "training.epochs=3")
    out, about = _export(nncli, run, tmp_path)
    cfg = load_config(str(run / "config.yaml"))
    d = cfg.data
    X, _, names, _ = read_raw(dataset=d.dataset, path=d.path, label=d.label, params=dict(d.params), seed=cfg.seed)
    rows = modelfiles.load_model_arrays(run)["split.test"]
    outputs = [o.name for o in _session(out).get_outputs()]
    if [i["name"] for i in about["inputs"]] == ["images"]:  # a CNN: raw pixels (batch, C, H, W) in, as predict reads them
        images = X[rows].reshape(len(rows), 8, 8)  # digits: 8x8 grey images
        np.savez(tmp_path / "images.npz", X=images)
        got = dict(zip(outputs, _session(out).run(None, {"images": images[:, None].astype(np.float64)})))
        expected = inference.predict(str(run), str(tmp_path / "images.npz")).columns
    else:
        got = dict(zip(outputs, _session(out).run(None, {"X": X[rows]})))
        expected = _predict(run, pd.DataFrame(X[rows], columns=names), tmp_path)
    _same(expected, got, about.get("classes"))
    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["run"] == run.name and meta["nncli_version"] and meta["run_name"] == cfg.name
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]


def _penguin_inputs(session, frame):
    """One input per column: strings for categories (as written), doubles with NaN for numbers."""
    feeds = {}
    for i in session.get_inputs():
        col = frame[i.name]
        if i.type == "tensor(string)":
            feeds[i.name] = col.astype(str).to_numpy(object).reshape(-1, 1)
        else:
            feeds[i.name] = pd_numeric(col).reshape(-1, 1)
    return feeds


def pd_numeric(col):
    import pandas as pd

    if col.dtype == bool or set(col.dropna().astype(str).str.lower()) <= {"true", "false", "na", ""}:
        return col.astype(str).str.lower().map({"true": 1.0, "false": 0.0}).astype(float).to_numpy()
    return pd.to_numeric(col, errors="coerce").astype(float).to_numpy()


def test_penguins_with_categories_and_missing_values(tmp_path, nncli):
    import palmerpenguins
    import pandas as pd
    src = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
    text = src.read_text()
    (tmp_path / "penguins.csv").write_text(text)
    cfg = write(tmp_path / "p.yaml", "data: {dataset: null, path: penguins.csv, label: species, "
                                     "missing_indicator: true}\ntraining: {epochs: 5}\n")
    run = _train(nncli, cfg, tmp_path)
    out, about = _export(nncli, run, tmp_path)
    frame = pd.read_csv(tmp_path / "penguins.csv", dtype=str, keep_default_na=False)
    session = _session(out)
    assert {i.name: i.type for i in session.get_inputs()}["island"] == "tensor(string)"
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, _penguin_inputs(session, frame))))
    _same(_predict(run, frame, tmp_path), got, about["classes"])
    assert (frame["sex"] == "NA").any() and (frame["bill_length_mm"] == "NA").any()  # missing cells were scored


def test_rare_unseen_and_boolean_columns(tmp_path, nncli):
    import pandas as pd
    rng = np.random.default_rng(0)
    n = 300
    colour = rng.choice(["red", "green", "blue", "teal", "NA", ""], n, p=[.4, .3, .2, .02, .04, .04])
    size = np.where(rng.random(n) < 0.1, "", np.round(rng.normal(10, 3, n), 3).astype(str))
    flag = rng.choice(["true", "false", ""], n, p=[.5, .45, .05])
    label = np.where((colour == "red") ^ (flag == "true"), "yes", "no")
    frame = pd.DataFrame({"colour": colour, "size": size, "flag": flag, "label": label})
    frame.to_csv(tmp_path / "d.csv", index=False)
    for extra in ("impute_categories: most_frequent, impute: median", "missing_indicator: true, min_frequency: 10"):
        cfg = write(tmp_path / "d.yaml", f"data: {{dataset: null, path: d.csv, label: label, {extra}}}\n"
                                         "training: {epochs: 5}\n")
        run = _train(nncli, cfg, tmp_path)
        out, about = _export(nncli, run, tmp_path)
        session = _session(out)
        kinds = {i.name: i.type for i in session.get_inputs()}
        assert kinds == {"colour": "tensor(string)", "size": "tensor(double)", "flag": "tensor(double)"}
        scored = frame.copy()
        scored.loc[:4, "colour"] = "violet"  # never seen in training: a row of zeros, as predict
        feeds = {"colour": scored["colour"].to_numpy(object).reshape(-1, 1),
                 "size": pd.to_numeric(scored["size"], errors="coerce").to_numpy(float).reshape(-1, 1),
                 "flag": scored["flag"].map({"true": 1.0, "false": 0.0}).to_numpy(float).reshape(-1, 1)}
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        _same(_predict(run, scored, tmp_path), got, about["classes"])
        (tmp_path / "model.onnx").unlink()


# ---------------------------------------------------------------- every layer kind
def _all_layer_classes():
    from nncli.nn import layers

    seen, todo = set(), [layers.Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {c for c in seen if c.__module__.startswith("nncli.nn") and "kind" in vars(c)}


def test_every_layer_and_activation_kind_has_an_exporter():
    from nncli.export.layers import LAYER_EXPORTERS
    from nncli.nn import ACTIVATIONS, OUTPUT_HEADS

    kinds = {c.kind for c in _all_layer_classes()} | set(ACTIVATIONS) | set(OUTPUT_HEADS)
    assert {"dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "batchnorm", "dropout", "gelu"} <= kinds
    assert kinds <= set(LAYER_EXPORTERS), f"no ONNX exporter for {sorted(kinds - set(LAYER_EXPORTERS))}"


def test_a_layer_without_an_exporter_is_refused_by_name():
    from nncli.errors import ExportError
    from nncli.export import network_model
    from nncli.nn import Dense, Network
    from nncli.nn.activations import Activation

    class Swish(Activation):
        kind = "swish"

        def forward(self, z, training=False):
            return z / (1 + np.exp(-z))

    net = Network([Dense(4), Swish(), Dense(2)], (3,))
    with pytest.raises(ExportError, match=r"swish0 \(swish\)"):
        network_model(net)


def _check(net, x, atol=1e-5):
    from nncli.export import network_model

    model = network_model(net)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x.astype(net.dtype)})[0]
    np.testing.assert_allclose(got, net.predict(x), atol=atol, rtol=1e-5)


@pytest.mark.parametrize("activation", sorted(__import__("nncli.nn", fromlist=["ACTIVATIONS"]).ACTIVATIONS))
def test_dense_networks_with_every_activation(activation):
    from nncli.nn import build_mlp

    net = build_mlp(5, [8, 6], 3, activation=activation, output="softmax", dropout=0.2, batch_norm=True, seed=1)
    rng = np.random.default_rng(0)
    for layer in net.layers:  # batch norm with non-trivial running statistics; prelu slopes
        for k, b in layer.buffers.items():
            b[...] = rng.uniform(0.5, 1.5, b.shape) if k == "running_var" else rng.normal(0, 0.3, b.shape)
        if "alpha" in layer.params:
            layer.params["alpha"][...] = rng.uniform(0, 0.5, layer.params["alpha"].shape)
    _check(net, rng.normal(0, 2, (64, 5)))


@pytest.mark.parametrize("padding,stride,count_include_pad", [("same", 1, True), ("valid", 2, False), (1, 1, False)])
def test_convolutional_networks(padding, stride, count_include_pad):
    from nncli.nn import (
        AvgPool2D,
        BatchNorm,
        Conv2D,
        Dense,
        Flatten,
        MaxPool2D,
        Network,
    )
    from nncli.nn.activations import PReLU, ReLU

    layers = [Conv2D(4, 3, stride=stride, padding=padding), BatchNorm(), PReLU(), MaxPool2D(2, padding=1),
              Conv2D(6, (2, 3), padding="same"), ReLU(), AvgPool2D(2, stride=1, padding=1,
                                                                   count_include_pad=count_include_pad),
              Flatten(), Dense(5)]
    net = Network(layers, (2, 9, 11), seed=3)
    rng = np.random.default_rng(1)
    net.layers[1].buffers["running_mean"][...] = rng.normal(0, 0.2, 4)
    net.layers[1].buffers["running_var"][...] = rng.uniform(0.5, 2, 4)
    _check(net, rng.normal(0, 1, (16, 2, 9, 11)))


def test_export_errors_are_one_line(tmp_path, nncli):
    r = nncli("export", tmp_path / "nowhere", "-o", tmp_path / "m.onnx")
    assert r.code == 4 and "no run" in r.err
    r = nncli("export", tmp_path / "nowhere", "-o", tmp_path / "m.onnx", "--format", "pmml")
    assert r.code == 2 and "--format: expected one of onnx" in r.err


def test_without_the_onnx_package_export_says_what_to_install(tmp_path, nncli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed: importing it raises ImportError
    r = nncli("export", tmp_path / "nowhere", "-o", tmp_path / "m.onnx")
    assert r.code == 2 and "pip install 'nncli[onnx]'" in r.err and not (tmp_path / "m.onnx").exists()
