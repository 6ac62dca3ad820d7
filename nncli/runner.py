"""Train a Config into a run directory, or resume one, keeping the run's status true.

``train`` goes through four steps: ``prepare`` (``runjob.py``: config, checkpoint, data and
model; nothing is written, so config and data errors leave no directory), then, below, ``open_run``
(claim the directory, write the config and ``status: running``), ``fit`` (the training loop,
whose every way of ending becomes one ``Outcome``) and ``conclude`` (write what the outcome
allows, set the final status once, raise what the caller must know). The status machine:

    running --fit returned----------------> finished   (reason: null or early stopping)
            --fit stopped by a signal-----> killed     (reason: sigint | sigterm; resumable)
            --non-finite loss or weights--> failed     (reason: non_finite_loss; exit 3)
            --a write failed--------------> failed     (reason: disk_full | error: ...; exit 4)
            --anything else (a bug)-------> failed     (reason: error: ...; traceback kept)

The writing process holds the run's lock (``runlock.py``) from before its first write to its
exit, and records every status in the lock's record before summary.json: the record needs no
new disk blocks, so the status stays true on a full disk. A run whose process died without
recording an end shows as ``dead`` in ``nncli runs`` (``runs.effective_status``).

Resume continues a run in its own directory from its checkpoint. Only the keys in
``RESUME_MAY_CHANGE`` (config/resume.py) may differ from the run's saved config (they decide how long or how often,
never what is trained); raising ``training.epochs`` continues a finished run, bit-identical to a
run that had the larger count from the start unless its schedule depends on the epoch count
(cosine). Resuming a finished run without a change is refused: there is nothing to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import blas, modelfiles, rundir, runs, verdict
from nncli.build import load_data, targets
from nncli.config import Config, dump_config
from nncli.config.resume import RESUME_MAY_CHANGE  # noqa: F401  (re-exported)
from nncli.errors import DivergedError, Interrupted, NncliError, RunError
from nncli.recorder import RunRecorder
from nncli.nn import Diverged
from nncli.runjob import Job, prepare, previous_summary
from nncli.runresults import final_metrics, hyper, model_arrays, versions

DIVERGED_HINT = "lower optimizer.lr, set optimizer.clip_norm, or scale the features (data.scaling: standard)"


@dataclass
class StopFlag:
    """Set by a signal handler; the training loop checks it after every batch."""

    signame: str | None = None


def preload() -> None:
    """Import what every training run needs, so that start-up cost is counted as imports.
    scikit-learn and scipy are not among them: the dataset cache, the splits and the
    preprocessing need neither, and the features that do import them when used."""
    import nncli.build  # noqa: F401


# ---------------------------------------------------------------- the four steps
@dataclass
class Outcome:
    """How ``fit`` ended: the final status and reason, and what ``conclude`` must do."""

    status: str  # finished | killed | failed
    reason: str | None
    exit_code: int = 0
    save_model: bool = True
    error: BaseException | None = None  # raised once the status is written
    extra: dict = field(default_factory=dict)


def open_run(job: Job, runs_dir) -> tuple[Path, dict]:
    """Claim the run directory (or reuse the resumed one) and record ``status: running``."""
    cfg, ds, parts = job.cfg, job.ds, job.parts
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    resumed = job.resumed
    if not resumed:
        job.run_dir, job.lock = rundir.claim(cfg, runs_dir, into=job.run_dir)
    run_dir = job.run_dir
    summary = {
        "name": cfg.name, "dir": str(run_dir), "status": "running", "reason": None,
        "dataset": ds.source, "task": ds.task, "seed": cfg.seed, **hyper(cfg),
        "started": now, "command": job.command, "versions": versions(),
        "n_params": int(parts.net.theta.size),
        "samples": {"train": len(ds.X_train), "validation": len(ds.X_val), "test": len(ds.X_test)},
        "data": ds.info,
    }
    if parts.transfer:
        summary["transfer"] = parts.transfer
    if job.fold is not None:
        summary["fold"] = {"k": job.fold[0], "index": job.fold[1] + 1}
    if resumed:  # the run keeps its history; each resume is recorded
        previous = previous_summary(run_dir)
        job.segments = rundir.segments(previous, job.lock.previous)
        summary = {**summary, **previous}
        entry = {"at": now, "epoch": parts.trainer.epoch, "batch": parts.trainer.batch, "command": job.command,
                 "from": job.restored_from or f"{runs.CONFIG_FILE} (no checkpoint: started again from epoch 0)",
                 "versions": versions()}
        if job.changed:
            entry["changed"] = job.changed
            if "training.epochs" in job.changed and getattr(parts.trainer.schedule, "uses_epochs", False):
                entry["note"] = (f"the {cfg.optimizer.schedule.name} schedule depends on training.epochs: the "
                                 "epochs still to run follow the new count, so the run differs from one "
                                 "trained for that many epochs from the start")
            runs.atomic_write_text(run_dir / runs.CONFIG_FILE, dump_config(cfg))
            summary.update(hyper(cfg))
        summary["resumed"] = [*summary.get("resumed", []), entry]
        summary.update(status="running", reason=None, resumable=False)
    summary["process"] = {"host": job.lock.record["host"], "pid": job.lock.record["pid"]}
    job.lock.set_status("running", segment_start=time.time(), segment_seconds=None, segment_saved=False)
    try:
        runs.write_summary(run_dir, summary)
    except RunError as e:  # the record says so: summary.json may keep an older status
        _mark(job, run_dir, summary, "failed", _write_failure(e), e.exit_code)
        raise
    return run_dir, summary


def fit(job: Job, run_dir: Path, summary: dict, stop: StopFlag) -> Outcome:
    """Run the training loop; every way it can end becomes one Outcome (a bug marks the run
    failed and propagates with its traceback)."""
    ds, parts, trainer = job.ds, job.parts, job.parts.trainer
    writer = runs.BackgroundWriter()
    trainer.callbacks.insert(0, RunRecorder(run_dir, writer, job.cfg.training.checkpoint_every, stop,
                                            rundir.saved_config(job.cfg), job.lock))
    t_fit = time.perf_counter()
    try:
        try:
            with blas.limit(blas.fit_threads(parts.net, trainer.batch_size, len(ds.X_train))):
                trainer.fit(ds.X_train, targets(parts, ds, ds.y_train), ds.X_val,
                            targets(parts, ds, ds.y_val), parts.sample_weight)
        finally:
            job.timings["fit"] = time.perf_counter() - t_fit
            writer.close()  # every pending write lands (or raises) before the status moves on
    except Diverged as e:
        trainer.restore_best()
        err = DivergedError(f"{e}; run {run_dir} marked failed; {DIVERGED_HINT}", e.epoch, e.batch)
        err.run_dir = run_dir
        return Outcome("failed", "non_finite_loss", err.exit_code, error=err,
                       extra={"diverged_at": {"epoch": e.epoch, "batch": e.batch}})
    except RunError as e:
        return Outcome("failed", _write_failure(e), e.exit_code, save_model=False, error=e)
    except BaseException as e:
        _mark(job, run_dir, summary, "failed", f"error: {type(e).__name__}: {e}", 1)
        raise
    if trainer.stop_training:
        signame = stop.signame or "sigint"
        where = f"after epoch {trainer.epoch}" if trainer.batch == 0 else \
            f"in epoch {trainer.epoch + 1} after batch {trainer.batch}"
        err = Interrupted(signame, run_dir, where)
        return Outcome("killed", signame, err.exit_code, extra={"resumable": True}, error=err)
    return Outcome("finished", trainer.stop_reason)


def conclude(job: Job, run_dir: Path, summary: dict, outcome: Outcome) -> dict:
    """Write what the outcome allows, then the final status (exactly once); raise its error."""
    trainer = job.parts.trainer
    try:
        if outcome.status == "killed":
            # the exact state to resume from first; then, like a finished run, the model so far
            # (the best epoch's weights under early stopping) so evaluate and predict work on it
            modelfiles.save_checkpoint(run_dir, trainer.state_dict(), rundir.saved_config(job.cfg))
            if trainer.early_stopping and trainer.early_stopping.restore_best:
                trainer.restore_best()
        summary = _write_results(job, run_dir, summary, outcome)
    except RunError as e:  # trained, but the results could not be written: the status must say so
        _mark(job, run_dir, summary, "failed", _write_failure(e), e.exit_code)
        raise
    if outcome.error is not None:
        raise outcome.error
    return summary


def train(cfg: Config | None, *, runs_dir: str | Path = "runs", resume: str | None = None,
          callbacks=(), stop: StopFlag | None = None, command: str = "",
          timings: dict | None = None, on_start=None, say=None, overrides=(), into: Path | None = None,
          loader=load_data, fold: tuple[int, int] | None = None,
          started: float | None = None) -> tuple[Path, dict]:
    """Train ``cfg`` into a new run directory (or continue ``resume``); returns (dir, summary).

    ``on_start(run_dir, summary)`` is called once the directory is claimed, before the first
    batch (the summary holds what was transferred and, for a resume, where it picks up).
    ``overrides`` change a resumed run's saved config (keys of RESUME_MAY_CHANGE only);
    ``into`` is a directory the caller claimed to train into instead of a new one (a sweep's
    trial); ``loader`` turns a config into its Dataset (a sweep's worker caches them).
    ``started``: the ``time.perf_counter()`` value the run's wall time counts from (the
    process's start, for a command that trains one run), default now.
    Raises DivergedError, Interrupted or RunError after marking the run's status, with the
    error's ``run_dir`` and ``summary`` set; ConfigError and DataError are raised before any
    directory is created.
    """
    stop = stop or StopFlag()
    job = prepare(cfg, runs_dir=runs_dir, resume=resume, callbacks=callbacks, command=command,
                  timings=dict(timings or {}), stop=stop, say=say, overrides=overrides, into=into, loader=loader,
                  fold=fold, started=started)
    try:
        if stop.signame:
            raise Interrupted(stop.signame)
        run_dir, summary = open_run(job, runs_dir)
        try:
            if on_start is not None:
                on_start(run_dir, summary)
            outcome = fit(job, run_dir, summary, stop)
            return run_dir, conclude(job, run_dir, summary, outcome)
        except NncliError as e:  # the caller can say which run it ended, and how
            e.run_dir, e.summary = run_dir, summary
            raise
    finally:
        if job.lock is not None:
            job.lock.release()


# ---------------------------------------------------------------- helpers
def _write_failure(e: RunError) -> str:
    return "disk_full" if "No space" in str(e) else f"error: {e}"


def _mark(job: Job, run_dir, summary, status, reason, exit_code, **extra):
    """Record a final status: in the lock's record (which needs no new disk blocks), then in
    summary.json; a failure to write either must not hide the original error."""
    summary.update(status=status, reason=reason, **extra)
    try:
        job.lock.set_status(status, reason, exit_code, segment_seconds=time.perf_counter() - job.t0)
    except NncliError:
        pass
    try:
        runs.write_summary(run_dir, summary)
    except NncliError:
        pass


def _verdict(job: Job, final: dict) -> dict:
    """The bias/variance verdict (nncli.verdict) as the summary's diagnosis."""
    v = verdict.for_run(job.ds.task, final, verdict.run_baseline(job.cfg, job.parts, job.ds)) if final else None
    return {"diagnosis": v.text() if v else None, "verdict": v.as_dict() if v else None}


def _switch(history: list[dict]) -> dict:
    """When an optimizer that switches (SWATS) switched, and to what rate."""
    row = next((r for r in history if r.get("switch_step")), None)
    if row is None:
        return {}
    return {"optimizer_switch": {"epoch": row["epoch"], "step": row["switch_step"], "sgd_lr": row["sgd_lr"]}}


def _write_results(job: Job, run_dir: Path, summary: dict, outcome: Outcome) -> dict:
    """The model and final scores (when the weights allow) and the final summary."""
    parts, ds, trainer, timings = job.parts, job.ds, job.parts.trainer, job.timings
    final = {}
    if outcome.save_model and np.isfinite(parts.net.theta).all():
        final = final_metrics(parts, ds)
        t_write = time.perf_counter()
        modelfiles.save_model(run_dir, model_arrays(parts, ds, job.cfg))
        timings["write"] = time.perf_counter() - t_write
    best = None
    if trainer.best is not None:
        best = {"epoch": trainer.best[1], "value": trainer.best[0],
                "monitor": trainer.early_stopping.monitor if trainer.early_stopping else
                ("val_loss" if len(ds.X_val) else "loss")}
    seconds = time.perf_counter() - job.t0
    segments = [*job.segments, {"started": summary["resumed"][-1]["at"] if summary.get("resumed") else
                                summary["started"], "seconds": seconds, "status": outcome.status}]
    summary.update(status=outcome.status, reason=outcome.reason, epochs_run=trainer.epoch, final=final,
                   best=best, **_verdict(job, final), **_switch(trainer.history),
                   history_last=trainer.history[-1] if trainer.history else None,
                   wall_time=sum(s["seconds"] for s in segments), segments=segments, timings=timings,
                   **outcome.extra)
    job.lock.set_status(outcome.status, outcome.reason, outcome.exit_code, segment_seconds=seconds)
    runs.write_summary(run_dir, summary)
    try:
        job.lock.set_status(outcome.status, outcome.reason, outcome.exit_code, segment_seconds=seconds,
                            segment_saved=True)
    except RunError:
        pass  # the summary has the segment; counting it twice later is the worst that can happen
    return summary
