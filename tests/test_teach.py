"""The teaching commands: gradcheck, summary, lr-find, learning-curve; the verdict in runs;
k-fold cross-validation; SWATS on digits. Slow tests train real models on digits and iris."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from nncli.nn import (
    ACTIVATIONS,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    Network,
)
from nncli.nn.activations import ReLU, Tanh, make_activation
from nncli.nn.gradcheck import TOL, check_layers, check_network, fix_dropout_masks
from nncli.nn.losses import make_loss

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


# ---------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_gradcheck_passes_on_every_shipped_config(nncli, config, tmp_path):
    # sampled: arrays over 256 entries on 256 of them and along random directions (every entry
    # of digits: tests/test_gradcheck_sampled.py)
    r = nncli("gradcheck", config, "--json", "--batch", "4", "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["passed"] and report["failed"] == []
    assert {row["layer"] for row in report["network"]} >= {"input", "dense0"}
    rows = report["layers"] + report["network"]
    assert all(row["checked"] == min(row["size"], 256) for row in rows)
    assert all(row["directions"] == (report["directions"] if row["size"] > 256 else 0) for row in rows)


@pytest.mark.parametrize("sets", [
    ["model.dropout=0.3", "model.batch_norm=true"],
    ["model.activation=prelu", "model.hidden=[8, 6]"],
    ["model.activation=maxout", "model.maxout_pieces=3"],
    ["model.activation=gelu", "loss.name=mse"],
], ids=["dropout+batchnorm", "prelu", "maxout", "gelu+mse"])
def test_gradcheck_covers_dropout_batchnorm_prelu_maxout(nncli, sets, tmp_path):
    args = [a for s in sets for a in ("--set", s)]
    r = nncli("gradcheck", ROOT / "configs" / "iris.yaml", *args, "--json", "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    kinds = {row["layer"].rstrip("0123456789") for row in json.loads(r.out)["layers"]}
    expected = {"dropout+batchnorm": {"dropout", "batchnorm"}}.get("+".join(s.split("=")[0] for s in sets), set())
    assert expected <= kinds


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradcheck_command_passes_for_every_activation(nncli, name, tmp_path):
    r = nncli("gradcheck", ROOT / "configs" / "iris.yaml", "--set", f"model.activation={name}",
              "--set", "model.hidden=[6, 5]", "--batch", "4", "--json", "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    kind = make_activation(name).kind
    assert f"{kind}0" in {row["layer"] for row in json.loads(r.out)["layers"]}


@pytest.mark.parametrize("config,loss", [("iris", "cross_entropy"), ("breast_cancer", "binary_cross_entropy"),
                                         ("diabetes", "mse"), ("diabetes", "mae"), ("diabetes", "sse"),
                                         ("diabetes", "huber"), ("iris", "mse")])
def test_gradcheck_command_passes_for_every_loss(nncli, config, loss, tmp_path):
    r = nncli("gradcheck", ROOT / "configs" / f"{config}.yaml", "--set", f"loss.name={loss}", "--batch", "4",
              "--runs-dir", tmp_path)
    assert r.code == 0, r.err


class WrongTanh(Tanh):
    """A copy of tanh whose derivative is off by 10%."""

    def backward(self, da):
        da *= 1.1 * (1 - self.a * self.a)
        return da


def test_gradcheck_fails_naming_the_layer_with_a_wrong_derivative(nncli, monkeypatch, tmp_path):
    monkeypatch.setitem(ACTIVATIONS, "tanh", WrongTanh)
    r = nncli("gradcheck", ROOT / "configs" / "iris.yaml", "--runs-dir", tmp_path)
    assert r.code == 5
    assert "gradient check failed in tanh0" in r.err
    assert "FAIL" in r.out and "Traceback" not in r.err
    r = nncli("gradcheck", ROOT / "configs" / "iris.yaml", "--json", "--runs-dir", tmp_path)
    report = json.loads(r.out)  # one object: the report, the exit code and the message
    assert r.code == 5 and report["failed"] == ["tanh0"] and report["exit_code"] == 5
    assert [row["passed"] for row in report["layers"] if row["layer"] == "tanh0"] == [False]


class WrongConv(Conv2D):
    def backward(self, dout):
        dx = super().backward(dout)
        return None if dx is None else dx * 0.9


def _cnn(conv=Conv2D):
    layers = [conv(4, 3, padding="same"), BatchNorm(), ReLU(), MaxPool2D(2), conv(3, 2, stride=1),
              AvgPool2D(2, stride=1), Flatten(), Dense(5)]
    return Network(layers, (2, 6, 6), dtype=np.float64, seed=3)


def test_layer_by_layer_check_works_for_convolutions_and_names_a_wrong_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 6, 6))
    y = np.array([0, 3, 4])
    net = _cnn()
    fix_dropout_masks(net, x, rng)
    checks = check_layers(net, x, rng) + check_network(net, make_loss("cross_entropy"), x, y)
    assert all(c.passed(TOL) for c in checks), [c for c in checks if not c.passed(TOL)]
    assert {c.layer for c in checks} >= {"conv2d0", "conv2d1", "maxpool2d0", "avgpool2d0", "batchnorm0"}
    bad = check_layers(_cnn(WrongConv), x, rng)
    assert {c.layer for c in bad if not c.passed(TOL)} == {"conv2d0", "conv2d1"}


# ---------------------------------------------------------------- summary
def test_summary_of_a_config_counts_parameters_and_multiply_adds(nncli, tmp_path):
    r = nncli("summary", ROOT / "configs" / "digits.yaml", "--json", "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    s = json.loads(r.out)
    assert [(row["name"], row["output_shape"], row["params"]) for row in s["layers"]] == [
        ("dense0", [128], 64 * 128 + 128), ("relu0", [128], 0), ("dense1", [10], 128 * 10 + 10)]
    assert s["total"] == {"params": 9610, "trainable": 9610, "frozen": 0, "macs": 64 * 128 + 128 * 10}
    r = nncli("summary", ROOT / "configs" / "digits.yaml", "--runs-dir", tmp_path)
    assert "9,610" in r.out and "relu" in r.out and "fresh initialization" in r.out


def test_summary_of_a_run_shows_freezing_and_where_the_weights_came_from(nncli, tmp_path):
    cfg = ROOT / "configs" / "iris.yaml"
    base = nncli("train", cfg, "-q", "--runs-dir", tmp_path, "--set", "training.epochs=3").out.strip()
    r = nncli("train", cfg, "-q", "--runs-dir", tmp_path, "--set", "training.epochs=2", "--set", f"model.init_from={base}",
              "--set", "model.freeze=1", "--set", "name=head")
    assert r.code == 0, r.err
    s = json.loads(nncli("summary", "head", "--json", "--runs-dir", tmp_path).out)
    assert s["total"]["frozen"] == 4 * 16 + 16 and s["total"]["trainable"] == 16 * 3 + 3
    assert s["weights"]["init"] == f"transferred from {base}" and s["weights"]["frozen"][0] == "dense0"
    assert s["weights"]["file"].endswith("model.npz")


# ---------------------------------------------------------------- lr-find
def test_lr_find_apply_writes_a_copy_with_the_suggestion(nncli, tmp_path):
    cfg = tmp_path / "iris.yaml"
    cfg.write_text((ROOT / "configs" / "iris.yaml").read_text())
    r = nncli("lr-find", cfg, "--apply", "--steps", "60", "--max-lr", "100", "--json", "--runs-dir", tmp_path,
              "--plot", tmp_path / "lr.svg")
    assert r.code == 0, r.err
    result = json.loads(r.out)
    assert result["suggestion"] is not None and result["applied"] == str(tmp_path / "iris.lr.yaml")
    written = yaml.safe_load((tmp_path / "iris.lr.yaml").read_text())
    assert written["optimizer"]["lr"] == pytest.approx(result["suggestion"])
    assert len(result["lr"]) == len(result["smoothed"]) <= 60
    assert np.all(np.diff(np.log(result["lr"])) > 0)
    assert (tmp_path / "lr.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.slow
def test_lr_find_suggests_within_10x_of_the_best_rate_on_digits(nncli, tmp_path):
    from nncli.build import build, load_data, targets
    from nncli.config import load_config

    best = {}
    for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2):  # 30-epoch adam runs: the best validation loss of each
        cfg = load_config(str(ROOT / "configs" / "digits.yaml"), [f"optimizer.lr={lr}", "training.early_stopping=false"])
        ds = load_data(cfg)
        parts = build(cfg, ds)
        history = parts.trainer.fit(ds.X_train, targets(parts, ds, ds.y_train), ds.X_val, targets(parts, ds, ds.y_val))
        best[lr] = min(row["val_loss"] for row in history)
    best_lr = min(best, key=best.get)
    r = nncli("lr-find", ROOT / "configs" / "digits.yaml", "--runs-dir", tmp_path, "--no-plot")
    assert r.code == 0, r.err
    suggestion = float(r.out.strip())
    assert best_lr / 10 <= suggestion <= best_lr * 10, (suggestion, best)
    assert "steepest descent" in r.err


# ---------------------------------------------------------------- learning curve and the verdict
def _curve(nncli, tmp_path, fractions, *sets):
    args = [a for s in sets for a in ("--set", s)]
    r = nncli("learning-curve", ROOT / "configs" / "digits.yaml", "--fractions", fractions, *args, "--json",
              "--runs-dir", tmp_path, "--plot", tmp_path / "curve.png")
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.mark.slow
def test_learning_curve_verdicts_on_digits(nncli, tmp_path):
    # linear softmax regression on 5% of the training split, trained to convergence: it fits its
    # 63 samples and not the rest
    tiny = _curve(nncli, tmp_path, "0.05", "model.hidden=[]", "training.epochs=100", "optimizer.lr=0.01")
    assert tiny["verdict"]["verdict"] == "high variance (overfitting)"
    assert tiny["points"][0]["samples"] == 63
    # two hidden units under a strong L2 penalty cannot fit even the training split
    small = _curve(nncli, tmp_path, "1", "model.hidden=[2]", "regularization.l2=0.1")
    assert small["verdict"]["verdict"] == "high bias (underfitting)"
    assert "more data does not" in small["verdict"]["advice"][0]
    # the 64-128-10 network of configs/digits.yaml, 30 epochs
    good = _curve(nncli, tmp_path, "0.25,0.5,1")
    assert good["verdict"]["verdict"] == "good fit"
    assert [p["samples"] for p in good["points"]] == [315, 629, 1257]
    cv = [p["cv"]["loss"] for p in good["points"]]
    assert cv[0] > cv[1] > cv[2]  # more data, lower J_cv
    assert good["verdict"]["baseline"]["source"] == "trivial model (majority class)"
    assert good["verdict"]["baseline"]["trivial"]["loss"] == pytest.approx(np.log(10), abs=0.01)
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_learning_curve_needs_a_validation_split(nncli, tmp_path):
    r = nncli("learning-curve", ROOT / "configs" / "iris.yaml", "--set", "data.validation=0",
              "--set", "training.early_stopping.monitor=loss", "--runs-dir", tmp_path, "--no-plot")
    assert r.code == 2 and "needs a validation split" in r.err


def test_the_run_summary_carries_the_verdict(nncli, tmp_path):
    r = nncli("train", ROOT / "configs" / "iris.yaml", "--json", "--runs-dir", tmp_path, "--no-progress")
    s = json.loads(r.out)
    assert s["verdict"]["baseline"]["trivial"]["model"] == "majority class"
    assert s["diagnosis"].startswith(s["verdict"]["verdict"])
    assert s["verdict"]["variance"] in (True, False)
    r = nncli("train", ROOT / "configs" / "iris.yaml", "--json", "--runs-dir", tmp_path, "--no-progress",
              "--set", "data.validation=0", "--set", "training.early_stopping.monitor=loss", "--set", "baseline.error=0.02")
    s = json.loads(r.out)
    assert s["verdict"]["variance"] is None and "no validation split" in s["diagnosis"]
    assert s["verdict"]["baseline"]["source"] == "config" and s["verdict"]["baseline"]["reference"]["error"] == 0.02


# ---------------------------------------------------------------- k-fold
def test_folds_are_stratified_disjoint_and_keep_the_test_rows():
    from nncli.data.splits import fold_rows, split_rows

    y = np.repeat([0, 1, 2], 50)
    labeled = np.arange(150)
    plain = split_rows(labeled, y, 30, 0, seed=0)
    folds = [fold_rows(labeled, y, 30, 5, i, seed=0) for i in range(5)]
    vals = np.concatenate([f["validation"] for f in folds])
    assert sorted(vals) == sorted(set(labeled) - set(plain["test"]))  # every non-test row validates once
    for f in folds:
        assert np.array_equal(f["test"], plain["test"])
        assert not set(f["train"]) & set(f["validation"])
        assert np.bincount(y[f["validation"]]).tolist() == [8, 8, 8]  # 40 per class / 5 folds


@pytest.mark.slow
def test_train_with_five_folds_on_iris(nncli, tmp_path):
    r = nncli("train", ROOT / "configs" / "iris.yaml", "--folds", "5", "--json", "--runs-dir", tmp_path, "--no-progress")
    assert r.code == 0, r.err
    result = json.loads(r.out)
    scores = [f["validation"]["accuracy"] for f in result["folds"]]
    assert len(scores) == 5 and result["k"] == 5
    assert result["mean"]["validation"]["accuracy"] == pytest.approx(np.mean(scores))
    assert result["std"]["validation"]["accuracy"] == pytest.approx(np.std(scores))
    group = Path(result["dir"])
    assert json.loads((group / "summary.json").read_text())["mean"] == result["mean"]
    runs = sorted(p for p in group.iterdir() if p.is_dir())
    assert len(runs) == 5 and all((p / "model.npz").is_file() for p in runs)
    third = next(p for p in runs if p.name.endswith("-fold3"))  # names sort by time, then a random tag
    assert json.loads((third / "summary.json").read_text())["fold"] == {"k": 5, "index": 3}
    assert "mean" in r.err and "std" in r.err and group.name.endswith("-iris-5fold")  # the table


def test_kfold_score_is_the_mean_held_out_metric(tmp_path):
    from nncli.config import load_config
    from nncli.folds import kfold_score

    cfg = load_config(str(ROOT / "configs" / "iris.yaml"), ["training.epochs=5"])
    score = kfold_score(cfg, 3, runs_dir=tmp_path)
    group = next(tmp_path.iterdir())
    folds = json.loads((group / "summary.json").read_text())["folds"]
    assert score == pytest.approx(np.mean([f["validation"]["accuracy"] for f in folds]))


# ---------------------------------------------------------------- SWATS
@pytest.mark.slow
def test_swats_matches_adam_on_digits_and_records_the_switch(nncli, tmp_path):
    acc = {}
    for name in ("adam", "swats"):
        r = nncli("train", ROOT / "configs" / "digits.yaml", "--json", "--no-progress", "--runs-dir", tmp_path,
                  "--set", f"optimizer.name={name}", "--set", "training.epochs=60")
        s = json.loads(r.out)
        acc[name] = s["final"]["test"]["accuracy"]
    assert abs(acc["swats"] - acc["adam"]) <= 0.005, acc
    switch = s["optimizer_switch"]
    assert 1 <= switch["epoch"] <= 60 and switch["sgd_lr"] > 0
    history = (Path(s["dir"]) / "metrics.csv").read_text().splitlines()
    assert "sgd_lr" in history[0].split(",")


def test_learning_curve_prints_the_table_the_baseline_and_the_verdict(nncli, tmp_path):
    r = nncli("learning-curve", ROOT / "configs" / "iris.yaml", "--fractions", "0.5,1", "--set", "training.epochs=20",
              "--runs-dir", tmp_path, "--no-plot")
    assert r.code == 0, r.err
    assert "J_train" in r.out and "J_cv" in r.out
    assert "trivial model (majority class): loss" in r.out and "verdict: " in r.out
    assert "50% (" in r.err  # each point as it is trained
