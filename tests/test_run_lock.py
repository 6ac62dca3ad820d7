"""One writer per run, dead runs told from live ones, and resuming a run that never saved a
checkpoint.

The lock is an flock on run.lock held by the writing process; its record carries the status,
the writer's host and pid and a heartbeat. In-process tests use the runner directly (a second
open file description conflicts with the first even in one process); a few slow tests use real
processes and real signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import SMALL, load_arrays, run_dirs, write

from nncli import metricscsv, modelfiles, runlock, runner, runs
from nncli.config import load_config
from nncli.errors import RunError, UsageError
from nncli.nn import Callback

LONG = """\
name: long
seed: 3
data: {dataset: digits, subset: 1000}
model: {hidden: [64]}
training: {epochs: 80, batch_size: 32}
"""
# one long epoch (about 2 s): time to kill it before its first checkpoint
SLOW_FIRST_EPOCH = """\
name: slow
seed: 2
data: {dataset: make_classification, params: {n_samples: 15000, n_features: 60, n_informative: 10},
       validation: 0.1, test: 0.1}
model: {hidden: [256, 256]}
training: {epochs: 1, batch_size: 16}
"""


def summary_of(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def record_of(run: Path) -> dict:
    return json.loads((run / "run.lock").read_text())


def only_run(root: Path) -> Path:
    (run,) = run_dirs(root)
    return run


def same_weights(a: Path, b: Path) -> None:
    x, y = load_arrays(a / "model.npz"), load_arrays(b / "model.npz")
    for k in x:
        if k.startswith(("net.", "prep.")):
            assert np.array_equal(x[k], y[k]), k
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in metricscsv.read_metrics_csv(a / "metrics.csv")]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"}
                     for row in metricscsv.read_metrics_csv(b / "metrics.csv")]


class During(Callback):
    """Runs ``fn(run_dir)`` once, at the end of the given epoch of the run being trained."""

    def __init__(self, epoch: int, fn):
        self.epoch, self.fn, self.result = epoch, fn, None

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            (run,) = [c.run_dir for c in trainer.callbacks if isinstance(c, runner.RunRecorder)]
            self.result = self.fn(run)


# ---------------------------------------------------------------- one writer
def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    root = tmp_path / "runs"

    def second_writer(run):
        temps = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
        planted = run / ".checkpoint.npz.inflight.tmp"
        planted.write_bytes(b"another writer's file in flight")
        try:
            runner.train(None, runs_dir=root, resume=str(run))
        except RunError as e:
            return str(e), temps, planted.exists(), runs.effective_status(summary_of(run), runlock.probe(run))
        return "not refused", temps, planted.exists(), None

    watcher = During(2, second_writer)
    run, summary = runner.train(cfg, runs_dir=root, callbacks=[watcher])
    message, _, planted_kept, status_seen = watcher.result
    assert "being written by process" in message
    assert f"process {os.getpid()} on host {runlock.this_host()}" in message
    assert planted_kept  # the refused writer deleted nothing of the first one's
    assert status_seen == "running"
    assert summary["status"] == "finished" and summary_of(run)["status"] == "finished"
    assert len(summary["resumed"] if "resumed" in summary else []) == 0
    assert record_of(run)["status"] == "finished" and record_of(run)["exit"] == 0
    (run / ".checkpoint.npz.inflight.tmp").unlink()
    # the lock was released at the end: the run can be resumed now
    assert runlock.probe(run).held is False
    with pytest.raises(UsageError, match="the run is finished"):  # not "being written": the lock is free
        runner.train(None, runs_dir=root, resume=str(run))


def test_stale_temporaries_are_removed_by_the_lock_holder_only(tmp_path):
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    run, _ = runner.train(cfg, runs_dir=tmp_path / "runs")
    left = run / ".checkpoint.prev.npz.1234abcd.tmp"
    left.write_bytes(b"a hard link a killed rotation left")
    holder = runlock.RunLock.acquire(run)
    try:
        with pytest.raises(RunError, match="being written by process"):
            runner.train(None, runs_dir=tmp_path / "runs", resume=str(run))
        assert left.exists()
    finally:
        holder.release()
    with pytest.raises(UsageError, match="the run is finished"):  # the lock holder cleans up first
        runner.train(None, runs_dir=tmp_path / "runs", resume=str(run))
    assert not left.exists()


# ---------------------------------------------------------------- the status nncli runs shows
def _lock_state(held, **record):
    return runlock.LockState(held, record)


@pytest.mark.parametrize("summary, lock, expected", [
    ({"status": "running"}, _lock_state(True, status="running"), "running"),
    ({"status": "running"}, _lock_state(False, status="running"), "dead"),
    ({"status": "killed"}, _lock_state(True, status="killed"), "running"),  # being resumed
    ({"status": "running"}, _lock_state(False, status="failed", reason="disk_full"), "failed"),  # summary stale
    ({}, _lock_state(False, status="failed"), "failed"),  # no summary.json at all
    ({"status": "finished"}, _lock_state(False, status="finished"), "finished"),
    ({"status": "killed"}, _lock_state(False), "killed"),  # a resume that never started training
    ({"status": "running"}, _lock_state(False), "dead"),
    ({"status": "running"}, None, "running"),  # a run written before locks: nothing says otherwise
    ({"status": "running", "process": {"host": runlock.this_host(), "pid": 2 ** 22 + 1}}, None, "dead"),
    ({"status": 3}, None, "unknown"),
])
def test_effective_status(summary, lock, expected):
    assert runs.effective_status(summary, lock) == expected


def test_where_locks_fail_the_pid_and_the_heartbeat_decide(monkeypatch):
    me = {"status": "running", "host": runlock.this_host(), "pid": os.getpid()}
    gone = {**me, "pid": 2 ** 22 + 1}  # above the kernel's pid limit: never a live process
    assert runs.effective_status({}, _lock_state(None, **me)) == "running"
    assert runs.effective_status({}, _lock_state(None, **gone)) == "dead"
    fresh = {"status": "running", "host": "elsewhere", "pid": 1, "heartbeat": time.time(), "interval": 5.0}
    stale = {**fresh, "heartbeat": time.time() - 3600}
    assert runs.effective_status({}, _lock_state(None, **fresh)) == "running"
    assert runs.effective_status({}, _lock_state(None, **stale)) == "dead"
    slow = {**stale, "interval": 3000.0}  # an hour-old heartbeat is recent for hour-long epochs
    assert runs.effective_status({}, _lock_state(None, **slow)) == "running"


def test_the_record_holds_host_pid_and_a_heartbeat_per_epoch(tmp_path):
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    beats = []

    def heartbeat(run):  # beats are written off the training thread: wait for this one to land
        deadline = time.monotonic() + 10
        while record_of(run).get("epoch") != 4 and time.monotonic() < deadline:
            time.sleep(0.001)
        beats.append(record_of(run))

    watcher = During(3, heartbeat)
    t0 = time.time()
    run, _ = runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[watcher])
    (during,) = beats
    assert during["status"] == "running" and during["pid"] == os.getpid()
    assert during["host"] == runlock.this_host()
    assert during["epoch"] == 4 and t0 <= during["heartbeat"] <= time.time()
    after = record_of(run)
    assert after["status"] == "finished" and after["epoch"] == 6
    assert os.path.getsize(run / "run.lock") == runlock.RECORD_BYTES  # pre-allocated, rewritten in place


# ---------------------------------------------------------------- resume and the saved config
def test_resume_of_a_run_that_never_checkpointed_starts_again_bit_identical(tmp_path):
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    reference, _ = runner.train(cfg, runs_dir=tmp_path / "reference")

    class Die(Callback):  # the process dies inside its first epoch, before any checkpoint
        def on_batch_end(self, trainer, epoch, batch):
            if batch == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[Die()])
    run = only_run(tmp_path / "runs")
    assert not modelfiles.has_checkpoint(run)
    _, summary = runner.train(None, runs_dir=tmp_path / "runs", resume=str(run))
    assert summary["status"] == "finished"
    assert summary["resumed"][-1]["from"].startswith("config.yaml")
    same_weights(run, reference)


def test_wall_time_is_the_total_of_every_segment(tmp_path):
    cfg = load_config(write(tmp_path / "cfg.yaml", SMALL))
    stop = runner.StopFlag()

    class StopAt(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 1:
                stop.signame = "sigint"

    with pytest.raises(Exception, match="SIGINT"):
        runner.train(cfg, runs_dir=tmp_path / "runs", callbacks=[StopAt()], stop=stop)
    run = only_run(tmp_path / "runs")
    first = summary_of(run)
    assert [s["status"] for s in first["segments"]] == ["killed"]
    time.sleep(0.2)
    _, done = runner.train(None, runs_dir=tmp_path / "runs", resume=str(run))
    assert [s["status"] for s in done["segments"]] == ["killed", "finished"]
    assert done["segments"][0] == first["segments"][0]
    assert done["wall_time"] == pytest.approx(sum(s["seconds"] for s in done["segments"]))
    assert done["wall_time"] > done["segments"][1]["seconds"] > 0


def test_a_segment_whose_end_was_never_written_is_counted_from_the_record(tmp_path):
    from nncli import rundir

    record = {"segment_start": 1000.0, "heartbeat": 1012.5, "status": "running", "segment_saved": False}
    assert rundir.segments({"segments": [{"seconds": 3.0, "status": "killed"}]}, record) == [
        {"seconds": 3.0, "status": "killed"},
        {"started": rundir.stamp(1000.0), "seconds": 12.5, "status": "dead"}]
    ended = {**record, "status": "failed", "segment_seconds": 20.0}  # a full disk: only the record knows
    assert rundir.segments({"wall_time": 4.0}, ended)[-1]["seconds"] == 20.0
    assert rundir.segments({"wall_time": 4.0}, ended)[0] == {"seconds": 4.0}
    assert rundir.segments({}, {**ended, "segment_saved": True}) == []


# ---------------------------------------------------------------- real processes
def _start(cfg: Path, root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nncli", "train", str(cfg), "--runs-dir", str(root), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, root: Path, ready, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"nncli ended early: {proc.communicate()}"
        for run in run_dirs(root):
            if ready(run):
                return run
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the run did not get there in time")


def _epochs_done(run: Path) -> int:
    try:
        return len((run / "metrics.csv").read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_two_real_writers_the_second_is_refused_the_first_finishes(tmp_path, nncli):
    cfg = write(tmp_path / "long.yaml", LONG)
    reference, _ = runner.train(load_config(cfg), runs_dir=tmp_path / "reference")
    proc = _start(cfg, tmp_path / "runs")
    run = _wait_for(proc, tmp_path / "runs", lambda r: _epochs_done(r) >= 3)
    proc.send_signal(signal.SIGSTOP)  # paused mid-run, the lock held: the second writer comes now
    try:
        r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs")
        assert r.code == 4 and r.out == ""
        assert f"process {proc.pid} on host {runlock.this_host()}" in r.err
        rows = json.loads(nncli("runs", tmp_path / "runs", "--json").out)
        assert [row["status"] for row in rows] == ["running"]
    finally:
        proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert summary_of(run)["status"] == "finished" and "resumed" not in summary_of(run)
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    same_weights(run, reference)


@pytest.mark.slow
def test_sigkill_shows_dead_at_once_and_resume_completes(tmp_path, nncli):
    cfg = write(tmp_path / "long.yaml", LONG)
    proc = _start(cfg, tmp_path / "runs")
    run = _wait_for(proc, tmp_path / "runs", lambda r: _epochs_done(r) >= 3 and "heartbeat" in record_of(r))
    proc.kill()
    proc.communicate(timeout=60)
    t_dead = time.monotonic()
    rows = json.loads(nncli("runs", tmp_path / "runs", "--json").out)
    assert time.monotonic() - t_dead < 1.0  # well within one heartbeat (an epoch)
    (row,) = rows
    assert row["status"] == "dead" and row["resumable"] is True
    assert row["process"]["pid"] == proc.pid and row["process"]["host"] == runlock.this_host()
    assert summary_of(run)["status"] == "running"  # what the killed process left; the row tells the truth
    assert "dead" in nncli("runs", tmp_path / "runs").out
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    segments = summary_of(run)["segments"]
    assert [s["status"] for s in segments] == ["dead", "finished"] and segments[0]["seconds"] > 0


@pytest.mark.slow
def test_sigkill_before_the_first_checkpoint_then_resume_is_bit_identical(tmp_path, nncli):
    cfg = write(tmp_path / "slow.yaml", SLOW_FIRST_EPOCH)
    proc = _start(cfg, tmp_path / "runs")
    run = _wait_for(proc, tmp_path / "runs", lambda r: (r / "summary.json").exists())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not modelfiles.has_checkpoint(run), "the checkpoint came first: make the first epoch longer"
    assert json.loads(nncli("runs", tmp_path / "runs", "--json").out)[0]["status"] == "dead"
    r = nncli("train", "--resume", run, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    reference, _ = runner.train(load_config(cfg), runs_dir=tmp_path / "reference")
    same_weights(run, reference)


def test_a_frequent_checkpoint_does_not_starve_the_heartbeat():
    """The background writer coalesces by key; a key submitted again keeps its place in the
    queue, so metrics and the heartbeat are written even while checkpoints take a whole epoch."""
    import threading

    started, go, done = threading.Semaphore(0), threading.Semaphore(0), []

    def checkpoint(i):
        done.append(f"checkpoint{i}")
        started.release()
        go.acquire()  # a slow write: the next epoch's submissions arrive meanwhile

    writer = runs.BackgroundWriter()
    writer.submit("checkpoint", checkpoint, 0)
    for epoch in range(1, 5):
        assert started.acquire(timeout=10)
        writer.submit("checkpoint", checkpoint, epoch)
        writer.submit("metrics", done.append, f"metrics{epoch}")
        writer.submit("heartbeat", done.append, f"heartbeat{epoch}")
        go.release()
    for _ in range(8):  # let whatever is left finish
        go.release()
    writer.close()
    assert done.index("heartbeat2") < done.index("checkpoint3"), done
