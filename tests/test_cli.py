"""The command line: what each command prints, writes and exits with.

Successful commands run through Typer's CliRunner on ``nncli.cli.app``; commands whose exit
code comes from ``main()``'s error handling run through ``main()`` itself, in process, with
``sys.argv`` set and stdout/stderr captured (the ``nncli`` fixture).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import IRIS, load_arrays, run_dirs, write
from sklearn import metrics
from typer.testing import CliRunner

from nncli.cli import app
from nncli.config import config_to_dict, load_config
from nncli.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "configs").glob("*.yaml"))
METRIC_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]

DIABETES = """\
name: diabetes
seed: 2
data: {dataset: diabetes, validation: 0.1, test: 0.2}
model: {hidden: [8]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 32}
"""


# ---------------------------------------------------------------- helpers
def invoke(*args, stdin: str | None = None):
    """CliRunner on the app; re-raises what the command raised so failures show the cause."""
    result = CliRunner().invoke(app, [str(a) for a in args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def forward(arrays: dict, X: np.ndarray) -> np.ndarray:
    """The saved network's output for already-scaled X: relu hidden layers, linear output."""
    n = len([k for k in arrays if re.fullmatch(r"net\.dense\d+\.W", k)])
    x = X.astype(np.float32)
    for i in range(n):
        x = x @ arrays[f"net.dense{i}.W"] + arrays[f"net.dense{i}.b"]
        if i < n - 1:
            x = np.maximum(x, 0)
    return x


def scale(arrays: dict, X: np.ndarray) -> np.ndarray:
    return (np.asarray(X, np.float64) * arrays["prep.scale"] + arrays["prep.offset"]).astype(np.float32)


def unscale(arrays: dict, out: np.ndarray) -> np.ndarray:
    """Regression outputs in the target's units: the network learns z-scores of the target."""
    return out.astype(np.float64) * arrays["target.std"] + arrays["target.mean"]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z.astype(np.float64) - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def recreated_split(cfg_path: Path):
    d = load_config(cfg_path)
    ds = load_dataset(dataset=d.data.dataset, path=d.data.path, label=d.data.label, params=dict(d.data.params),
                      task=d.data.task, validation=d.data.validation, test=d.data.test,
                      scaling=d.data.scaling, polynomial=d.data.polynomial, subset=d.data.subset,
                      seed=d.seed, dtype=d.training.dtype)
    return ds


@pytest.fixture
def iris_run(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    return Path(r.out.strip()), cfg


# ---------------------------------------------------------------- train
def test_train_prints_only_the_run_dir_and_writes_every_file(tmp_path):
    import pandas as pd

    cfg = write(tmp_path / "iris.yaml", IRIS)
    runs = tmp_path / "runs"
    result = invoke("train", cfg, "--runs-dir", runs)
    assert result.exit_code == 0, result.stderr
    dirs = run_dirs(runs)
    assert len(dirs) == 1
    assert result.stdout == f"{dirs[0]}\n"
    run = dirs[0]
    assert {"config.yaml", "metrics.csv", "summary.json", "model.npz"} <= {p.name for p in run.iterdir()}
    assert "epoch 3/3" in result.stderr  # progress goes to stderr

    assert config_to_dict(load_config(run / "config.yaml")) == config_to_dict(load_config(cfg))
    df = pd.read_csv(run / "metrics.csv")
    assert list(df.columns) == METRIC_COLUMNS
    assert df["epoch"].tolist() == [1, 2, 3]
    assert df["lr"].tolist() == [0.01] * 3
    assert np.isfinite(df[["loss", "accuracy", "val_loss", "val_accuracy"]].to_numpy()).all()

    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["reason"] is None
    assert summary["seed"] == 1 and summary["epochs_run"] == 3
    assert summary["command"].startswith("nncli ")
    assert {"nncli", "numpy", "scikit-learn", "python"} <= set(summary["versions"])
    assert set(summary["final"]) == {"train", "validation", "test"}
    assert summary["final"]["validation"]["loss"] == pytest.approx(df["val_loss"].iloc[-1], rel=1e-6)
    assert summary["samples"] == {"train": 90, "validation": 30, "test": 30}

    arrays = load_arrays(run / "model.npz")
    assert arrays["net.dense0.W"].shape == (4, 8) and arrays["net.dense1.W"].shape == (8, 3)
    assert arrays["classes"].tolist() == ["setosa", "versicolor", "virginica"]  # the dataset's own class names


def test_train_command_is_recorded(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert r.err == ""  # --quiet: nothing but errors
    summary = json.loads((Path(r.out.strip()) / "summary.json").read_text())
    assert summary["command"] == f"nncli train {cfg} --runs-dir {tmp_path / 'runs'} --quiet"


def test_train_json_prints_the_summary(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    result = invoke("train", cfg, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    run = run_dirs(tmp_path / "runs")[0]
    saved = json.loads((run / "summary.json").read_text())
    assert printed["dir"] == str(run)
    assert printed["status"] == "finished"
    for key in ("name", "seed", "final", "versions", "epochs_run", "status"):
        assert printed[key] == saved[key]


def test_training_again_from_the_saved_config_is_bit_identical(tmp_path, iris_run, nncli):
    run, _ = iris_run
    r = nncli("train", run / "config.yaml", "--runs-dir", tmp_path / "again", "--quiet")
    assert r.code == 0, r.err
    again = Path(r.out.strip())
    a, b = load_arrays(run / "model.npz"), load_arrays(again / "model.npz")
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    import pandas as pd

    ma = pd.read_csv(run / "metrics.csv").drop(columns="seconds")
    mb = pd.read_csv(again / "metrics.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(ma, mb, check_exact=True)


def test_config_from_stdin_with_nested_and_list_overrides(tmp_path, nncli):
    r = nncli("train", "-", "--runs-dir", tmp_path / "runs", "--quiet",
              "--set", "model.hidden=[6, 5]", "--set", "optimizer.schedule.name=cosine",
              "--set", "training.epochs=2", "--set", "name=from-stdin", stdin=IRIS)
    assert r.code == 0, r.err
    run = Path(r.out.strip())
    assert run.name.endswith("-from-stdin")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["hidden"] == [6, 5]
    assert saved["optimizer"]["schedule"]["name"] == "cosine"
    assert saved["training"]["epochs"] == 2
    assert saved["optimizer"]["lr"] == 0.01  # from the stdin text
    arrays = load_arrays(run / "model.npz")
    assert arrays["net.dense1.W"].shape == (6, 5)


def test_bad_config_lists_every_problem_and_creates_nothing(tmp_path, nncli):
    cfg = write(tmp_path / "bad.yaml", "name: x\nmodel: {hidden: [-1], activation: rleu}\n"
                                       "optimizer: {lr: -1, schedule: {name: foo}}\ntraining: {epochs: 0}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 2
    assert r.out == ""
    for key in ("model.hidden.0", "model.activation", "optimizer.lr", "optimizer.schedule.name", "training.epochs"):
        assert key in r.err, key
    assert "did you mean 'relu'" in r.err
    assert "5 problems" in r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "runs").exists()


def test_missing_config_file(tmp_path, nncli):
    missing = tmp_path / "nope.yaml"
    r = nncli("train", missing, "--runs-dir", tmp_path / "runs")
    assert r.code == 2
    assert str(missing) in r.err and "not found" in r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "runs").exists()


def test_bad_data_file_names_file_and_column(tmp_path, nncli):
    data = write(tmp_path / "t.csv", "a,b,y\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n")
    cfg = write(tmp_path / "c.yaml", f"data: {{path: '{data}'}}\ntraining: {{epochs: 2}}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 4
    assert str(data) in r.err and "column 'b'" in r.err and "'x'" in r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "runs").exists()


def test_train_without_config_or_resume_is_a_usage_error(tmp_path, nncli):
    r = nncli("train", "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and "--resume" in r.err


@pytest.mark.parametrize("args, says", [
    (["train", "x.yaml", "--epochs", "3"], "No such option: --epochs"),
    (["evaluate"], "Missing argument 'RUN'"),
    (["bogus"], "No such command 'bogus'"),
    (["runs", "--sort"], "--sort"),
])
def test_command_line_mistakes_are_usage_errors(args, says, nncli):
    r = nncli(*args)
    assert r.code == 2
    assert says in r.err
    assert "Traceback" not in r.err


# ---------------------------------------------------------------- evaluate
def test_evaluate_matches_sklearn_on_the_recreated_test_split(iris_run, tmp_path):
    run, cfg = iris_run
    result = invoke("evaluate", run, "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)

    ds = recreated_split(cfg)
    arrays = load_arrays(run / "model.npz")
    proba = softmax(forward(arrays, ds.X_test))
    pred = proba.argmax(axis=1)
    assert got["samples"] == len(ds.X_test) == 30
    assert got["accuracy"] == metrics.accuracy_score(ds.y_test, pred)
    assert got["f1_macro"] == pytest.approx(metrics.f1_score(ds.y_test, pred, average="macro"), abs=1e-12)
    assert got["confusion_matrix"] == metrics.confusion_matrix(ds.y_test, pred, labels=[0, 1, 2]).tolist()
    assert got["log_loss"] == pytest.approx(metrics.log_loss(ds.y_test, proba, labels=[0, 1, 2]), rel=1e-5)
    summary = json.loads((run / "summary.json").read_text())
    assert got["accuracy"] == summary["final"]["test"]["accuracy"]
    assert got["classes"] == ["setosa", "versicolor", "virginica"]


def test_evaluate_prints_no_warnings(iris_run, nncli):
    run, _ = iris_run
    r = nncli("evaluate", run)
    assert r.code == 0, r.err
    assert "Warning" not in r.err
    assert "accuracy" in r.out and "confusion matrix" in r.out  # the tables are the result
    assert "30 samples" in r.out


def test_evaluate_on_a_csv_file(iris_run, tmp_path):
    from sklearn.datasets import load_iris

    run, _ = iris_run
    iris = load_iris()
    X, y = iris.data[::3], iris.target[::3]
    data = tmp_path / "some.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(iris.feature_names) + ["species"])
        w.writerows([list(map(float, x)) + [iris.target_names[t]] for x, t in zip(X, y)])
    result = invoke("evaluate", run, "--data", data, "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    arrays = load_arrays(run / "model.npz")
    pred = forward(arrays, scale(arrays, X)).argmax(axis=1)
    assert got["samples"] == len(X) == 50
    assert got["data"] == str(data)
    assert got["accuracy"] == metrics.accuracy_score(y, pred)
    assert sum(map(sum, got["confusion_matrix"])) == 50


def test_evaluate_regression_run(tmp_path, nncli):
    cfg = write(tmp_path / "diabetes.yaml", DIABETES)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    run = Path(r.out.strip())
    r = nncli("evaluate", run, "--json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    ds = recreated_split(cfg)
    arrays = load_arrays(run / "model.npz")
    assert str(arrays["target.scaling"]) == "standard"
    out = unscale(arrays, forward(arrays, ds.X_test))
    assert got["task"] == "regression" and got["samples"] == len(ds.X_test)
    assert got["mse"] == pytest.approx(metrics.mean_squared_error(ds.y_test, out), rel=1e-5)
    assert got["rmse"] == pytest.approx(got["mse"] ** 0.5)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(ds.y_test, out), rel=1e-5)
    assert got["r2"] == pytest.approx(metrics.r2_score(ds.y_test, out), rel=1e-5)
    summary = json.loads((run / "summary.json").read_text())
    assert got["r2"] == pytest.approx(summary["final"]["test"]["r2"], rel=1e-5)
    assert "accuracy" not in got


def test_evaluate_unknown_run(tmp_path, nncli):
    r = nncli("evaluate", "no-such-run", "--runs-dir", tmp_path)
    assert r.code == 4 and "no-such-run" in r.err


# ---------------------------------------------------------------- predict
def iris_features_csv(path: Path, n: int = 12) -> tuple[Path, np.ndarray]:
    from sklearn.datasets import load_iris

    iris = load_iris()
    X = iris.data[::150 // n][:n]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(reversed(iris.feature_names))  # columns are matched by name, not position
        w.writerows([list(map(float, reversed(x))) for x in X])
    return path, X


def test_predict_classes_with_probabilities(iris_run, tmp_path):
    run, _ = iris_run
    data, X = iris_features_csv(tmp_path / "in.csv")
    result = invoke("predict", run, "--input", data)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    names = ["setosa", "versicolor", "virginica"]
    assert list(rows[0]) == ["prediction"] + [f"p_{c}" for c in names]
    assert len(rows) == len(X)
    proba = np.array([[float(r[f"p_{c}"]) for c in names] for r in rows])
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    arrays = load_arrays(run / "model.npz")
    expected = softmax(forward(arrays, scale(arrays, X)))
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    assert [r["prediction"] for r in rows] == [names[k] for k in expected.argmax(axis=1)]


def test_predict_output_file_is_not_overwritten_without_force(iris_run, tmp_path, nncli):
    run, _ = iris_run
    data, X = iris_features_csv(tmp_path / "in.csv")
    out = write(tmp_path / "out.csv", "precious\n")
    r = nncli("predict", run, "--input", data, "--output", out)
    assert r.code == 2
    assert str(out) in r.err and "--force" in r.err
    assert out.read_text() == "precious\n"
    r = nncli("predict", run, "--input", data, "--output", out, "--force")
    assert r.code == 0, r.err
    assert r.out == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(X) and "p_virginica" in rows[0]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_predict_regression_values(tmp_path, nncli):
    from sklearn.datasets import load_diabetes

    cfg = write(tmp_path / "diabetes.yaml", DIABETES)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    run = Path(r.out.strip())
    bunch = load_diabetes()
    X = bunch.data[:7]
    data = tmp_path / "in.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(bunch.feature_names)
        w.writerows(X.tolist())
    r = nncli("predict", run, "--input", data)
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert list(rows[0]) == ["prediction"]
    arrays = load_arrays(run / "model.npz")
    expected = unscale(arrays, forward(arrays, scale(arrays, X)))[:, 0]
    np.testing.assert_allclose([float(r["prediction"]) for r in rows], expected, rtol=1e-5)


def test_predict_with_a_missing_column(iris_run, tmp_path, nncli):
    run, _ = iris_run
    data = write(tmp_path / "in.csv", "sepal length (cm),petal width (cm)\n1,2\n")
    r = nncli("predict", run, "--input", data)
    assert r.code == 4
    assert "sepal width (cm)" in r.err and str(data) in r.err


# ---------------------------------------------------------------- runs
@pytest.fixture
def three_runs(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    runs = tmp_path / "runs"
    for epochs, name in ((1, "one"), (8, "eight"), (3, "three")):
        r = nncli("train", cfg, "--runs-dir", runs, "--quiet", "--set", f"training.epochs={epochs}",
                  "--set", f"name={name}", "--set", "optimizer.lr=0.02")
        assert r.code == 0, r.err
    return runs


def test_runs_table_lists_every_run(three_runs, nncli):
    r = nncli("runs", three_runs)
    assert r.code == 0, r.err
    assert "3 runs" in r.err  # piped: the table is the result, the title a message
    for run in run_dirs(three_runs):
        assert run.name in r.out  # whole names, even when stdout is not a terminal
    assert r.out.count("finished") == 3


def test_runs_json_and_sort_by_test_score(three_runs):
    result = invoke("runs", three_runs, "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["dir"] for r in rows] == [str(p) for p in run_dirs(three_runs)]
    assert {r["name"] for r in rows} == {"one", "eight", "three"}
    assert all(r["status"] == "finished" for r in rows)

    result = invoke("runs", three_runs, "--json", "--sort", "test")
    rows = json.loads(result.stdout)
    scores = [r["final"]["test"]["accuracy"] for r in rows]
    assert len(set(scores)) == 3  # distinct, so the order is determined
    assert scores == sorted(scores, reverse=True)


def test_runs_bad_sort_suggests(three_runs, nncli):
    r = nncli("runs", three_runs, "--sort", "tset")
    assert r.code == 2
    assert "did you mean 'test'" in r.err
    assert "Traceback" not in r.err


def test_runs_of_an_empty_or_missing_directory(tmp_path, nncli):
    (tmp_path / "empty").mkdir()
    result = invoke("runs", tmp_path / "empty", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    r = nncli("runs", tmp_path / "none")
    assert r.code == 4 and "no such runs directory" in r.err


# ---------------------------------------------------------------- config
def test_config_show_prints_resolved_yaml_that_validates(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    result = invoke("config", "show", cfg, "--set", "optimizer.lr=0.5")
    assert result.exit_code == 0
    shown = load_config("-", text=result.stdout)
    expected = load_config(cfg, ["optimizer.lr=0.5"])
    assert config_to_dict(shown) == config_to_dict(expected)
    data = yaml.safe_load(result.stdout)
    assert data["optimizer"]["lr"] == 0.5
    assert data["training"]["dtype"] == "float32"  # defaults filled in


def test_config_schema_is_json_schema():
    result = invoke("config", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"name", "data", "model", "optimizer", "training"} <= set(schema["properties"])


def test_config_validate(tmp_path, nncli):
    good = write(tmp_path / "good.yaml", IRIS)
    r = nncli("config", "validate", good)
    assert r.code == 0 and r.out == f"{good}: ok\n"
    bad = write(tmp_path / "bad.yaml", IRIS.replace("lr: 0.01", "lr: fast"))
    r = nncli("config", "validate", bad)
    assert r.code == 2
    assert "optimizer.lr" in r.err and "'fast'" in r.err and r.out == ""
    r = nncli("config", "validate", "-", stdin=IRIS)
    assert r.code == 0


# ---------------------------------------------------------------- help, version
def test_help_is_quick_and_imports_nothing_heavy():
    code = ("import sys, time; t = time.perf_counter(); sys.argv = ['nncli', '--help']\n"
            "from nncli.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
            "heavy = [m for m in ('numpy', 'sklearn', 'pydantic', 'yaml') if m in sys.modules]\n"
            "print(rc, heavy, time.perf_counter() - t, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("0 []"), proc.stderr
    assert float(last.rsplit(" ", 1)[1]) < 3
    assert "train" in proc.stdout and "Exit codes" in proc.stdout


def test_version():
    import nncli

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"nncli {nncli.__version__}\n"
    assert nncli.__version__ == "0.2.0"  # writes run files of format 2, which says "nncli 0.2"


def test_subcommand_help():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    assert "--resume" in result.stdout and "--set" in result.stdout


# ---------------------------------------------------------------- shipped configs
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_config_trains_two_epochs(path, tmp_path, nncli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = nncli("train", path, "--runs-dir", tmp_path / "runs", "--quiet", "--set", "training.epochs=2")
    assert r.code == 0, r.err
    summary = json.loads((Path(r.out.strip()) / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_run"] == 2


def test_configs_are_found():
    assert SHIPPED, "no configs/*.yaml found"


# ---------------------------------------------------------------- colour
def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TERM", "COLUMNS")}
    env.update(extra)
    return env


def test_no_ansi_codes_when_stderr_is_not_a_terminal(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    for env in (_env(), _env(NO_COLOR="1")):
        ok = subprocess.run([sys.executable, "-m", "nncli", "train", str(cfg), "--runs-dir", str(tmp_path / "r")],
                            check=False, capture_output=True, text=True, env=env, timeout=120)
        assert ok.returncode == 0, ok.stderr
        assert "epoch 3/3" in ok.stderr and "test" in ok.stderr
        bad = subprocess.run([sys.executable, "-m", "nncli", "train", str(tmp_path / "missing.yaml")],
                             check=False, capture_output=True, text=True, env=env, timeout=120)
        assert bad.returncode == 2 and bad.stderr.startswith("error: ")
        for text in (ok.stdout, ok.stderr, bad.stderr):
            assert "\x1b" not in text, text


def _run_in_pty(args, env):
    """Run nncli with stderr on a pseudo-terminal; returns (exit code, bytes written to it)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed
            break
        if not chunk:
            break
        seen += chunk
    proc.stdout.read()
    proc.wait(timeout=120)
    os.close(leader)
    return proc.returncode, seen


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal_means_plain_text(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    rc, seen = _run_in_pty(["train", cfg, "--runs-dir", tmp_path / "r"], _env(NO_COLOR="1", TERM="xterm"))
    assert rc == 0
    assert b"test" in seen and b"\x1b" not in seen, seen[:300]
    rc, seen = _run_in_pty(["train", tmp_path / "missing.yaml"], _env(NO_COLOR="1", TERM="xterm"))
    assert rc == 2 and seen.startswith(b"error: ") and b"\x1b" not in seen
    # without NO_COLOR a terminal does get colour, so the check above can fail
    rc, seen = _run_in_pty(["train", tmp_path / "missing.yaml"], _env(TERM="xterm"))
    assert rc == 2 and b"\x1b[" in seen


# ---------------------------------------------------------------- transfer learning
def test_transfer_learning_freezes_the_first_layer_and_renews_a_head_of_another_size(tmp_path, nncli):
    base_cfg = write(tmp_path / "base.yaml", "name: base\ndata: {dataset: digits, subset: 400}\n"
                                            "model: {hidden: [16]}\ntraining: {epochs: 2}\n")
    r = nncli("train", base_cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    base = Path(r.out.strip())
    # five classes instead of ten: the hidden layer carries over, the output layer cannot
    tuned_cfg = write(tmp_path / "tuned.yaml", f"name: tuned\ndata: {{dataset: digits, subset: 400, params: {{n_class: 5}}}}\n"
                                              f"model: {{hidden: [16], init_from: '{base}', freeze: 1}}\n"
                                              "training: {epochs: 3}\n")
    r = nncli("train", tuned_cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    tuned = Path(r.out.strip())
    a, b = load_arrays(base / "model.npz"), load_arrays(tuned / "model.npz")
    np.testing.assert_array_equal(a["net.dense0.W"], b["net.dense0.W"])  # frozen: never moved
    np.testing.assert_array_equal(a["net.dense0.b"], b["net.dense0.b"])
    assert b["net.dense1.W"].shape == (16, 5) != a["net.dense1.W"].shape
    transfer = json.loads((tuned / "summary.json").read_text())["transfer"]
    assert transfer == {"from": str(base), "loaded": ["dense0"], "reinitialized": ["dense1"],
                        "frozen": ["dense0", "relu0"]}  # the first block: the dense layer and its activation


def test_transfer_from_a_model_that_shares_nothing_is_a_config_error(tmp_path, nncli):
    base_cfg = write(tmp_path / "base.yaml", "name: base\ndata: {dataset: iris}\nmodel: {hidden: [3]}\n"
                                            "training: {epochs: 1}\n")
    base = Path(nncli("train", base_cfg, "--runs-dir", tmp_path / "runs", "--quiet").out.strip())
    cfg = write(tmp_path / "other.yaml", f"name: other\ndata: {{dataset: digits, subset: 200}}\n"
                                        f"model: {{hidden: [7], init_from: '{base}'}}\ntraining: {{epochs: 1}}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 2 and "model.init_from" in r.err
    assert run_dirs(tmp_path / "runs") == [base]
