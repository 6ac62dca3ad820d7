"""Pictures: every shipped config trains and plots the pictures of its task, as valid PNG files
of the stated size that are not blank; the command's options, its errors, and training's
automatic learning curves."""

from __future__ import annotations

import contextlib
import io
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from helpers import run_dirs, write

from nncli import canvas, figures, plots, rundata
from nncli.cli import main

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
EPOCHS = 4
# the pictures of each shipped config's predictions (learning curves come with every run)
TASK_PICTURES = {
    "breast_cancer": {"confusion_matrix", "roc_pr"},
    "diabetes": {"regression"},
    "digits": {"confusion_matrix"},
    "digits_sigmoid": {"confusion_matrix"},
    "digits_cnn": {"confusion_matrix"},
    "iris": {"confusion_matrix"},
    "linear_regression": {"regression"},
    "logistic_regression": {"confusion_matrix", "roc_pr"},
    "moons": {"confusion_matrix", "roc_pr", "decision_boundary"},
    "polynomial_regression": {"regression"},
    "regression_1d": {"regression"},
    "wine": {"confusion_matrix"},
}
IRIS = ("name: iris\nseed: 1\ndata: {dataset: iris}\nmodel: {hidden: [8]}\noptimizer: {lr: 0.01}\n"
        "training: {epochs: 3}\n")


def cli(*args) -> tuple[int, str, str]:
    """``main()`` in this process with these arguments: (exit code, stdout, stderr). Usable from
    module-scoped fixtures; puts back the signal handlers that ``train`` installs."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["nncli", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
        for s, h in handlers.items():
            signal.signal(s, h)
    return code, out.getvalue(), err.getvalue()


def check_png(path: Path, size: tuple[int, int]) -> None:
    """A decodable PNG of ``size`` (width, height) pixels that is not blank."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    pixels = imread(path)  # (height, width, 4) floats in [0, 1]
    assert pixels.shape[:2] == (size[1], size[0]), (path.name, pixels.shape)
    rgb = pixels[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05, f"{path} is almost one colour"
    colours = np.unique((rgb * 255).round().astype(np.uint8), axis=0)
    assert len(colours) > 20, f"{path} has only {len(colours)} colours"
    assert (rgb > 0.9).all(axis=1).mean() > 0.1, f"{path} has no white margin"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Every shipped config trained for a few epochs with ``nncli train``, once for the module
    (without the automatic picture, which ``test_training_leaves_its_learning_curves`` checks)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for path in CONFIGS:
        code, stdout, stderr = cli("train", path, "--runs-dir", root, "--quiet",
                                   "--set", f"training.epochs={EPOCHS}", "--set", "plots=false")
        assert code == 0, stderr
        out[path.stem] = Path(stdout.strip())
    return out


def test_every_shipped_config_has_its_pictures_listed():
    assert set(TASK_PICTURES) == {p.stem for p in CONFIGS}


@pytest.mark.parametrize("name", sorted(TASK_PICTURES))
def test_train_then_plot_draws_the_pictures_of_the_task(name, trained, tmp_path):
    run = trained[name]
    code, out, err = cli("plot", run, "--out", tmp_path)
    assert code == 0, err
    written = [Path(line) for line in out.split()]
    assert all(p.parent == tmp_path / run.name for p in written)
    stems = {p.stem for p in written}
    lr_moved = len({row["lr"] for row in rundata.read_history(run)}) > 1
    assert stems == {"learning_curves"} | TASK_PICTURES[name] | ({"lr_schedule"} if lr_moved else set())
    for p in written:
        check_png(p, canvas.SIZES[p.stem])


def test_a_step_schedule_gets_its_learning_rate_picture(trained):
    history = rundata.read_history(trained["digits_sigmoid"])
    assert [round(r["lr"] / history[0]["lr"], 6) for r in history] == [1.0, 0.6, 0.36, 0.216]
    assert plots.lr_changed(rundata.read_run(trained["digits_sigmoid"]))
    assert not plots.lr_changed(rundata.read_run(trained["digits"]))  # constant: no picture


def test_several_runs_are_overlaid_with_a_legend_from_their_differences(trained, tmp_path, monkeypatch):
    from matplotlib.image import imread

    monkeypatch.chdir(tmp_path)
    code, out, err = cli("plot", trained["iris"], trained["wine"], trained["diabetes"], "--out", "pictures")
    assert code == 0, err
    files = out.split()
    # one comparison for the classifiers, in --out; a lone regression run has nothing to compare
    assert files[-1] == "pictures/compare_learning_curves.png"
    assert not [f for f in files if "compare" in f and f != files[-1]]
    assert {Path(f).parent.name for f in files[:-1]} == {trained[n].name for n in ("iris", "wine", "diabetes")}
    shape = imread(tmp_path / files[-1]).shape
    width, height = canvas.SIZES["learning_curves"]
    assert shape[1] == width and shape[0] > height  # the legend adds rows below the axes
    check_png(tmp_path / files[-1], (width, shape[0]))
    labels = rundata.labels([rundata.read_run(trained["iris"]), rundata.read_run(trained["wine"])])
    assert labels[0].startswith("data.dataset=iris") and labels[1].startswith("data.dataset=wine")


def test_legend_labels_name_only_the_keys_that_differ(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    # the sweep's directory is tmp_path/runs: a directory of runs, one per trial
    code, out, err = cli("sweep", cfg, "--runs-dir", tmp_path, "--name", "runs", "--quiet", "--set", "plots=false",
                         "--grid", "optimizer.lr=[0.1, 0.01]", "--grid", "model.hidden=[[4], [8, 8]]")
    assert code == 0, err
    run_list = [rundata.read_run(p) for p in run_dirs(tmp_path / "runs")]
    assert not any((p / "learning_curves.png").exists() for p in run_dirs(tmp_path / "runs"))
    assert sorted(rundata.labels(run_list)) == sorted([
        "model.hidden=[4], optimizer.lr=0.1", "model.hidden=[8, 8], optimizer.lr=0.1",
        "model.hidden=[4], optimizer.lr=0.01", "model.hidden=[8, 8], optimizer.lr=0.01"])
    # runs picked by a glob pattern over their names, by a directory of runs, or one by one;
    # a sweep's trials in the order of their names (t000, t001, ...)
    by_name = run_dirs(tmp_path / "runs")
    assert [p.name[:4] for p in by_name] == ["t000", "t001", "t002", "t003"]
    assert rundata.select_runs(["t00*"], tmp_path / "runs") == by_name
    assert rundata.select_runs([str(tmp_path / "runs")]) == by_name
    second = by_name[1]
    assert rundata.select_runs([second.name, second.name], tmp_path / "runs") == [second]


def test_what_differs_is_said_with_dotted_keys():
    a = {"name": "a", "data": {"params": {}}, "model": {"hidden": [64]}, "optimizer": {"lr": 0.01}}
    b = {"name": "b", "data": {"params": {"noise": 0.2}}, "model": {"hidden": [64]}, "optimizer": {"lr": 0.1}}
    assert rundata.differing_keys([a, b]) == ["data.params.noise", "optimizer.lr"]  # never the name
    assert rundata.differing_keys([a, b], skip=set()) == ["name", "data.params.noise", "optimizer.lr"]
    runs_ = [rundata.Run(Path(n), n, {}, c, [], "classification") for n, c in (("a", a), ("b", b))]
    assert rundata.labels(runs_) == ["data.params.noise=null, optimizer.lr=0.01",
                                     "data.params.noise=0.2, optimizer.lr=0.1"]
    assert rundata.labels(runs_[:1] * 2) == ["a", "a"]  # the same config: the names say which is which


def test_svg_format(trained, tmp_path):
    code, out, err = cli("plot", trained["iris"], "--out", tmp_path, "--format", "svg")
    assert code == 0, err
    files = [Path(p) for p in out.split()]
    assert files and all(p.suffix == ".svg" for p in files)
    for p in files:
        root = ET.parse(p).getroot()
        width, height = canvas.SIZES[p.stem]
        # sizes in points at 72 per inch: pixels * 72 / DPI
        assert root.get("width") == f"{width * 72 / canvas.DPI:g}pt", root.get("width")
        assert root.get("height") == f"{height * 72 / canvas.DPI:g}pt"
        assert "<text" in p.read_text()  # text stays text (svg.fonttype none), searchable and small
    assert {p.stem for p in files} == {"learning_curves", "confusion_matrix"}
    assert "accuracy per epoch" in (tmp_path / trained["iris"].name / "learning_curves.svg").read_text()


def test_bad_arguments_exit_2_or_4_with_one_line(trained, tmp_path):
    code, out, err = cli("plot", trained["iris"], "--format", "gif")
    assert code == 2 and out == "" and err.startswith("error: --format: expected one of png, svg, got 'gif'")
    code, out, err = cli("plot", "nothing-like-this", "--runs-dir", tmp_path)
    assert code == 4 and "no run 'nothing-like-this'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("plot", tmp_path)
    assert code == 4 and "neither a run directory nor a directory of runs" in err


def test_without_matplotlib_plot_exits_2_naming_the_extra_and_train_still_works(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    cfg = write(tmp_path / "iris.yaml", IRIS)
    code, out, err = cli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert code == 0, err
    run = Path(out.strip())
    assert not (run / "learning_curves.png").exists() and err == ""
    code, out, err = cli("plot", run)
    assert (code, out) == (2, "")
    assert err == 'error: matplotlib is not installed; install the plot extra: pip install "nncli[plot]"\n'
    code, out, err = cli("report", run, "-o", tmp_path / "r.html")
    assert code == 2 and "nncli[plot]" in err and not (tmp_path / "r.html").exists()


def test_a_failing_picture_never_fails_the_run(tmp_path, monkeypatch):
    def broken(run_dir):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(plots, "learning_curve_after_training", broken)
    cfg = write(tmp_path / "iris.yaml", IRIS)
    code, out, err = cli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert code == 0
    assert "note: no learning curve picture (RuntimeError: no fonts)" in err
    assert rundata.read_run(Path(out.strip())).summary["status"] == "finished"


def test_a_diverged_run_gets_its_learning_curves_too(tmp_path):
    # full-batch gradient descent at twice the stable step: the loss grows until it overflows
    code, out, err = cli("train", ROOT / "configs" / "linear_regression.yaml", "--runs-dir", tmp_path / "runs",
                         "--quiet", "--set", "optimizer.lr=2.0", "--set", "training.epochs=60")
    run = run_dirs(tmp_path / "runs")[0]
    history = rundata.read_history(run)
    assert code == 3 and rundata.read_run(run).summary["status"] == "failed"
    assert history, "the run must diverge after its first epoch for this test to mean anything"
    check_png(run / "learning_curves.png", canvas.SIZES["learning_curves"])
    # without a model there are no predictions to draw: a note, not a failure
    (run / "model.npz").unlink(missing_ok=True)
    code, out, err = cli("plot", run)
    assert code == 0 and "note:" in err and "model.npz" in err


def test_training_leaves_its_learning_curves_unless_plots_is_false(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    code, out, err = cli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert code == 0, err
    check_png(Path(out.strip()) / "learning_curves.png", canvas.SIZES["learning_curves"])
    cfg = write(tmp_path / "iris.yaml", IRIS + "plots: false\n")
    code, out, err = cli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert code == 0, err
    assert not (Path(out.strip()) / "learning_curves.png").exists()


# ---------------------------------------------------------------- drawing
def test_a_reused_canvas_draws_the_same_picture_as_a_fresh_one(trained):
    """Each kind of picture is drawn on one kept figure: drawing A, then B, then A again must
    give A's bytes, or a leftover of B (a scale, a colorbar, a limit) leaks into A."""
    a, b = (rundata.read_run(trained[n]) for n in ("moons", "digits_sigmoid"))
    outs = {n: rundata.model_outputs(r.dir) for n, r in (("a", a), ("b", b))}

    def pictures(run, o):
        got = {"curves": canvas.render(figures.learning_curves([run])),
               "lr": canvas.render(figures.lr_schedule(run))}
        for name, fig in plots.task_figures(run, o):
            got[name] = canvas.render(fig)
        return got

    canvas._canvases.clear()
    first = pictures(a, outs["a"])
    pictures(b, outs["b"])
    again = pictures(a, outs["a"])
    assert set(first) == {"curves", "lr", "confusion_matrix", "roc_pr", "decision_boundary"}
    assert {k: first[k] == again[k] for k in first} == {k: True for k in first}


def test_confusion_counts_equal_scikit_learn():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(0)
    for k in (2, 3, 10):
        y, p = rng.integers(0, k, 500), rng.integers(0, k, 500)
        p[:3] = k - 1  # the last class predicted at least once
        assert np.array_equal(figures.confusion_counts(y, p, k), confusion_matrix(y, p, labels=np.arange(k)))


def test_log_scale_rule():
    assert canvas.use_log([2.0, 0.1])  # 20x: a decade and more
    assert canvas.use_log([1.0, 0.1])  # exactly 10x
    assert not canvas.use_log([1.0, 0.11])
    assert not canvas.use_log([5.0, -1.0, 0.01])  # a negative loss cannot go on a log axis
    assert not canvas.use_log([3.0])
    assert canvas.use_log([1e4, None, float("nan"), 1.0])


def test_importing_the_picture_modules_does_not_import_matplotlib():
    code = ("import sys, nncli.cli, nncli.plots, nncli.report, nncli.figures, nncli.canvas; "
            "print(any(m.split('.')[0] == 'matplotlib' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "False"
