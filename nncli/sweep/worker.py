"""One trial, wherever it runs: in the sweep's own process, a worker process or a Dask worker.

``run_trial(spec)`` trains (or continues) one run and returns a plain dict, never raising for
anything the trial itself did. A worker process is set up once by ``init_process``: the
imports are already paid (the pool's processes fork from a server that imported nncli), BLAS
gets its share of the cores, SIGINT/SIGTERM and the sweep's stop flag end the trial cleanly
after the current batch, and a worker whose sweep died stops its trial the same way.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import traceback
from collections import OrderedDict
from pathlib import Path

from nncli import runner, runs
from nncli.build import load_data
from nncli.config import config_to_dict, load_config
from nncli.errors import DivergedError, Interrupted, NncliError
from nncli.sweep import manifest

_CODES = {0: None, 1: "sigint", 2: "sigterm"}
_stop = None  # this worker process's StopFlag (None in the sweep's own process)
_blas = None  # the threadpoolctl limit kept for the life of the worker
_orphaned = threading.Event()
_busy = threading.Event()
_datasets: OrderedDict = OrderedDict()


class SharedStop:
    """A StopFlag read from a flag the sweep's process sets for every worker at once (1 sigint,
    2 sigterm), or set here by this process's own signal handler."""

    def __init__(self, flag=None):
        self.flag, self.local = flag, None

    @property
    def signame(self) -> str | None:
        if self.local:
            return self.local
        return _CODES.get(self.flag.value) if self.flag is not None else None

    @signame.setter
    def signame(self, name: str | None) -> None:
        self.local = name


def init_process(flag, sweep_pid: int, blas_threads: int | None) -> None:
    """Set up a worker process of the local pool (runs once per process)."""
    global _stop, _blas
    _stop = SharedStop(flag)

    def on_signal(signum, frame):
        _stop.signame = _stop.signame or ("sigterm" if signum == signal.SIGTERM else "sigint")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        _blas = threadpool_limits(blas_threads, user_api="blas")
    parent = os.getppid()
    threading.Thread(target=_watch, args=(sweep_pid, parent), daemon=True, name="nncli-sweep-watch").start()


def _watch(sweep_pid: int, parent: int) -> None:
    """A worker must not outlive its sweep (kill -9 leaves no one to stop it): stop the trial
    cleanly, then leave."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(sweep_pid, 0)
            alive = os.getppid() == parent
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            _orphaned.set()
            _stop.signame = _stop.signame or "sigterm"
            if not _busy.is_set():
                os._exit(0)
            return


def load_cached(cfg):
    """A worker trains many trials on the same data: load each (data section, seed, dtype) once."""
    key = json.dumps([config_to_dict(cfg)["data"], cfg.seed, cfg.training.dtype], sort_keys=True)
    if key not in _datasets:
        _datasets[key] = load_data(cfg)
        while len(_datasets) > 2:
            _datasets.popitem(last=False)
    _datasets.move_to_end(key)
    return _datasets[key]


def run_trial(spec: dict, stop=None) -> dict:
    """Train or continue one trial; returns {trial, status, reason, summary, error, started}.

    spec: trial (id), config (YAML text), run_dir, runs_dir (where init_from names resolve),
    mode (new | resume), overrides (for resume: training.epochs=N to continue a finished run),
    command.
    """
    stop = stop if stop is not None else (_stop or runner.StopFlag())
    run_dir = Path(spec["run_dir"])
    out = {"trial": spec["trial"], "status": "failed", "reason": None, "summary": None, "error": None,
           "started": False, "exit_code": 0}
    _busy.set()
    try:
        with manifest.trial_lock(run_dir):
            _train(spec, run_dir, stop, out)
    finally:
        _busy.clear()
    if _orphaned.is_set():
        os._exit(0)  # no sweep to report to; the run's files already tell the truth
    return out


def _train(spec: dict, run_dir: Path, stop, out: dict) -> None:
    common = dict(runs_dir=spec["runs_dir"], stop=stop, command=spec.get("command", ""), loader=load_cached)
    try:
        if spec["mode"] == "new":
            cfg = load_config(f"{spec['trial']}.yaml", text=spec["config"])
            runner.train(cfg, into=run_dir, **common)
        else:
            runner.train(None, resume=str(run_dir), overrides=spec.get("overrides", ()), **common)
    except (DivergedError, Interrupted) as e:
        out["exit_code"] = e.exit_code
    except NncliError as e:
        out["reason"], out["error"], out["exit_code"] = f"error: {e}", str(e), e.exit_code
    except Exception as e:  # a bug: the sweep goes on and shows the traceback
        out["reason"], out["error"] = f"error: {type(e).__name__}: {e}", traceback.format_exc()
        out["exit_code"] = 1
    try:
        summary = runs.read_summary(run_dir)
    except NncliError:
        summary = None
    out["started"] = summary is not None
    if summary is None:  # nothing ran: a config or data problem, or stopped before it began
        out["status"] = "pending" if out["exit_code"] in (130, 143) else "failed"
        return
    out["summary"] = summary
    out["status"], out["reason"] = summary.get("status"), summary.get("reason") or out["reason"]
    if out["status"] == "running":  # the run could not record its end
        out["status"] = "failed"
