"""Sweeps as real processes: kill -9 and Ctrl-C in the middle, then the same command again;
and the same trials on a two-worker Dask cluster. Slow: real subprocesses and a cluster."""

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
from helpers import same_weights, write

from nncli import runner
from nncli.config import load_config
from nncli.sweep import manifest

ROOT = Path(__file__).resolve().parent.parent
LONG = """\
name: dig
data: {dataset: digits, subset: 600}
model: {hidden: [32]}
training: {epochs: 150, batch_size: 32}
"""
GRID = ["optimizer.lr=0.01,0.003,0.001,0.0003"]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start(args: list, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)], env=env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def sweep_dir(runs: Path) -> Path:
    found = [p for p in runs.iterdir() if manifest.is_sweep(p)] if runs.exists() else []
    return found[0] if found else None


def trials(runs: Path) -> list[dict]:
    d = sweep_dir(runs)
    return manifest.read(d)["trials"] if d else []


def wait_for(test, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def descendants(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


def all_gone(procs) -> bool:
    import psutil

    def alive(p):
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    return not any(alive(p) for p in procs)


@pytest.mark.slow
def test_kill_9_then_the_same_command_trains_only_unfinished_trials(tmp_path):
    cfg = write(tmp_path / "dig.yaml", LONG)
    runs = tmp_path / "runs"
    args = ["sweep", cfg, *GRID, "--jobs", "2", "--runs-dir", runs, "--quiet"]
    proc = start(args)
    try:
        # kill it once one trial has finished and others are training
        wait_for(lambda: any(t["status"] == "finished" for t in trials(runs))
                 and any(t["status"] == "running" for t in trials(runs)))
        workers = descendants(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert len(workers) >= 3  # the server the workers fork from, and two workers
    wait_for(lambda: all_gone(workers), timeout=30)  # no worker outlives its sweep
    before = {t["id"]: t for t in trials(runs)}
    d = sweep_dir(runs)
    finished = {i for i, t in before.items() if t["status"] == "finished"}
    assert finished and len(finished) < 4
    stamps = {i: (d / before[i]["run_dir"] / "model.npz").stat().st_mtime_ns for i in finished}
    # the orphaned workers stop their trials cleanly (or finish them): no status stays "running"
    running = [t for t in before.values() if t["status"] == "running"]
    wait_for(lambda: all(summary(d / t["run_dir"])["status"] in ("killed", "finished") for t in running), timeout=30)
    unfinished = {t["id"] for t in before.values()
                  if not (d / t["run_dir"] / "summary.json").exists() or summary(d / t["run_dir"])["status"] != "finished"}
    assert unfinished

    again = subprocess.run([sys.executable, "-m", "nncli", *map(str, args), "--json"], env=env(), cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert {e["trial"] for e in events if e["event"] == "trial"} == unfinished
    after = trials(runs)
    assert all(t["status"] == "finished" for t in after)
    for t in after:
        run = d / t["run_dir"]
        s = summary(run)
        assert s["status"] == "finished" and s["epochs_run"] == 150
        if t["id"] in finished:  # not trained again
            assert (run / "model.npz").stat().st_mtime_ns == stamps[t["id"]] and "resumed" not in s
        elif t["id"] in unfinished and before[t["id"]]["status"] == "running":  # resumed, not restarted
            assert s["resumed"][0]["epoch"] > 0
            straight = runner.train(load_config(run / "config.yaml"), runs_dir=tmp_path / "straight")[0]
            assert same_weights(run, straight)


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_every_status_is_true(tmp_path):
    cfg = write(tmp_path / "dig.yaml", LONG.replace("epochs: 150", "epochs: 2000"))
    runs = tmp_path / "runs"
    proc = start(["sweep", cfg, *GRID, "--jobs", "2", "--runs-dir", runs], start_new_session=True)
    try:
        wait_for(lambda: sweep_dir(runs) is not None and sum(
            (sweep_dir(runs) / t["run_dir"] / "checkpoint.npz").exists() for t in trials(runs)) == 2)
        workers = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "continue with: nncli sweep --resume" in err and "Traceback" not in err
    d = sweep_dir(runs)
    ts = trials(runs)
    assert sorted(t["status"] for t in ts) == ["killed", "killed", "pending", "pending"]
    for t in ts:
        if t["status"] == "killed":
            s = summary(d / t["run_dir"])
            assert (s["status"], s["reason"]) == ("killed", "sigint") and s["resumable"]
        else:
            assert not (d / t["run_dir"] / "summary.json").exists()
    assert len(workers) >= 3
    wait_for(lambda: all_gone(workers), timeout=10)


# ---------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def cluster():
    import distributed  # a test dependency: fail loudly without it
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as c:
        yield c.scheduler_address


@pytest.mark.slow
def test_eight_trials_on_a_dask_cluster_give_the_serial_weights(tmp_path, cluster, nncli):
    """The benchmark's eight trials (configs/digits.yaml, lr x hidden, 30 epochs each)."""
    grid = ["optimizer.lr=0.03,0.01,0.003,0.001", "model.hidden=[64],[128]", "training.epochs=30", "--quiet"]
    cfg = ROOT / "configs" / "digits.yaml"
    assert nncli("sweep", cfg, *grid, "--runs-dir", tmp_path / "serial").code == 0
    r = nncli("sweep", cfg, *grid, "--cluster", cluster, "--runs-dir", tmp_path / "dask", "--json")
    assert r.code == 0, r.err
    serial, dask = sweep_dir(tmp_path / "serial"), sweep_dir(tmp_path / "dask")
    ts = trials(tmp_path / "dask")
    assert len(ts) == 8 and all(t["status"] == "finished" for t in ts)
    for t in ts:
        run = dask / t["run_dir"]
        assert same_weights(serial / t["run_dir"], run)
        s = summary(run)
        assert s["dir"] == str(run) and s["status"] == "finished"
        assert {p.name for p in run.iterdir()} >= {"config.yaml", "metrics.csv", "summary.json", "model.npz",
                                                  "checkpoint.npz"}
        assert (run / "config.yaml").read_text() == (serial / t["run_dir"] / "config.yaml").read_text()
        assert (run / "metrics.csv").read_text().count("\n") == 31


@pytest.mark.slow
def test_dask_workers_get_the_data_file_and_resume_from_sent_checkpoints(tmp_path, cluster, nncli):
    """No shared filesystem: a CSV the config names travels to the workers, and a halving
    trial continued on a worker starts from the checkpoint the client sends."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    rows = "".join(f"{a:.5f},{b:.5f},{c:.5f},{int(a + b > 0)}\n" for a, b, c in X)
    data = write(tmp_path / "data.csv", "a,b,c,label\n" + rows)
    cfg = write(tmp_path / "csv.yaml", f"name: csv\ndata: {{dataset: null, path: {data}}}\nmodel: {{hidden: [4]}}\n"
                                       "training: {epochs: 9, batch_size: 16}\n")
    args = ["optimizer.lr=0.1,0.03,0.01", "--strategy", "halving", "--quiet"]
    assert nncli("sweep", cfg, *args, "--runs-dir", tmp_path / "serial").code == 0
    r = nncli("sweep", cfg, *args, "--cluster", cluster, "--runs-dir", tmp_path / "dask")
    assert r.code == 0, r.err
    serial, dask = sweep_dir(tmp_path / "serial"), sweep_dir(tmp_path / "dask")
    for t in trials(tmp_path / "dask"):
        run = dask / t["run_dir"]
        assert same_weights(serial / t["run_dir"], run)
        assert load_config(run / "config.yaml").data.path == str(data)
        assert summary(run)["dataset"] == str(data)
    assert max(t["epochs_run"] for t in trials(tmp_path / "dask")) == 9
