"""Images: digits as 1x8x8, .npz files in each layout, pixel scaling fitted on the training
split and kept in the run; evaluate, predict, resume, transfer and sweeps of a CNN run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import load_arrays, run_dirs, write

from nncli import runner
from nncli.build import load_data
from nncli.config import load_config, validate
from nncli.data.images import PixelScaler
from nncli.errors import ConfigError, DataError, Interrupted
from nncli.nn import Callback
from nncli.preflight import check

CNN = """\
name: {name}
data: {data}
model:
  layers:
    - conv2d: {{filters: 4, kernel: 3, padding: same}}
    - batch_norm
    - activation: relu
    - maxpool2d: 2
    - flatten
    - dense: 8
    - activation: relu
    - dropout: 0.1
training: {{epochs: {epochs}, batch_size: 16}}
plots: false
"""


def cnn(tmp_path, data="{dataset: digits, subset: 300, scaling: max}", name="cnn", epochs=2) -> Path:
    return write(tmp_path / f"{name}.yaml", CNN.format(name=name, data=data, epochs=epochs))


def images(n=90, c=3, h=6, w=6, seed=0):
    """(N, H, W, C) uint8 images in three classes told apart by which third is bright."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.integers(0, 80, (n, h, w, c)).astype(np.uint8)
    for i, k in enumerate(y):
        X[i, 2 * k:2 * k + 2] += 150
    return X, y


# ---------------------------------------------------------------- data
def test_digits_as_images_are_the_same_samples_and_split_as_digits_as_columns(tmp_path):
    flat = load_data(validate({"data": {"dataset": "digits", "scaling": "none"}}))
    img = load_data(load_config(cnn(tmp_path, "{dataset: digits, scaling: none}")))
    assert img.X_train.shape[1:] == (1, 8, 8) and img.X_train.dtype == np.float32
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(img.rows[split], flat.rows[split])
    np.testing.assert_array_equal(img.X_test.reshape(len(img.X_test), 64), flat.X_test)
    np.testing.assert_array_equal(img.y_test, flat.y_test)
    assert img.encoder is None and "1797 images of 1x8x8" in img.notes[0]


def test_max_scaling_divides_by_the_largest_training_pixel(tmp_path):
    ds = load_data(load_config(cnn(tmp_path, "{dataset: digits, scaling: max}")))
    raw = load_data(load_config(cnn(tmp_path, "{dataset: digits, scaling: none}")))
    np.testing.assert_allclose(ds.X_train, raw.X_train / 16, rtol=1e-6)
    assert ds.state_dict()["img.scale"].tolist() == [1 / 16]


def test_standard_scaling_is_per_channel_and_fitted_on_the_training_split_only(tmp_path):
    X, y = images()
    np.savez(tmp_path / "img.npz", X=X, y=y)
    ds = load_data(load_config(cnn(tmp_path, f"{{path: '{tmp_path / 'img.npz'}', scaling: standard}}")))
    train = X[np.sort(ds.rows["train"])].astype(np.float64)  # (n, H, W, C)
    mean, std = train.mean(axis=(0, 1, 2)), train.std(axis=(0, 1, 2))
    expect = (X[ds.rows["test"]].astype(np.float64) - mean) / std
    np.testing.assert_allclose(ds.X_test, expect.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
    # the training images themselves: mean 0 and variance 1 in each channel
    np.testing.assert_allclose(ds.X_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train.std(axis=(0, 2, 3)), 1, atol=1e-5)


def test_minmax_and_constant_channels():
    X = np.stack([np.full((4, 3, 3), 5.0), np.arange(36.0).reshape(4, 3, 3)], axis=1)  # (4, 2, 3, 3)
    s = PixelScaler("minmax").fit(X)
    out = s.transform(X, "float64")
    assert out[:, 0].tolist() == np.zeros((4, 3, 3)).tolist()  # constant: shifted to 0, not divided by 0
    assert out[:, 1].min() == 0 and out[:, 1].max() == 1
    z = PixelScaler("standard").fit(X).transform(X, "float64")
    assert np.isfinite(z).all() and np.allclose(z[:, 0], 0)
    again = PixelScaler.from_state_dict(s.state_dict())
    np.testing.assert_array_equal(again.transform(X, "float64"), out)


@pytest.mark.parametrize("store, layout", [
    (lambda X: X, "nhwc"),  # (N, H, W, C): the default
    (lambda X: X.transpose(0, 3, 1, 2), "nchw"),  # PyTorch's order
])
def test_each_layout_reads_as_the_same_images(store, layout, tmp_path):
    X, y = images()
    np.savez(tmp_path / "img.npz", X=store(X), y=y)
    ds = load_data(load_config(cnn(tmp_path, f"{{path: '{tmp_path / 'img.npz'}', layout: {layout}, scaling: none}}")))
    np.testing.assert_array_equal(ds.X_test, X[ds.rows["test"]].transpose(0, 3, 1, 2).astype(np.float32))


def test_three_axes_are_one_channel_images(tmp_path):
    X, y = images(c=1)
    np.savez(tmp_path / "img.npz", X=X[..., 0], y=y)
    ds = load_data(load_config(cnn(tmp_path, f"{{path: '{tmp_path / 'img.npz'}'}}")))
    assert ds.X_train.shape[1:] == (1, 6, 6)


def test_images_need_a_model_that_takes_them_and_columns_need_a_table(tmp_path):
    X, y = images()
    np.savez(tmp_path / "img.npz", X=X, y=y)
    mlp = validate({"data": {"path": str(tmp_path / "img.npz")}, "model": {"hidden": [8]}})
    with pytest.raises(DataError, match=r"img.npz: X of shape \(90, 6, 6, 3\) holds images; a model that takes "
                                        "images starts model.layers with conv2d"):
        load_data(mlp)
    with pytest.raises(DataError, match="data.dataset: iris has no images"):
        load_data(load_config(cnn(tmp_path, "{dataset: iris}")))
    with pytest.raises(ConfigError, match="data.polynomial: has no effect on images"):
        load_data(load_config(cnn(tmp_path, "{dataset: digits, polynomial: 2}")))
    with pytest.raises(ConfigError, match="data.features: has no effect on images"):  # before any data is read
        check(load_config(cnn(tmp_path, "{dataset: digits, features: [a]}")))
    with pytest.raises(DataError, match="data.scaling: max divides pixels by the largest one, for images"):
        load_data(validate({"data": {"dataset": "iris", "scaling": "max"}}))


# ---------------------------------------------------------------- runs
def test_train_evaluate_and_predict_a_cnn_on_an_npz(tmp_path, nncli):
    X, y = images(n=120)
    np.savez(tmp_path / "img.npz", X=X, y=np.array(["left", "middle", "right"])[y])
    cfg = cnn(tmp_path, f"{{path: '{tmp_path / 'img.npz'}'}}", epochs=3)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    run = Path(r.out.strip())
    summary = json.loads((run / "summary.json").read_text())
    meta = json.loads(str(load_arrays(run / "model.npz")["meta"]))
    assert meta["n_in"] == [3, 6, 6]
    r = nncli("evaluate", run, "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 0, r.err
    scores = json.loads(r.out)
    assert scores["samples"] == 24  # the recorded test split: 20% of 120
    assert scores["accuracy"] == pytest.approx(summary["final"]["test"]["accuracy"])
    # a file of images without labels: one prediction per image, in order
    np.savez(tmp_path / "new.npz", X=X[:5])
    r = nncli("predict", run, "--input", tmp_path / "new.npz", "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert len(rows) == 5 and {row["prediction"] for row in rows} <= {"left", "middle", "right"}
    assert all(abs(row["p_left"] + row["p_middle"] + row["p_right"] - 1) < 1e-5 for row in rows)  # 6 decimals each
    # evaluate on another file scores every image in it
    r = nncli("evaluate", run, "--data", tmp_path / "img.npz", "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 0 and json.loads(r.out)["samples"] == 120
    # images of another size, and a CSV, are refused in one line
    np.savez(tmp_path / "big.npz", X=np.zeros((2, 7, 7, 3)))
    r = nncli("predict", run, "--input", tmp_path / "big.npz", "--runs-dir", tmp_path / "runs")
    assert r.code == 4 and "images of shape (3, 7, 7)" in r.err and "the model takes (3, 6, 6)" in r.err
    write(tmp_path / "x.csv", "a,b\n1,2\n")
    r = nncli("predict", run, "--input", tmp_path / "x.csv", "--runs-dir", tmp_path / "runs")
    assert r.code == 4 and "images are read from an .npz file" in r.err


def test_evaluate_a_digits_cnn_scores_its_recorded_test_split(tmp_path, nncli):
    r = nncli("train", cnn(tmp_path), "--runs-dir", tmp_path / "runs", "--quiet")
    run = Path(r.out.strip())
    final = json.loads((run / "summary.json").read_text())["final"]["test"]
    r = nncli("evaluate", run, "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["samples"] == 60
    assert json.loads(r.out)["accuracy"] == pytest.approx(final["accuracy"])
    assert json.loads(r.out)["log_loss"] == pytest.approx(final["loss"], rel=1e-4)


class StopAt(Callback):
    def __init__(self, stop, epoch, batch):
        self.stop, self.at = stop, (epoch, batch)

    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == self.at:
            self.stop.signame = "sigint"


def test_a_stopped_cnn_run_resumes_to_the_same_weights(tmp_path):
    cfg = load_config(cnn(tmp_path, epochs=3))
    straight, _ = runner.train(cfg, runs_dir=tmp_path / "straight")
    stop = runner.StopFlag()
    with pytest.raises(Interrupted):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAt(stop, 1, 3)], stop=stop)
    run = run_dirs(tmp_path / "runs")[0]
    resumed, summary = runner.train(None, runs_dir=tmp_path / "runs", resume=str(run))
    assert summary["status"] == "finished"
    a, b = load_arrays(straight / "model.npz"), load_arrays(resumed / "model.npz")
    for key in a:
        if key.startswith(("net.", "img.")):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_transfer_a_cnn_freezing_its_convolution_by_name(tmp_path, nncli):
    r = nncli("train", cnn(tmp_path, name="base"), "--runs-dir", tmp_path / "runs", "--quiet")
    base = Path(r.out.strip())
    tuned = write(tmp_path / "tuned.yaml", f"""\
name: tuned
data: {{dataset: digits, subset: 300, scaling: max, params: {{n_class: 5}}}}
model:
  init_from: '{base}'
  freeze: [conv2d0, batchnorm0]
  layers: [{{conv2d: {{filters: 4, kernel: 3, padding: same}}}}, batch_norm, {{activation: relu}},
           {{maxpool2d: 2}}, flatten, {{dense: 8}}, {{activation: relu}}]
training: {{epochs: 2, batch_size: 16}}
plots: false
""")
    r = nncli("train", tuned, "--runs-dir", tmp_path / "runs")
    assert r.code == 0, r.err
    assert ("loaded conv2d0, batchnorm0, dense0; reinitialized dense1 (another shape); "
            "frozen conv2d0, batchnorm0") in " ".join(r.err.split())
    run = Path(r.out.strip().splitlines()[-1])
    a, b = load_arrays(base / "model.npz"), load_arrays(run / "model.npz")
    for key in ("net.conv2d0.W", "net.conv2d0.b", "net.batchnorm0.gamma", "net.batchnorm0.running_mean"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)  # frozen: never moved
    assert not np.array_equal(a["net.dense0.W"], b["net.dense0.W"])  # loaded, then trained
    assert b["net.dense1.W"].shape == (8, 5)


def test_a_sweep_over_a_cnn(tmp_path, nncli):
    r = nncli("sweep", cnn(tmp_path, epochs=1), "--grid", "optimizer.lr=[0.01, 0.001]",
              "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert r.code == 0, r.err
    events = [json.loads(line) for line in r.out.splitlines()]
    trials = [e for e in events if e["event"] == "trial"]
    assert len(trials) == 2 and all(e["status"] == "finished" and Path(e["run_dir"]).is_dir() for e in trials)
    best = load_config("-", text=events[-1]["config"])
    assert best.model.images and best.optimizer.lr in (0.01, 0.001)
