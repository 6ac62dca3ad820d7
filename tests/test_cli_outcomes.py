"""Every way a command ends tells the user, and a script, what happened: an interrupt is not an
error and says how to resume on a line of its own; a run that diverged or was stopped still
prints its directory; --json answers every failure with one JSON object; a transfer says what
it loaded and froze, a resume where it picks up."""

import json
import signal
from pathlib import Path

import pytest
from helpers import run_dirs, write

from nncli import runner

SMALL = """\
data: {dataset: iris}
model: {hidden: [8]}
training: {epochs: 6, batch_size: 16, early_stopping: false}
"""
DIVERGES = """\
data: {dataset: digits, subset: 300, scaling: none}
optimizer: {name: sgd, lr: 1000000.0}
training: {epochs: 5, batch_size: 64}
"""


@pytest.fixture
def ctrl_c_after_epoch_2(monkeypatch):
    """A real SIGINT delivered at the end of epoch 2, to the handler `nncli train` installs."""
    original = runner.RunRecorder.on_epoch_end

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == 1 and not getattr(self, "sent", False):
            self.sent = True
            signal.raise_signal(signal.SIGINT)
        original(self, trainer, epoch, logs)

    monkeypatch.setattr(runner.RunRecorder, "on_epoch_end", on_epoch_end)


@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["progress", "quiet"])
def test_ctrl_c_is_no_error_prints_the_run_and_a_copyable_resume_command(
        quiet, ctrl_c_after_epoch_2, tmp_path, nncli):
    cfg = write(tmp_path / "small.yaml", SMALL)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", *quiet)
    assert r.code == 130
    [run] = run_dirs(tmp_path / "runs")
    assert r.out == f"{run}\n"
    lines = r.err.splitlines()
    assert not [line for line in lines if line.startswith("error")]
    stop = next(i for i, line in enumerate(lines) if line.startswith("stopped by"))
    assert lines[stop] == f"stopped by Ctrl-C (SIGINT): run {run} saved after epoch 2; resume it with:"
    assert lines[stop + 1] == f"  nncli train --resume {run}"

    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs")
    assert r.code == 0, r.err
    assert r.err.splitlines()[0] == f"resuming {run} at epoch 3 of 6"
    assert r.out == f"{run}\n"


def test_ctrl_c_with_json_prints_the_killed_run(ctrl_c_after_epoch_2, tmp_path, nncli):
    cfg = write(tmp_path / "small.yaml", SMALL)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert r.code == 130
    [run] = run_dirs(tmp_path / "runs")
    got = json.loads(r.out)
    assert (got["status"], got["reason"], got["exit_code"], got["dir"]) == ("killed", "sigint", 130, str(run))
    assert got["message"].endswith(f"resume it with:\nnncli train --resume {run}")
    assert got["epochs_run"] == 2 and got == {**json.loads((run / "summary.json").read_text()),
                                              "exit_code": 130, "message": got["message"]}


@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["progress", "quiet"])
def test_a_diverged_run_prints_its_directory(quiet, tmp_path, nncli):
    cfg = write(tmp_path / "div.yaml", DIVERGES)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", *quiet)
    assert r.code == 3
    [run] = run_dirs(tmp_path / "runs")
    assert r.out == f"{run}\n"
    assert "\nerror: the training loss became" in "\n" + r.err

    r = nncli("train", cfg, "--runs-dir", tmp_path / "json", "--json")
    got = json.loads(r.out)
    assert r.code == 3
    assert (got["status"], got["reason"], got["exit_code"]) == ("failed", "non_finite_loss", 3)
    assert got["dir"] == str(run_dirs(tmp_path / "json")[0]) and "lower optimizer.lr" in got["message"]


@pytest.mark.parametrize("args,reason,code", [
    (["train", "{cfg_bad}", "--runs-dir", "{tmp}/runs"], "config", 2),
    (["train", "{tmp}/missing.yaml"], "config", 2),
    (["train", "{cfg}", "--epochs", "3"], "usage", 2),
    (["sweep", "{cfg}", "--grid", "optimizer.lr=0.1"], "config", 2),
    (["evaluate", "no-such-run", "--runs-dir", "{tmp}"], "run", 4),
    (["predict", "no-such-run", "--input", "{tmp}/x.csv", "--runs-dir", "{tmp}"], "run", 4),
])
def test_json_answers_every_failure_with_one_object(args, reason, code, tmp_path, nncli):
    cfg = write(tmp_path / "ok.yaml", SMALL)
    bad = write(tmp_path / "bad.yaml", SMALL.replace("hidden: [8]", "hidden: [8], activation: rleu"))
    args = [a.format(cfg=cfg, cfg_bad=bad, tmp=tmp_path) for a in args]
    r = nncli(*args, "--json")
    assert r.code == code, r.err
    got = json.loads(r.out)
    assert got == {"status": "error", "reason": reason, "exit_code": code, "message": got["message"], "dir": None}
    assert got["message"] and "Traceback" not in r.err
    assert not (tmp_path / "runs").exists()


def test_json_is_only_a_flag_of_its_own(tmp_path, nncli):
    # --json as the value of another option is no request for JSON
    r = nncli("train", tmp_path / "missing.yaml", "--set", "--json")
    assert r.code == 2 and r.out == ""


def test_transfer_says_what_it_loaded_reinitialized_and_froze(tmp_path, nncli):
    base = write(tmp_path / "base.yaml", SMALL)
    root = tmp_path / "runs"
    assert nncli("train", base, "--runs-dir", root, "--quiet").code == 0
    tuned = write(tmp_path / "tuned.yaml", SMALL.replace("hidden: [8]", "hidden: [8, 4], init_from: base, freeze: 1"))
    r = nncli("train", tuned, "--runs-dir", root, "--no-progress")
    assert r.code == 0, r.err
    base_run = next(p for p in run_dirs(root) if p.name.endswith("-base"))
    assert r.err.splitlines()[1] == (  # after the line about the data
        f"transfer from {base_run}: loaded dense0; reinitialized dense1, dense2 (another shape); frozen dense0, relu0")
    assert nncli("train", tuned, "--runs-dir", root, "--quiet").err == ""


def test_resume_of_a_run_stopped_inside_an_epoch_says_which_batch(tmp_path, nncli):
    from nncli.config import load_config
    from nncli.errors import Interrupted

    class StopAt(runner.RunRecorder.__mro__[1]):  # a plain Callback
        def __init__(self, flag):
            self.flag = flag

        def on_batch_end(self, trainer, epoch, batch):
            if (epoch, batch) == (3, 2):
                self.flag.signame = "sigint"

    stop = runner.StopFlag()
    with pytest.raises(Interrupted) as e:
        runner.train(load_config(write(tmp_path / "small.yaml", SMALL)), runs_dir=tmp_path / "runs",
                     callbacks=[StopAt(stop)], stop=stop)
    run = Path(e.value.run_dir)
    assert e.value.summary["status"] == "killed" and str(e.value).endswith(f"--resume {run}")
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--no-progress")
    assert r.code == 0 and r.err.splitlines()[0] == f"resuming {run} in epoch 4 of 6, after batch 4"
