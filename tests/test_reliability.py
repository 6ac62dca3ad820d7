"""Runs survive what happens to real runs: signals, crashes, corrupt checkpoints, full disks,
concurrent writers, divergence and hostile or mistyped input.

Exit codes come from ``main()`` run in process with ``sys.argv`` set (the ``nncli`` fixture);
signals and concurrency use real ``python -m nncli`` subprocesses.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import IRIS as IRIS_3_EPOCHS, SMALL, load_arrays, run_dirs, write

from nncli import atomic, metricscsv, modelfiles, runner, runs
from nncli.config import load_config
from nncli.errors import Interrupted
from nncli.nn import Callback

# trains in well under a second; dropout, batch norm and a warm-up schedule all carry state
# a different family of state: momentum buffers, lookahead slow weights, plateau counters,
# early stopping's best weights
SMALL2 = """\
name: small2
seed: 7
data: {dataset: wine, validation: 0.2, test: 0.2}
model: {hidden: [12], activation: tanh}
optimizer: {name: nesterov, lr: 0.05, lookahead: {k: 3, alpha: 0.5}, schedule: {name: plateau, patience: 1}}
regularization: {l2: 0.001}
training: {epochs: 6, batch_size: 16, early_stopping: {enabled: true, patience: 4}}
"""
CONFIGS = {"small": SMALL, "small2": SMALL2}
# long enough (about 2 s) for a signal to arrive mid-run, short enough to run three times
LONG = """\
name: long
seed: 3
data: {dataset: digits, subset: 1000}
model: {hidden: [64]}
training: {epochs: 600, batch_size: 32}
"""
IRIS = IRIS_3_EPOCHS.replace("epochs: 3", "epochs: 2")  # the shared iris config, two epochs


# ---------------------------------------------------------------- helpers
def only_run(root: Path) -> Path:
    dirs = run_dirs(root)
    assert len(dirs) == 1, dirs
    return dirs[0]


def summary_of(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes, but run.lock's: its record (holder, status) is rewritten in place by design."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "run.lock"}


def assert_same_run(run: Path, reference: Path) -> None:
    """Bit-identical weights and preprocessing; metrics equal except the timing column."""
    a, b = load_arrays(run / "model.npz"), load_arrays(reference / "model.npz")
    assert a.keys() == b.keys()
    for k in sorted(a.keys() - {"config", "config_sha256"}):  # the saved config may differ in checkpoint_every
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    ma, mb = metricscsv.read_metrics_csv(run / "metrics.csv"), metricscsv.read_metrics_csv(reference / "metrics.csv")
    assert len(ma) == len(mb) > 0
    for ra, rb in zip(ma, mb):
        ra.pop("seconds"), rb.pop("seconds")
        assert ra == rb
    fa, fb = summary_of(run)["final"], summary_of(reference)["final"]
    assert fa == fb


def checkpoint_meta(path: Path) -> dict:
    return json.loads(str(load_arrays(path)["trainer.meta"]))


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """Uninterrupted runs, trained once per config text."""
    cache: dict[str, Path] = {}

    def get(text: str) -> Path:
        if text not in cache:
            root = tmp_path_factory.mktemp("baseline")
            cfg = load_config(write(root / "cfg.yaml", text))
            cache[text] = runner.train(cfg, runs_dir=root / "runs")[0]
        return cache[text]

    return get


class StopAt(Callback):
    """Sets the stop flag the way the CLI's signal handler does, at (epoch, batch)."""

    def __init__(self, stop: runner.StopFlag, epoch: int, batch: int, signame: str = "sigint"):
        self.stop, self.at, self.signame = stop, (epoch, batch), signame

    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == self.at:
            self.stop.signame = self.signame


class Crash(Exception):
    """Stands for the process dying: nothing after it runs."""


class CrashAt(Callback):
    def __init__(self, epoch: int, batch: int):
        self.at = (epoch, batch)

    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == self.at:
            raise Crash(f"crash at {self.at}")


# ---------------------------------------------------------------- interrupt and resume
@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("epoch, batch, signame", [
    (0, 0, "sigint"), (1, 5, "sigint"), (2, 2, "sigterm"), (4, 3, "sigint")])
def test_interrupt_then_resume_is_bit_identical(name, epoch, batch, signame, tmp_path, baselines, nncli):
    text = CONFIGS[name]
    cfg = load_config(write(tmp_path / "cfg.yaml", text))
    stop = runner.StopFlag()
    with pytest.raises(Interrupted) as info:
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAt(stop, epoch, batch, signame)], stop=stop)
    assert info.value.exit_code == (143 if signame == "sigterm" else 130)
    run = only_run(tmp_path / "runs")
    killed = summary_of(run)
    assert killed["status"] == "killed" and killed["reason"] == signame and killed["resumable"] is True
    meta = checkpoint_meta(run / "checkpoint.npz")
    # the flag is seen after the next batch (or at the epoch's end): the state right after it
    assert (meta["epoch"], meta["batch"]) in ((epoch, batch + 2), (epoch + 1, 0))
    # the model so far is usable at once; resuming later replaces it with the finished one
    assert load_arrays(run / "model.npz").keys() >= {"meta", "prep.scale"}
    assert killed["final"]["train"]["loss"] > 0
    assert nncli("evaluate", run, "--runs-dir", tmp_path / "runs", "--json").code == 0

    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert r.out == f"{run}\n"
    done = summary_of(run)
    assert done["status"] == "finished"
    assert run_dirs(tmp_path / "runs") == [run]
    assert_same_run(run, baselines(text))


def test_resume_twice_and_resume_by_name(tmp_path, baselines, nncli, monkeypatch):
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    for at in ((1, 1), (3, 4)):
        stop = runner.StopFlag()
        with pytest.raises(Interrupted):
            if at == (1, 1):
                runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAt(stop, *at)], stop=stop)
            else:
                run = only_run(tmp_path / "runs")
                runner.train(None, runs_dir=tmp_path / "runs", resume=str(run),
                             callbacks=[StopAt(stop, *at)], stop=stop)
    r = nncli("train", "--resume", "small", "--runs-dir", tmp_path / "runs", "--quiet")  # the run's name
    assert r.code == 0, r.err
    assert_same_run(only_run(tmp_path / "runs"), baselines(SMALL))


@pytest.mark.parametrize("every, expect_batch", [(2, 4), (0, 0)])
def test_mid_epoch_checkpoints_survive_a_crash(every, expect_batch, tmp_path, baselines, nncli):
    text = SMALL.replace("batch_size: 32}", f"batch_size: 32, checkpoint_every: {every}}}")
    cfg = load_config(write(tmp_path / "cfg.yaml", text))
    with pytest.raises(Crash):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[CrashAt(2, 4)])
    run = only_run(tmp_path / "runs")
    failed = summary_of(run)
    assert failed["status"] == "failed" and "Crash" in failed["reason"]
    meta = checkpoint_meta(run / "checkpoint.npz")
    # every 2 batches: the newest checkpoint is from inside epoch 3; without: from its start
    assert (meta["epoch"], meta["batch"]) == (2, expect_batch)
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert summary_of(run)["status"] == "finished"
    assert_same_run(run, baselines(text))


def _interrupted(tmp_path, text=SMALL, at=(3, 2)) -> Path:
    cfg = load_config(write(tmp_path / "cfg.yaml", text))
    stop = runner.StopFlag()
    with pytest.raises(Interrupted):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAt(stop, *at)], stop=stop)
    return only_run(tmp_path / "runs")


def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _empty(p: Path):
    p.write_bytes(b"")


def _junk(p: Path):
    p.write_bytes(b"PK\x03\x04 not really a zip")


@pytest.mark.parametrize("damage", [_truncate, _flip, _empty, _junk], ids=lambda f: f.__name__[1:])
def test_corrupt_checkpoint_falls_back_to_the_previous_one(damage, tmp_path, baselines, nncli):
    run = _interrupted(tmp_path)
    assert (run / "checkpoint.prev.npz").is_file()
    before = checkpoint_meta(run / "checkpoint.npz")
    older = checkpoint_meta(run / "checkpoint.prev.npz")
    assert (older["epoch"], older["batch"]) < (before["epoch"], before["batch"])
    damage(run / "checkpoint.npz")
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert summary_of(run)["status"] == "finished"
    assert_same_run(run, baselines(SMALL))


def test_both_checkpoints_corrupt_exits_4_without_training(tmp_path, nncli):
    run = _interrupted(tmp_path)
    _truncate(run / "checkpoint.npz")
    _flip(run / "checkpoint.prev.npz")
    before = snapshot(run)
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs")
    assert r.code == 4
    assert str(run) in r.err and "no usable checkpoint" in r.err
    assert "checkpoint.npz" in r.err and "checkpoint.prev.npz" in r.err
    assert "Traceback" not in r.err and r.out == ""
    assert snapshot(run) == before  # nothing trained, nothing rewritten


def test_missing_checkpoints_start_again_from_the_config(tmp_path, baselines, nncli):
    run = _interrupted(tmp_path)
    (run / "checkpoint.npz").unlink()
    (run / "checkpoint.prev.npz").unlink()
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert summary_of(run)["resumed"][-1]["from"].startswith("config.yaml (no checkpoint")
    assert_same_run(run, baselines(SMALL))


def test_resume_with_a_different_config_names_the_keys(tmp_path, nncli):
    run = _interrupted(tmp_path)
    before = snapshot(run)
    other = write(tmp_path / "other.yaml", SMALL.replace("lr: 0.01", "lr: 0.02").replace("epochs: 6", "epochs: 9"))
    r = nncli("train", other, "--resume", run, "--runs-dir", tmp_path / "runs")
    assert r.code == 2
    assert "optimizer.lr" in r.err and "training.epochs" in r.err
    assert "model.hidden" not in r.err
    assert snapshot(run) == before
    # the same config is accepted
    same = write(tmp_path / "same.yaml", SMALL)
    r = nncli("train", same, "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err


def test_resume_of_an_unknown_run(tmp_path, nncli):
    r = nncli("train", "--resume", "nothing-here", "--runs-dir", tmp_path / "runs")
    assert r.code == 4 and "nothing-here" in r.err


# ---------------------------------------------------------------- real signals
def _start(cfg: Path, runs_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nncli", "train", str(cfg), "--runs-dir", str(runs_dir),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_epochs(proc: subprocess.Popen, runs_dir: Path, rows: int, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"nncli ended early: {proc.communicate()}"
        for run in run_dirs(runs_dir):
            try:
                lines = (run / "metrics.csv").read_text().splitlines()
            except FileNotFoundError:
                continue
            if len(lines) - 1 >= rows:
                return run
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("no epochs were recorded in time")


@pytest.mark.parametrize("sig, code, reason", [(signal.SIGINT, 130, "sigint"), (signal.SIGTERM, 143, "sigterm")],
                         ids=["SIGINT", "SIGTERM"])
def test_real_signal_stops_cleanly_and_resume_matches(sig, code, reason, tmp_path, baselines):
    cfg = write(tmp_path / "long.yaml", LONG)
    proc = _start(cfg, tmp_path / "runs")
    run = _wait_for_epochs(proc, tmp_path / "runs", 2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert out == f"{run}\n"  # the run it stopped, for a script to resume
    assert reason.upper() in err and "Traceback" not in err
    assert not [line for line in err.splitlines() if line.startswith("error")]  # it was asked for
    killed = summary_of(run)
    assert killed["status"] == "killed" and killed["reason"] == reason
    meta = checkpoint_meta(run / "checkpoint.npz")  # loads with allow_pickle=False
    assert 2 <= meta["epoch"] < 600
    assert len(load_arrays(run / "checkpoint.npz")["trainer.history"]) == meta["epoch"]
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]

    resumed = subprocess.run([sys.executable, "-m", "nncli", "train", "--resume", str(run),
                              "--runs-dir", str(tmp_path / "runs"), "--quiet"],
                             check=False, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == f"{run}\n"
    assert summary_of(run)["status"] == "finished"
    assert_same_run(run, baselines(LONG))


def test_sigkill_leaves_a_resumable_run(tmp_path, baselines):
    """Nothing runs after SIGKILL: what is on disk at any moment must be complete."""
    text = LONG.replace("batch_size: 32}", "batch_size: 32, checkpoint_every: 7}")
    cfg = write(tmp_path / "long.yaml", text)
    proc = _start(cfg, tmp_path / "runs")
    run = _wait_for_epochs(proc, tmp_path / "runs", 6)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert summary_of(run)["status"] == "running"  # nobody could say otherwise
    state, name = modelfiles.load_checkpoint(run)  # the newest, or the one before if killed mid-rotation
    assert name in (runs.CHECKPOINT_FILE, runs.CHECKPOINT_PREV_FILE)
    # files are written off the training thread, so the checkpoint on disk may trail (or lead)
    # the metrics by a few epochs, but it is a real mid-training state
    meta = state["trainer"]
    assert (meta["epoch"], meta["batch"]) > (0, 0)
    assert len(state["history"]) == meta["epoch"]
    resumed = subprocess.run([sys.executable, "-m", "nncli", "train", "--resume", str(run),
                              "--runs-dir", str(tmp_path / "runs"), "--quiet"],
                             check=False, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert not list(run.glob("*.tmp")), "resume clears what the killed process left half-written"
    assert_same_run(run, baselines(LONG))  # checkpoint_every does not change the training


# ---------------------------------------------------------------- divergence
def test_divergence_exits_3_and_marks_the_run(tmp_path, nncli):
    cfg = write(tmp_path / "div.yaml", "name: div\ndata: {dataset: digits, subset: 300, scaling: none}\n"
                                       "optimizer: {name: sgd, lr: 1000000.0}\ntraining: {epochs: 5, batch_size: 64}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 3
    run = only_run(tmp_path / "runs")
    assert r.out == f"{run}\n"  # the failed run, for a script to look at
    assert str(run) in r.err and "lower optimizer.lr" in r.err
    assert "Traceback" not in r.err
    s = summary_of(run)
    assert s["status"] == "failed" and s["reason"] == "non_finite_loss"
    assert s["diverged_at"]["epoch"] >= 1
    if (run / "model.npz").exists():
        for k, a in load_arrays(run / "model.npz").items():
            if a.dtype.kind == "f":
                assert np.isfinite(a).all(), k


# ---------------------------------------------------------------- full disks
class FullDisk:
    """Stands in for the ``os`` module in nncli.atomic: the first ``ok`` writes succeed, then
    every write fails with ENOSPC. At the first failure it records what the runs directory
    held, which must then stay exactly as it was."""

    def __init__(self, ok: int, root: Path):
        self.ok, self.root, self.calls, self.before = ok, root, 0, None
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        with self.lock:
            self.calls += 1
            if self.calls <= self.ok:
                return os.write(fd, data)
            if self.before is None:
                self.before = {k: v for k, v in snapshot(self.root).items() if not k.endswith(".tmp")}
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("ok", [2, 3, 4])  # a run makes at least 6 writes
def test_disk_full_mid_run_exits_4_and_keeps_earlier_files(ok, tmp_path, monkeypatch, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS.replace("epochs: 2", "epochs: 30"))
    disk = FullDisk(ok, tmp_path / "runs")
    monkeypatch.setattr(atomic, "os", disk)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 4, r.err
    assert "No space left on device" in r.err
    assert "Traceback" not in r.err
    assert disk.before is not None
    assert snapshot(tmp_path / "runs") == disk.before  # earlier files byte-identical, no leftovers
    run = only_run(tmp_path / "runs")
    assert r.out == f"{run}\n"  # the run the full disk ended
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    if (run / "checkpoint.npz").exists():
        checkpoint_meta(run / "checkpoint.npz")


def test_disk_full_at_the_final_write_marks_the_run_and_resume_completes_it(tmp_path, monkeypatch, baselines, nncli):
    real = atomic._write_temp

    def full_for_the_model(path, data):
        if Path(path).name == runs.MODEL_FILE:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    cfg = write(tmp_path / "cfg.yaml", SMALL)
    monkeypatch.setattr(atomic, "_write_temp", full_for_the_model)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 4
    assert "No space left on device" in r.err and "model.npz" in r.err
    run = only_run(tmp_path / "runs")
    s = summary_of(run)
    assert s["status"] == "failed" and s["reason"] == "disk_full"
    assert not (run / "model.npz").exists()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.setattr(atomic, "_write_temp", real)  # space freed
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert summary_of(run)["status"] == "finished"
    assert_same_run(run, baselines(SMALL))


def test_disk_full_when_saving_the_interrupted_state(tmp_path, monkeypatch, nncli):
    real = atomic._write_temp
    stop = runner.StopFlag()

    def full_after_the_stop(path, data):
        if stop.signame and threading.current_thread() is threading.main_thread() \
                and Path(path).name == runs.CHECKPOINT_FILE:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(atomic, "_write_temp", full_after_the_stop)
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    with pytest.raises(runs.RunError, match="No space left on device"):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAt(stop, 2, 1)], stop=stop)
    run = only_run(tmp_path / "runs")
    s = summary_of(run)
    assert s["status"] == "failed" and s["reason"] == "disk_full"
    checkpoint_meta(run / "checkpoint.npz")  # the older checkpoint is intact


def test_runs_dir_under_a_regular_file_exits_4(tmp_path, nncli):
    blocker = write(tmp_path / "file", "not a directory\n")
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("train", cfg, "--runs-dir", blocker / "runs")
    assert r.code == 4
    assert str(blocker / "runs") in r.err and "Traceback" not in r.err
    assert blocker.read_text() == "not a directory\n"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores directory permissions")
def test_read_only_runs_dir_exits_4(tmp_path, nncli):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        cfg = write(tmp_path / "iris.yaml", IRIS)
        r = nncli("train", cfg, "--runs-dir", root)
        assert r.code == 4
        assert str(root) in r.err and "Traceback" not in r.err
        assert list(root.iterdir()) == []
    finally:
        root.chmod(0o700)


# ---------------------------------------------------------------- concurrency
def test_sixteen_concurrent_trainings_share_a_runs_dir(tmp_path):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    root = tmp_path / "runs"
    procs = [subprocess.Popen([sys.executable, "-m", "nncli", "train", str(cfg), "--runs-dir", str(root), "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(16)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 16, [e for _, e in outs if e]
    printed = [out.strip() for out, _ in outs]
    assert len(set(printed)) == 16
    assert sorted(printed) == [str(p) for p in run_dirs(root)]
    weights = []
    for run in run_dirs(root):
        s = summary_of(run)
        assert s["status"] == "finished" and s["dir"] == str(run)
        assert load_config(run / "config.yaml").name == "iris"
        assert [row["epoch"] for row in metricscsv.read_metrics_csv(run / "metrics.csv")] == [1, 2]
        weights.append(load_arrays(run / "model.npz")["net.dense0.W"])
        assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert all(np.array_equal(w, weights[0]) for w in weights)  # same config and seed


# ---------------------------------------------------------------- hostile input
def test_python_tags_are_refused_and_not_run(tmp_path, nncli):
    marker = tmp_path / "ran"
    cfg = write(tmp_path / "evil.yaml", f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 2
    assert "not allowed" in r.err
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()


def test_alias_bomb_is_refused_quickly(tmp_path, nncli):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    cfg = write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    t0 = time.perf_counter()
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert time.perf_counter() - t0 < 5
    assert r.code == 2 and "Traceback" not in r.err
    assert not (tmp_path / "runs").exists()


def test_ten_megabyte_config_is_refused(tmp_path, nncli):
    big = "description: '" + "x" * 10_000_000 + "'\n"
    cfg = write(tmp_path / "big.yaml", big)
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and "limit" in r.err
    r = nncli("train", "-", "--runs-dir", tmp_path / "runs", stdin=big)
    assert r.code == 2 and "limit" in r.err
    assert not (tmp_path / "runs").exists()


def test_endless_stdin_is_refused(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "config", "validate", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed():  # 64 MB and then silence without end of file
        try:
            for _ in range(64):
                proc.stdin.write(b"#" * (1 << 20))
        except (BrokenPipeError, OSError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("nncli kept reading stdin")
    finally:
        feeder.join(timeout=10)
        try:
            proc.stdin.close()
        except OSError:
            pass
    assert rc == 2
    assert b"limit" in proc.stderr.read()


@pytest.mark.parametrize("text, says", [
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("optimizer:\n  lr: 0.1\n  lr: 0.2\n", "duplicate key 'optimizer.lr'"),
])
def test_duplicate_keys_are_refused(text, says, tmp_path, nncli):
    r = nncli("train", write(tmp_path / "dup.yaml", text), "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and says in r.err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["../evil", "a/b", "/abs", "..", "x/../../y"])
def test_names_cannot_escape_the_runs_dir(name, tmp_path, nncli):
    work = tmp_path / "work"
    work.mkdir()
    cfg = write(work / "cfg.yaml", IRIS.replace("name: iris", f"name: '{name}'"))
    r = nncli("train", cfg, "--runs-dir", work / "runs")
    assert r.code == 2 and "name" in r.err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cfg.yaml", "work"]
    r = nncli("train", work / "cfg.yaml", "--runs-dir", work / "runs", "--set", "name=ok")
    assert r.code == 0, r.err
    assert only_run(work / "runs").name.endswith("-ok")


def test_object_array_data_file_is_refused(tmp_path, nncli):
    data = tmp_path / "objects.npz"
    np.savez(data, X=np.array([[1, 2], [3, 4], [5, 6]], dtype=object), y=np.array([0, 1, 0]))
    cfg = write(tmp_path / "cfg.yaml", f"data: {{path: '{data}'}}\ntraining: {{epochs: 1}}\n")
    r = nncli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.code == 4
    assert str(data) in r.err and "objects" in r.err
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- config mutations
BASE = {
    "name": "fuzz", "seed": 0,
    "data": {"dataset": "iris", "validation": 0.2, "test": 0.2, "scaling": "standard"},
    "model": {"hidden": [8], "activation": "relu", "dropout": 0.0},
    "optimizer": {"name": "adam", "lr": 0.01, "schedule": {"name": "constant"}},
    "training": {"epochs": 1, "batch_size": 16, "shuffle": True,
                 "early_stopping": {"patience": 3}},
}


def _set(path: str, value):
    def mutate(cfg):
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _rename(path: str, new: str):
    def mutate(cfg):
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[new] = node.pop(last)
    return mutate


def _drop(path: str):
    def mutate(cfg):
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


def _both(*mutations):
    def mutate(cfg):
        for m in mutations:
            m(cfg)
    return mutate


MUTATIONS = [
    (_rename("optimizer.lr", "learning_rate"), "optimizer.learning_rate"),
    (_rename("training.epochs", "epoch"), "training.epoch"),
    (_rename("model", "modle"), "modle"),
    (_rename("data.validation", "val"), "data.val"),
    (_set("model.hidden", "8"), "model.hidden"),
    (_set("model.hidden", [8, 0]), "model.hidden.1"),
    (_set("optimizer.lr", "fast"), "optimizer.lr"),
    (_set("optimizer.lr", -0.1), "optimizer.lr"),
    (_set("optimizer.lr", float("nan")), "optimizer.lr"),
    (_set("training.epochs", 0), "training.epochs"),
    (_set("training.epochs", 2.5), "training.epochs"),
    (_set("training.batch_size", "half"), "training.batch_size"),
    (_set("training.shuffle", "yes"), "training.shuffle"),
    (_set("data.validation", 1.5), "data.validation"),
    (_set("data.test", 0.9), "data.test"),
    (_set("model.activation", "rleu"), "model.activation"),
    (_set("model.activation", ["relu", "tanh"]), "model.activation"),
    (_set("model.dropout", 1.0), "model.dropout"),
    (_set("optimizer.name", "adamm"), "optimizer.name"),
    (_set("optimizer.betas", [0.9]), "optimizer.betas"),
    (_set("optimizer.schedule.name", "cosin"), "optimizer.schedule.name"),
    (_set("data.dataset", "mnist"), "data.dataset"),
    (_set("data.scaling", "zscore"), "data.scaling"),
    (_set("seed", -1), "seed"),
    (_set("training", 5), "training"),
    (_set("training.early_stopping.patience", 0), "training.early_stopping.patience"),
    # switched off, yet given settings that would do nothing
    (_set("training.early_stopping", {"enabled": False, "patience": 3}),
     "training.early_stopping: enabled: false turns early stopping off, yet patience is set"),
    # keys that would do nothing with the chosen optimizer, loss or activation
    (_set("optimizer.momentum", 0.9), "optimizer.momentum: 'momentum' does nothing with optimizer.name adam"),
    (_set("optimizer.schedule.gamma", 0.5), "optimizer.schedule.gamma"),
    (_set("loss", {"name": "mse", "huber_delta": 2.0}), "loss.huber_delta"),
    (_set("model.leaky_slope", 0.2), "model.leaky_slope"),
    # problems only the data can reveal, found before a run directory exists
    (_both(_set("loss", {"name": "binary_cross_entropy"}), _set("data.dataset", "diabetes")), "loss.name"),
    (_set("training.early_stopping", {"enabled": True, "monitor": "val_r2"}), "training.early_stopping.monitor"),
    (_set("loss", {"class_weight": {"7": 2.0}}), "loss.class_weight"),
    (_both(_set("model.batch_norm", True), _set("training.batch_size", 1)), "training.batch_size"),
]


def _mutated(mutate) -> dict:
    import copy

    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    return cfg


@pytest.mark.parametrize("mutate, key", MUTATIONS, ids=[f"{i}-{k}" for i, (_, k) in enumerate(MUTATIONS)])
def test_config_mutation_exits_2_naming_the_key(mutate, key, tmp_path, nncli):
    path = write(tmp_path / "cfg.yaml", yaml.safe_dump(_mutated(mutate)))
    r = nncli("train", path, "--runs-dir", tmp_path / "runs")
    assert r.code == 2, r.err
    assert key in r.err
    assert "Traceback" not in r.err and r.out == ""
    assert len(r.err.splitlines()) <= 4
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("mutate", [_drop("optimizer"), _drop("model.hidden"), _drop("seed"),
                                    _drop("data.validation"), _drop("training.early_stopping"),
                                    _drop("optimizer.schedule")],
                         ids=["optimizer", "model.hidden", "seed", "data.validation", "early_stopping", "schedule"])
def test_dropped_keys_fall_back_to_defaults(mutate, tmp_path, nncli):
    path = write(tmp_path / "cfg.yaml", yaml.safe_dump(_mutated(mutate)))
    r = nncli("train", path, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    assert summary_of(only_run(tmp_path / "runs"))["status"] == "finished"
