"""Damaged, crafted and edited run files: a checkpoint with bad contents falls back to the
previous one, a model file that cannot be trusted is one line and exit 4, and a config.yaml
edited after training is refused naming the keys that differ."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import SMALL, load_arrays, run_dirs, write

from nncli import runner, runs
from nncli.atomic import load_npz, save_npz
from nncli.config import load_config
from nncli.errors import Interrupted, RunError
from nncli.nn import Callback

IRIS = """\
name: iris
seed: 1
data: {dataset: iris, validation: 0.2, test: 0.2}
model: {hidden: [8], activation: relu}
training: {epochs: 3, batch_size: 16}
"""
FEATURES = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"


def summary_of(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def one_line(r, code: int = 4) -> None:
    assert r.code == code, (r.code, r.err)
    assert "Traceback" not in r.err and r.out == ""
    # the error and any continuation lines; training may first print a line about its data
    errors = [line for line in r.err.strip().splitlines() if line.startswith(("error: ", " "))]
    assert len(errors) == 1 and r.err.strip().splitlines()[-1] == errors[0], r.err


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("baseline")
    return runner.train(load_config(write(root / "cfg.yaml", SMALL)), runs_dir=root / "runs")[0]


@pytest.fixture(scope="module")
def interrupted_template(tmp_path_factory) -> Path:
    """A SMALL run stopped in epoch 4 after batch 2: a mid-epoch checkpoint (with the batch
    order) and, as checkpoint.prev.npz, the one before it."""
    root = tmp_path_factory.mktemp("interrupted")
    stop = runner.StopFlag()

    class StopAt(Callback):
        def on_batch_end(self, trainer, epoch, batch):
            if (epoch, batch) == (3, 1):
                stop.signame = "sigint"

    with pytest.raises(Interrupted):
        runner.train(load_config(write(root / "cfg.yaml", SMALL)), runs_dir=root / "runs", callbacks=[StopAt()],
                     stop=stop)
    (run,) = run_dirs(root / "runs")
    return run


@pytest.fixture
def interrupted(interrupted_template, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(interrupted_template, tmp_path / "runs" / interrupted_template.name))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("finished")
    run = runner.train(load_config(write(root / "cfg.yaml", IRIS)), runs_dir=root / "runs")[0]
    return run, write(root / "features.csv", FEATURES)


@pytest.fixture
def iris_run(finished, tmp_path) -> tuple[Path, Path]:
    import shutil

    run, features = finished
    return Path(shutil.copytree(run, tmp_path / "runs" / run.name)), features


def same_as(run: Path, reference: Path) -> None:
    a, b = load_arrays(run / "model.npz"), load_arrays(reference / "model.npz")
    for k in a:
        if k.startswith(("net.", "prep.")):
            assert np.array_equal(a[k], b[k]), k


# ---------------------------------------------------------------- checkpoints with bad contents
def _meta(arrays, **changes):
    meta = json.loads(str(arrays["trainer.meta"]))
    meta.update(changes)
    arrays["trainer.meta"] = np.array(json.dumps(meta))


def _perm(arrays, fn):
    arrays["trainer.perm"] = fn(arrays["trainer.perm"])


def _first_weight(arrays, fn):
    key = sorted(k for k in arrays if k.startswith("net.") and k.endswith(".W"))[0]
    arrays[key] = fn(arrays[key])


def _first_opt(arrays, fn):
    key = sorted(k for k in arrays if k.startswith("opt.") and arrays[k].ndim > 0)[0]
    arrays[key] = fn(arrays[key])


BAD_CONTENTS = {
    "perm-out-of-range": lambda a: _perm(a, lambda p: p + 5),  # np.take(mode="clip") once clamped it
    "perm-repeats": lambda a: _perm(a, lambda p: np.zeros_like(p)),
    "perm-too-short": lambda a: _perm(a, lambda p: np.argsort(p[:-1])),
    "perm-floats": lambda a: _perm(a, lambda p: p.astype(float)),
    "perm-2d": lambda a: _perm(a, lambda p: p.reshape(1, -1)),
    "perm-missing": lambda a: a.pop("trainer.perm"),
    "rng-state-bad": lambda a: _meta(a, rng={"bit_generator": "PCG64", "state": {"state": "x", "inc": 1},
                                            "has_uint32": 0, "uinteger": 0}),
    "rng-other-kind": lambda a: _meta(a, rng=np.random.MT19937(1).state | {"state": {"key": [1], "pos": 0}}),
    "rng-not-a-dict": lambda a: _meta(a, rng=[1, 2]),
    "layer-rng-missing": lambda a: _meta(a, layer_rng={}),
    "epoch-string": lambda a: _meta(a, epoch="3"),
    "batch-negative": lambda a: _meta(a, batch=-1),
    "batch-past-the-end": lambda a: _meta(a, batch=99),
    "partial-short": lambda a: _meta(a, partial=[0.0]),
    "best-without-weights": lambda a: a.pop("trainer.best_theta"),
    "best-epoch-zero": lambda a: _meta(a, best={"value": 0.5, "epoch": 0}),
    "history-1d": lambda a: a.update({"trainer.history": a["trainer.history"].ravel()}),
    "history-rows": lambda a: a.update({"trainer.history": a["trainer.history"][:-1]}),
    "history-epochs": lambda a: a["trainer.history"].__setitem__((0, 0), 7.0),
    "weights-transposed": lambda a: _first_weight(a, lambda w: w.T.copy()),
    "weights-nan": lambda a: _first_weight(a, lambda w: np.full_like(w, np.nan)),
    "weights-text": lambda a: _first_weight(a, lambda w: np.array(["x"] * w.size)),
    "weights-missing": lambda a: _first_weight(a, lambda w: w[:0]),
    "optimizer-shape": lambda a: _first_opt(a, lambda m: m[:-1]),
    "extra-layer": lambda a: a.update({"net.dense9.W": np.zeros((2, 2))}),
    "meta-list": lambda a: a.update({"trainer.meta": np.array("[1, 2]")}),
    "meta-bytes": lambda a: a.update({"trainer.meta": np.array(b"{}")}),
}


@pytest.mark.parametrize("damage", list(BAD_CONTENTS))
def test_a_checkpoint_with_bad_contents_falls_back_to_the_previous_one(damage, interrupted, baseline, nncli):
    run = interrupted
    path = run / runs.CHECKPOINT_FILE
    arrays = load_npz(path)
    assert json.loads(str(arrays["trainer.meta"]))["batch"] > 0 and "trainer.perm" in arrays
    BAD_CONTENTS[damage](arrays)
    save_npz(path, arrays)
    r = nncli("train", "--resume", run, "--runs-dir", run.parent, "--quiet")
    assert r.code == 0, r.err
    summary = summary_of(run)
    assert summary["status"] == "finished" and summary["resumed"][-1]["from"] == "checkpoint.prev.npz"
    same_as(run, baseline)


def test_both_checkpoints_with_bad_contents_name_both_and_change_nothing(interrupted, nncli):
    for name in (runs.CHECKPOINT_FILE, runs.CHECKPOINT_PREV_FILE):
        arrays = load_npz(interrupted / name)
        _first_weight(arrays, lambda w: w.T.copy())
        save_npz(interrupted / name, arrays)
    r = nncli("train", "--resume", interrupted, "--runs-dir", interrupted.parent)
    one_line(r)
    assert "checkpoint.npz: bad contents" in r.err and "checkpoint.prev.npz: bad contents" in r.err
    assert summary_of(interrupted)["status"] == "killed"


# ---------------------------------------------------------------- damaged zip and npy structure
def _central(path: Path, offset: int, fmt: str, value) -> None:
    """Set a field of every central-directory entry (offset from the entry's signature)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into(fmt, data, at + offset, value)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def _npy_header(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite the npy header of every member (keeping the zip valid around it)."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw.replace(old, new, 1))


ZIP_DAMAGE = {
    "encrypted": lambda p: _central(p, 8, "<H", 0x1),  # RuntimeError: ... is encrypted
    "compression-method": lambda p: _central(p, 10, "<H", 99),  # NotImplementedError
    "flag-bit-5": lambda p: _central(p, 8, "<H", 0x20),  # NotImplementedError: compressed patched data
    "npy-header-syntax": lambda p: _npy_header(p, b"'shape': (", b"'shape': (("),
    "npy-header-tokens": lambda p: _npy_header(p, b"{'descr'", b"{'''descr'"),
    "npy-declares-more": lambda p: _npy_header(p, b"'shape': (", b"'shape': (99999999999, "),
    "npy-version": lambda p: _npy_header(p, b"\x93NUMPY\x01", b"\x93NUMPY\x07"),
    "npy-object": lambda p: _npy_header(p, b"'descr': '<f", b"'descr': '|O"),
    "not-npy": lambda p: _npy_header(p, b"\x93NUMPY", b"PK\x03\x04XX"),
}


@pytest.mark.parametrize("damage", list(ZIP_DAMAGE))
def test_a_damaged_model_file_is_one_line_exit_4(damage, iris_run, nncli):
    run, features = iris_run
    ZIP_DAMAGE[damage](run / runs.MODEL_FILE)
    one_line(nncli("evaluate", run, "--runs-dir", run.parent))
    one_line(nncli("predict", run, "--input", features, "--runs-dir", run.parent))
    r = nncli("evaluate", run, "--runs-dir", run.parent)
    assert "model.npz: corrupt or not an nncli file" in r.err


@pytest.mark.parametrize("damage", list(ZIP_DAMAGE))
def test_a_damaged_checkpoint_file_falls_back(damage, interrupted, baseline, nncli):
    ZIP_DAMAGE[damage](interrupted / runs.CHECKPOINT_FILE)
    r = nncli("train", "--resume", interrupted, "--runs-dir", interrupted.parent, "--quiet")
    assert r.code == 0, r.err
    assert summary_of(interrupted)["resumed"][-1]["from"] == "checkpoint.prev.npz"
    same_as(interrupted, baseline)


def test_arrays_larger_than_memory_are_refused_before_reading(tmp_path):
    save_npz(tmp_path / "a.npz", {"W": np.zeros((100, 100))})
    with pytest.raises(RunError, match="would take 78.2 KB in memory, more than the 1.0 KB available"):
        load_npz(tmp_path / "a.npz", limit=1024)
    # a member that declares a size its data does not have (a decompression bomb's trick)
    np.savez_compressed(tmp_path / "b.npz", W=np.zeros(10_000))
    _central(tmp_path / "b.npz", 24, "<I", 200)  # the uncompressed size in the central directory
    with pytest.raises(RunError, match="corrupt or not an nncli file"):
        load_npz(tmp_path / "b.npz")


# ---------------------------------------------------------------- crafted model metadata
def _model_meta(arrays, **changes):
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))


CRAFTED_MODELS = {
    "meta-list": (lambda a: a.update({"meta": np.array("[1]")}), "meta is a JSON list"),
    "meta-missing": (lambda a: a.pop("meta"), "no meta"),
    "meta-number": (lambda a: a.update({"meta": np.array(3.0)}), "meta is not JSON text"),
    "no-n_in": (lambda a: _model_meta(a, n_in=None), "meta.n_in"),
    "n_in-text": (lambda a: _model_meta(a, n_in="4"), "meta.n_in"),
    "n_in-huge": (lambda a: _model_meta(a, n_in=10 ** 12), "inputs"),
    "n_out-zero": (lambda a: _model_meta(a, n_out=0), "meta.n_out"),
    "task-unknown": (lambda a: _model_meta(a, task="ranking"), "meta.task"),
    "loss-unknown": (lambda a: _model_meta(a, loss="nope"), "nope"),
    "output-unknown": (lambda a: _model_meta(a, output="nope"), "nope"),
    "feature-names": (lambda a: _model_meta(a, feature_names="abc"), "meta.feature_names"),
    "one-class": (lambda a: a.update({"classes": a["classes"][:1]}), "classes"),
    "classes-2d": (lambda a: a.update({"classes": a["classes"].reshape(1, -1)}), "classes"),
    "no-classes": (lambda a: a.pop("classes"), "classes"),
    "nan-weights": (lambda a: a.update({"net.dense0.W": a["net.dense0.W"] * np.nan}), "NaN"),
    "inf-scale": (lambda a: a.update({"prep.scale": a["prep.scale"] + np.inf}), "NaN or infinite"),
    "weights-shape": (lambda a: a.update({"net.dense0.W": a["net.dense0.W"].T.copy()}), "shape"),
    "features-huge": (lambda a: a.update({"prep.n_features_in": np.array(10 ** 9)}), "prep.n_features_in"),
    "degree-huge": (lambda a: a.update({"prep.degree": np.array(10 ** 6)}), "model"),
}


@pytest.mark.parametrize("craft", list(CRAFTED_MODELS))
def test_crafted_model_metadata_is_one_line_exit_4(craft, iris_run, nncli):
    run, features = iris_run
    arrays = load_npz(run / runs.MODEL_FILE)
    change, says = CRAFTED_MODELS[craft]
    change(arrays)
    save_npz(run / runs.MODEL_FILE, arrays)
    r = nncli("evaluate", run, "--runs-dir", run.parent)
    one_line(r)
    assert "model.npz" in r.err and says in r.err
    one_line(nncli("predict", run, "--input", features, "--runs-dir", run.parent))


# ---------------------------------------------------------------- config.yaml edited after training
@pytest.mark.parametrize("edit, key", [
    (("activation: relu", "activation: tanh"), "model.activation: 'relu' -> 'tanh'"),
    (("dataset: iris", "dataset: wine"), "data.dataset: 'iris' -> 'wine'"),
    (("seed: 1", "seed: 2"), "seed: 1 -> 2"),
])
def test_an_edited_config_is_refused_by_evaluate_and_predict(edit, key, iris_run, nncli):
    run, features = iris_run
    path = run / "config.yaml"
    path.write_text(path.read_text().replace(*edit))
    for args in (("evaluate", run), ("predict", run, "--input", features)):
        r = nncli(*args, "--runs-dir", run.parent)
        one_line(r)
        assert "config.yaml differs from the config saved with the weights" in r.err and key in r.err


def test_descriptive_edits_are_allowed(iris_run, nncli):
    run, features = iris_run
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("description: ''", "description: 'the first try'"))
    assert nncli("evaluate", run, "--runs-dir", run.parent).code == 0


def test_an_edited_config_is_refused_by_resume(interrupted, nncli):
    path = interrupted / "config.yaml"
    path.write_text(path.read_text().replace("lr: 0.01", "lr: 0.5"))
    r = nncli("train", "--resume", interrupted, "--runs-dir", interrupted.parent)
    one_line(r)
    assert "optimizer.lr: 0.01 -> 0.5" in r.err and "checkpoint.npz" in r.err
    assert summary_of(interrupted)["status"] == "killed"


def test_a_changed_dataset_without_a_saved_config_is_still_one_line(iris_run, nncli):
    """Runs written before configs were saved with the weights: the data's shape is checked."""
    run, _ = iris_run
    arrays = load_npz(run / runs.MODEL_FILE)
    del arrays["config"], arrays["config_sha256"]
    save_npz(run / runs.MODEL_FILE, arrays)
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("dataset: iris", "dataset: wine"))
    one_line(nncli("evaluate", run, "--runs-dir", run.parent))


@pytest.mark.parametrize("text", ["{{{", "model: {hidden: [0]}\n", "", "- a list\n"])
def test_a_damaged_config_inside_a_run_exits_4(text, iris_run, interrupted, nncli):
    run, features = iris_run
    (run / "config.yaml").write_text(text)
    (interrupted / "config.yaml").write_text(text)
    for args in (("evaluate", run, "--runs-dir", run.parent),
                 ("predict", run, "--input", features, "--runs-dir", run.parent),
                 ("train", "--resume", interrupted, "--runs-dir", interrupted.parent)):
        r = nncli(*args)
        one_line(r)
        assert "config.yaml is damaged" in r.err


@pytest.mark.parametrize("damage", ["npy-declares-more", "encrypted", "compression-method"])
def test_a_damaged_model_as_init_from_is_one_line_exit_4(damage, iris_run, tmp_path, nncli):
    run, _ = iris_run
    ZIP_DAMAGE[damage](run / runs.MODEL_FILE)
    cfg = write(tmp_path / "transfer.yaml", IRIS)
    r = nncli("train", cfg, "--set", f"model.init_from='{run}'", "--runs-dir", tmp_path / "new")
    one_line(r)
    assert "model.npz: corrupt or not an nncli file" in r.err
    assert not (tmp_path / "new").exists() or not run_dirs(tmp_path / "new")
