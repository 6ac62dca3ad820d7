"""`nncli sweep`: spaces from the command line, a config section or a file; every trial checked
before any trains; grid, random, TPE and halving; worker processes; resume; the results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import IRIS, same_weights, write

from nncli import runner
from nncli.config import load_config
from nncli.nn import Callback
from nncli.sweep import (
    Options,
    Sweep,
    executors,
    make_plan,
    manifest,
    open_sweep,
    worker,
)

DIGITS = """\
name: dig
data: {dataset: digits, subset: 400}
model: {hidden: [16]}
training: {epochs: 4, batch_size: 32}
"""


def sweep_dir_of(runs: Path) -> Path:
    (found,) = [p for p in runs.iterdir() if manifest.is_sweep(p)]
    return found


def trials_of(runs: Path) -> list[dict]:
    return manifest.read(sweep_dir_of(runs))["trials"]


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- grids and results
def test_grid_in_hydra_syntax_trains_every_combination_and_prints_the_best_config(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    runs = tmp_path / "runs"
    r = nncli("sweep", cfg, "optimizer.lr=0.1,0.01", "--grid", "model.hidden=[[4], [8, 8]]", "--runs-dir", runs)
    assert r.code == 0, r.err
    sweep_dir = sweep_dir_of(runs)
    trials = trials_of(runs)
    assert [t["label"] for t in trials] == ["lr=0.1,hidden=[4]", "lr=0.1,hidden=[8,8]", "lr=0.01,hidden=[4]",
                                            "lr=0.01,hidden=[8,8]"]
    assert [t["run_dir"] for t in trials] == ["t000-lr0.1_hidden4", "t001-lr0.1_hidden8-8", "t002-lr0.01_hidden4",
                                              "t003-lr0.01_hidden8-8"]
    for t in trials:
        assert t["status"] == "finished" and t["config_hash"]
        saved = load_config(sweep_dir / t["run_dir"] / "config.yaml")
        assert (saved.optimizer.lr, saved.model.hidden) == (t["params"]["optimizer.lr"], t["params"]["model.hidden"])
        assert saved.name == f"iris-{t['id']}" and saved.sweep is None
        assert "sweep" not in (sweep_dir / t["run_dir"] / "config.yaml").read_text()
    best = max(trials, key=lambda t: t["score"])
    assert f"best: {best['id']} {best['label']}" in r.err
    # stdout is the best trial's config, ready to train: it reproduces that trial bit for bit
    assert (sweep_dir / "best.yaml").read_text() == r.out
    best_cfg = write(tmp_path / "best.yaml", r.out)
    assert load_config(best_cfg).name == "iris"
    again = nncli("train", best_cfg, "--runs-dir", tmp_path / "again", "--quiet")
    assert same_weights(Path(again.out.strip()), sweep_dir / best["run_dir"])


def test_json_prints_a_line_per_trial_then_the_best(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("sweep", cfg, "optimizer.lr=0.1,0.01", "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert r.code == 0 and r.err == ""
    events = lines(r.out)
    assert [e["event"] for e in events] == ["trial", "trial", "best"]
    assert {e["label"] for e in events[:2]} == {"lr=0.1", "lr=0.01"}
    assert all(e["status"] == "finished" and e["metric"] == "val_accuracy" and Path(e["run_dir"]).is_dir()
               for e in events[:2])
    assert load_config("-", text=events[-1]["config"]).optimizer.lr in (0.1, 0.01)


def test_every_trial_is_checked_before_the_first_trains(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("sweep", cfg, "optimizer.lr=0.1,-1", "--runs-dir", tmp_path / "runs")
    assert r.code == 2
    assert "trial t001 (lr=-1)" in r.err and "optimizer.lr" in r.err
    assert not (tmp_path / "runs").exists()
    # a data file that is missing for the second value only
    good = write(tmp_path / "good.csv", "a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    r = nncli("sweep", cfg, "data.dataset=null", f"data.path={good},{tmp_path / 'missing.csv'}",
              "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and "trial t001" in r.err and "data.path: no such file" in r.err and "missing.csv" in r.err
    r = nncli("sweep", cfg, "model.init_from=nothing,other", "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and "model.init_from" in r.err and "no run 'nothing'" in r.err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, says", [
    (["--grid", "optimizer.lr=0.1"], "non-empty list"),
    (["optimizer.lr=0.1"], "nothing to sweep"),
    (["optimizer.lr=loguniform(1e-4,1e-1)"], "has no grid"),
    (["optimizer.lr=0.1,0.01", "--strategy", "random"], "--trials N"),
    (["optimizer.lr=0.1,0.01", "--strategy", "grid", "--trials", "2"], "a grid runs every combination"),
    (["optimizer.lr=0.1,0.01", "--eta", "2"], "only the halving strategy"),
    (["optimizer.lr=0.1,0.01", "--strategy", "rnadom"], "did you mean 'random'"),
    (["optimizer.lr=0.1,0.01", "--jobs", "0"], "--jobs"),
    (["name=a,b"], "cannot be swept"),
    (["optimizer.lr=0.1,0.01", "data.validation=0"], "needs a validation split"),
    (["training.epochs=2,3", "--strategy", "halving"], "training.epochs cannot be swept"),
    (["optimizer.lr=0.1,0.01", "optimizer.schedule=cosine", "--strategy", "halving"], "cosine"),
])
def test_usage_mistakes_exit_2_with_a_hint(args, says, tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    r = nncli("sweep", cfg, *args, "--runs-dir", tmp_path / "runs")
    assert r.code == 2, r.err
    assert says in r.err and "Traceback" not in r.err


def test_a_diverged_trial_does_not_stop_the_sweep_and_exits_3(tmp_path, nncli):
    cfg = write(tmp_path / "div.yaml", "name: div\ndata: {dataset: diabetes, scaling: none}\n"
                                       "optimizer: {name: sgd}\ntraining: {epochs: 3}\n")
    r = nncli("sweep", cfg, "optimizer.lr=1000000.0,0.001", "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 3
    events = lines(r.out)
    assert [(e["status"], e["reason"]) for e in events[:2]] == [("failed", "non_finite_loss"), ("finished", None)]
    assert events[-1]["label"] == "lr=0.001"


# ---------------------------------------------------------------- where the space comes from
def test_a_sweep_section_and_a_sweep_file(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS + "sweep:\n  params:\n    optimizer.lr: 0.1,0.01\n"
                                              "    model.hidden: [[4], [8]]\n    training.batch_size: 8\n")
    r = nncli("sweep", cfg, "--runs-dir", tmp_path / "runs", "--quiet")
    assert r.code == 0, r.err
    trials = trials_of(tmp_path / "runs")
    assert len(trials) == 4
    sweep_dir = sweep_dir_of(tmp_path / "runs")
    assert all(load_config(sweep_dir / t["run_dir"] / "config.yaml").training.batch_size == 8 for t in trials)

    # a sweep file overrides the section key by key; the command line overrides both
    space = write(tmp_path / "space.yaml", "strategy: random\ntrials: 3\nseed: 5\n"
                                           "params:\n  optimizer.lr: loguniform(0.001, 0.1)\n")
    r = nncli("sweep", cfg, "--sweep-file", space, "model.hidden=[4],[6],[8]", "--runs-dir", tmp_path / "runs2",
              "--json", "--quiet")
    assert r.code == 0, r.err
    events = lines(r.out)[:-1]
    assert len(events) == 3
    for e in events:
        assert 0.001 <= e["params"]["optimizer.lr"] <= 0.1 and e["params"]["model.hidden"] in ([4], [6], [8])

    # train ignores the section, and the saved config has none
    r = nncli("train", cfg, "--runs-dir", tmp_path / "single")
    assert r.code == 0 and "ignores the config's sweep section" in r.err
    assert load_config(Path(r.out.strip()) / "config.yaml").sweep is None

    bad = write(tmp_path / "bad.yaml", "params: {optimizer.lr: 0.1,0.01}\nstratgy: grid\n")
    r = nncli("sweep", cfg, "--sweep-file", bad, "--runs-dir", tmp_path / "runs3")
    assert r.code == 2 and "bad.yaml:2" in r.err and "did you mean 'strategy'" in r.err


def test_random_search_is_reproducible_from_its_seed(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    space = ["optimizer.lr=loguniform(0.001,0.3)", "model.hidden=[4],[8]", "--trials", "3", "--quiet", "--json"]
    a = lines(nncli("sweep", cfg, *space, "--seed", "7", "--runs-dir", tmp_path / "a").out)
    b = lines(nncli("sweep", cfg, *space, "--seed", "7", "--runs-dir", tmp_path / "b").out)
    c = lines(nncli("sweep", cfg, *space, "--seed", "8", "--runs-dir", tmp_path / "c").out)
    params = [[e["params"] for e in x[:-1]] for x in (a, b, c)]
    assert params[0] == params[1] != params[2]
    assert [e["score"] for e in a] == [e["score"] for e in b]


# ---------------------------------------------------------------- resuming
def _plan(tmp_path, text, items, **kw):
    cfg = write(tmp_path / "cfg.yaml", text)
    plan = make_plan(str(cfg), text, Options(items=items, **kw), tmp_path / "runs")
    return plan, open_sweep(plan, tmp_path / "runs")


class StopTrialAt(Callback):
    def __init__(self, stop, epoch):
        self.stop, self.epoch = stop, epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            self.stop.signame = "sigint"


def test_an_interrupted_sweep_resumes_where_it_stopped_bit_identical(tmp_path, monkeypatch, nncli):
    """Stop the second trial in its third epoch: the first stays finished, the second is
    killed with a checkpoint, the rest never started. The same command again trains only
    those, and every trial ends as if nothing had happened."""
    plan, sweep_dir = _plan(tmp_path, DIGITS, ["optimizer.lr=0.01,0.003,0.001"])
    stop = runner.StopFlag()
    real = runner.train

    def train(cfg, **kw):
        if cfg is not None and cfg.name.endswith("t001"):
            kw["callbacks"] = [StopTrialAt(stop, 2)]
        return real(cfg, **kw)

    monkeypatch.setattr(worker.runner, "train", train)
    Sweep(plan, sweep_dir, executors.Serial(stop), stop, tmp_path / "runs").run()
    monkeypatch.setattr(worker.runner, "train", real)
    trials = manifest.read(sweep_dir)["trials"]
    assert [(t["status"], t["reason"]) for t in trials] == [("finished", None), ("killed", "sigint"), ("pending", None)]
    first = (sweep_dir / trials[0]["run_dir"] / "model.npz").stat().st_mtime_ns

    r = nncli("sweep", tmp_path / "cfg.yaml", "optimizer.lr=0.01,0.003,0.001", "--runs-dir", tmp_path / "runs", "--json")
    assert r.code == 0, r.err
    assert [e["trial"] for e in lines(r.out)[:-1]] == ["t001", "t002"]  # only the unfinished ones
    assert "1 already finished" in r.err
    trials = manifest.read(sweep_dir)["trials"]
    assert all(t["status"] == "finished" for t in trials)
    assert (sweep_dir / trials[0]["run_dir"] / "model.npz").stat().st_mtime_ns == first
    resumed = json.loads((sweep_dir / trials[1]["run_dir"] / "summary.json").read_text())["resumed"]
    assert [(x["epoch"], x["batch"]) for x in resumed] == [(3, 1)]  # seen after the next batch
    for t in trials:  # each equals its config trained straight through
        straight = runner.train(load_config(sweep_dir / t["run_dir"] / "config.yaml"), runs_dir=tmp_path / "straight")[0]
        assert same_weights(sweep_dir / t["run_dir"], straight)

    # by name, a finished sweep has nothing left to do
    r = nncli("sweep", "--resume", sweep_dir.name, "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert r.code == 0 and [e["event"] for e in lines(r.out)] == ["best"]


def test_resume_refuses_a_changed_definition_and_a_busy_sweep(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    args = ["--runs-dir", tmp_path / "runs", "--name", "mine", "--quiet"]
    assert nncli("sweep", cfg, "optimizer.lr=0.1,0.01", *args).code == 0
    r = nncli("sweep", cfg, "optimizer.lr=0.1,0.02", *args)
    assert r.code == 2 and "holds another sweep" in r.err
    r = nncli("sweep", "--resume", "mine", "optimizer.lr=0.3,0.2", "--runs-dir", tmp_path / "runs")
    assert r.code == 2 and "definition is in its manifest" in r.err
    r = nncli("sweep", "--resume", "mien", "--runs-dir", tmp_path / "runs")
    assert r.code == 4 and "did you mean 'mine'" in r.err
    with manifest.locked(tmp_path / "runs" / "mine"):
        r = nncli("sweep", "--resume", "mine", "--runs-dir", tmp_path / "runs")
    assert r.code == 4 and "running in process" in r.err


# ---------------------------------------------------------------- strategies
def test_halving_keeps_the_best_and_its_finalists_equal_full_runs(tmp_path, nncli):
    cfg = write(tmp_path / "dig.yaml", DIGITS.replace("epochs: 4", "epochs: 9"))
    r = nncli("sweep", cfg, "optimizer.lr=loguniform(1e-4,3e-2)", "model.hidden=[8],[16]", "--strategy", "halving",
              "--trials", "9", "--runs-dir", tmp_path / "runs", "--json", "--quiet")
    assert r.code == 0, r.err
    sweep_dir = sweep_dir_of(tmp_path / "runs")
    data = manifest.read(sweep_dir)
    assert [(x["epochs"], x["keep"]) for x in data["strategy"]["rungs"]] == [(3, 9), (9, 3)]
    trials = data["trials"]
    assert sorted(t["epochs_run"] for t in trials) == [3] * 6 + [9] * 3
    # the trials promoted from the first rung were its best three
    at_0 = sorted(trials, key=lambda t: -t["scores"]["0"])
    assert {t["id"] for t in trials if "1" in t["scores"]} == {t["id"] for t in at_0[:3]}
    finalists = [t for t in trials if t["epochs_run"] == 9]
    best = max(finalists, key=lambda t: t["scores"]["1"])
    assert data["best"] == best["id"] and lines(r.out)[-1]["trial"] == best["id"]
    for t in finalists:  # each equals a full run of its config
        run = sweep_dir / t["run_dir"]
        assert load_config(run / "config.yaml").training.epochs == 9
        assert json.loads((run / "summary.json").read_text())["resumed"][0]["changed"] == {"training.epochs": [3, 9]}
        straight = runner.train(load_config(run / "config.yaml"), runs_dir=tmp_path / "straight")[0]
        assert same_weights(run, straight)


def test_tpe_asks_and_tells_and_follows_its_seed(tmp_path, nncli):
    import optuna  # noqa: F401  (a test dependency: fail loudly without it)
    cfg = write(tmp_path / "iris.yaml", IRIS)
    args = ["optimizer.lr=loguniform(1e-3,0.3)", "model.hidden=[4],[8]", "--strategy", "tpe", "--trials", "4",
            "--seed", "3", "--json", "--quiet"]
    a = lines(nncli("sweep", cfg, *args, "--runs-dir", tmp_path / "a").out)
    b = lines(nncli("sweep", cfg, *args, "--runs-dir", tmp_path / "b").out)
    assert len(a) == 5 and [e["params"] for e in a[:-1]] == [e["params"] for e in b[:-1]]
    assert all(1e-3 <= e["params"]["optimizer.lr"] <= 0.3 for e in a[:-1])


def test_missing_extras_say_which_to_install(tmp_path, nncli, monkeypatch):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    r = nncli("sweep", cfg, "optimizer.lr=0.1,0.01", "--strategy", "tpe", "--trials", "2", "--runs-dir", tmp_path / "r")
    assert r.code == 2 and 'pip install "nncli[optuna]"' in r.err
    r = nncli("sweep", cfg, "optimizer.lr=0.1,0.01", "--cluster", "tcp://127.0.0.1:1", "--runs-dir", tmp_path / "r")
    assert r.code == 2 and 'pip install "nncli[dask]"' in r.err


# ---------------------------------------------------------------- worker processes
def test_worker_processes_give_the_serial_weights(tmp_path, nncli):
    cfg = write(tmp_path / "iris.yaml", IRIS)
    grid = ["optimizer.lr=0.1,0.01", "model.hidden=[4],[8,8]", "--quiet"]
    assert nncli("sweep", cfg, *grid, "--runs-dir", tmp_path / "serial").code == 0
    r = nncli("sweep", cfg, *grid, "--jobs", "2", "--runs-dir", tmp_path / "pool")
    assert r.code == 0, r.err
    serial, pool = sweep_dir_of(tmp_path / "serial"), sweep_dir_of(tmp_path / "pool")
    for t in trials_of(tmp_path / "serial"):
        assert same_weights(serial / t["run_dir"], pool / t["run_dir"])


def test_a_trial_stopped_in_a_worker_reports_killed(tmp_path):
    """The shared flag a worker watches stops its trial after the current batch."""
    plan, sweep_dir = _plan(tmp_path, DIGITS.replace("epochs: 4", "epochs: 400"), ["optimizer.lr=0.01,0.001"])
    stop = runner.StopFlag()
    pool = executors.Local(2)
    try:
        seen = []

        def emit(event):
            seen.append(event)

        run = Sweep(plan, sweep_dir, pool, stop, tmp_path / "runs", emit)
        import threading
        import time

        def later():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any((sweep_dir / t["run_dir"] / "checkpoint.npz").exists() for t in plan.trials):
                    break
                time.sleep(0.05)
            stop.signame = "sigterm"

        threading.Thread(target=later, daemon=True).start()
        run.run()
    finally:
        pool.close()
    trials = manifest.read(sweep_dir)["trials"]
    assert {t["status"] for t in trials} <= {"killed", "pending"} and "killed" in {t["status"] for t in trials}
    for t in trials:
        summary = sweep_dir / t["run_dir"] / "summary.json"
        if t["status"] == "killed":
            s = json.loads(summary.read_text())
            assert s["status"] == "killed" and s["reason"] == "sigterm" and s["epochs_run"] < 400
