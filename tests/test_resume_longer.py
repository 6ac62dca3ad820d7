"""Resume a finished run with more epochs: it continues, bit-identical to a run that had the
larger count from the start; nothing else that changes the model may change, and a finished
run with nothing to change is refused without a trace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import load_arrays, write

from nncli import runner

SMALL = """\
name: small
data: {dataset: digits, subset: 300}
model: {hidden: [16], dropout: 0.1}
optimizer: {name: adam, lr: 0.01, schedule: {name: step, step_size: 2, gamma: 0.5}}
training: {epochs: 3, batch_size: 32, early_stopping: {patience: 50}}
"""


def train(nncli, cfg, runs, *args) -> Path:
    r = nncli("train", cfg, "--runs-dir", runs, "--quiet", *args)
    assert r.code == 0, r.err
    return Path(r.out.strip())


def same_files(a: Path, b: Path) -> None:
    for name in ("model.npz", "checkpoint.npz"):
        x, y = load_arrays(a / name), load_arrays(b / name)
        assert x.keys() == y.keys()
        for k in x:
            if k == "trainer.history":  # the seconds column differs; the numbers do not
                np.testing.assert_array_equal(x[k][:, :-1], y[k][:, :-1])
            elif k not in ("meta", "trainer.meta"):
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{name}:{k}")


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_more_epochs_continue_a_finished_run_bit_identically(tmp_path, nncli):
    cfg = write(tmp_path / "small.yaml", SMALL)
    run = train(nncli, cfg, tmp_path / "runs")
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--set", "training.epochs=7", "--quiet")
    assert r.code == 0, r.err
    assert r.out == f"{run}\n"
    straight = train(nncli, cfg, tmp_path / "straight", "--set", "training.epochs=7")
    same_files(run, straight)
    s = summary(run)
    assert s["status"] == "finished" and s["epochs_run"] == 7 and s["epochs"] == 7
    assert s["resumed"][-1]["changed"] == {"training.epochs": [3, 7]} and "note" not in s["resumed"][-1]
    assert "epochs: 7" in (run / "config.yaml").read_text()  # the run's config says what it is now
    assert (run / "metrics.csv").read_text().count("\n") == 8


def test_a_finished_run_with_nothing_to_change_is_refused_without_a_trace(tmp_path, nncli):
    cfg = write(tmp_path / "small.yaml", SMALL)
    run = train(nncli, cfg, tmp_path / "runs")
    before = (run / "summary.json").read_text()
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs")
    assert r.code == 2
    assert "is finished (3 of 3 epochs); nothing to resume" in r.err and "training.epochs=N" in r.err
    assert (run / "summary.json").read_text() == before  # no "resumed" entry
    r = nncli("train", cfg, "--resume", run, "--runs-dir", tmp_path / "runs")  # the same config, given again
    assert r.code == 2 and (run / "summary.json").read_text() == before


@pytest.mark.parametrize("args, says", [
    (["--set", "optimizer.lr=0.1"], "optimizer.lr differs from the run's saved config and cannot change on resume"),
    (["--set", "model.hidden=[8]", "--set", "seed=3"], "model.hidden, seed differ"),
    (["--set", "training.epochs=2"], "has trained 3 epochs; expected at least 3, got 2"),
])
def test_only_keys_that_do_not_change_the_model_may_change(args, says, tmp_path, nncli):
    cfg = write(tmp_path / "small.yaml", SMALL)
    run = train(nncli, cfg, tmp_path / "runs")
    before = (run / "summary.json").read_text()
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", *args)
    assert r.code == 2 and says in r.err, r.err
    assert (run / "summary.json").read_text() == before
    assert set(runner.RESUME_MAY_CHANGE) == {"training.epochs", "training.checkpoint_every", "description"}


def test_an_early_stopped_run_cannot_be_trained_longer(tmp_path, nncli):
    cfg = write(tmp_path / "es.yaml", SMALL.replace("patience: 50", "patience: 1, min_delta: 10.0")
                .replace("epochs: 3", "epochs: 6"))
    run = train(nncli, cfg, tmp_path / "runs")
    assert summary(run)["reason"].startswith("early stopping")
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--set", "training.epochs=20")
    assert r.code == 2 and "stopped early" in r.err


def test_a_schedule_that_depends_on_the_epoch_count_is_said(tmp_path, nncli):
    cfg = write(tmp_path / "cos.yaml", SMALL.replace("{name: step, step_size: 2, gamma: 0.5}", "cosine"))
    run = train(nncli, cfg, tmp_path / "runs")
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--set", "training.epochs=5")
    assert r.code == 0, r.err
    assert "note: the cosine schedule depends on training.epochs" in r.err
    assert "differs from one trained for that many epochs" in summary(run)["resumed"][-1]["note"]
