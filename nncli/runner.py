"""Train a Config into a run directory, or resume one, keeping the run's status true.

``train`` goes through four steps, each a function below: ``prepare`` (config, checkpoint, data
and model; nothing is written, so config and data errors leave no directory), ``open_run``
(claim the directory, write the config and ``status: running``), ``fit`` (the training loop,
whose every way of ending becomes one ``Outcome``) and ``conclude`` (write what the outcome
allows, set the final status once, raise what the caller must know). The status machine:

    running --fit returned----------------> finished   (reason: null or early stopping)
            --fit stopped by a signal-----> killed     (reason: sigint | sigterm; resumable)
            --non-finite loss or weights--> failed     (reason: non_finite_loss; exit 3)
            --a write failed--------------> failed     (reason: disk_full | error: ...; exit 4)
            --anything else (a bug)-------> failed     (reason: error: ...; traceback kept)
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import __version__, blas, runs
from nncli.build import Parts, build, check, load_data, targets
from nncli.config import Config, config_to_dict, dump_config
from nncli.config.layers import layer_specs
from nncli.config.load import load_saved_config
from nncli.data import Dataset, import_reader
from nncli.errors import ConfigError, DivergedError, Interrupted, NncliError, RunError
from nncli.nn import Callback, Diverged

DIVERGED_HINT = "lower optimizer.lr, set optimizer.clip_norm, or scale the features (data.scaling: standard)"


@dataclass
class StopFlag:
    """Set by a signal handler; the training loop checks it after every batch."""

    signame: str | None = None


def preload() -> None:
    """Import what training will need, so that start-up cost is counted as imports."""
    import sklearn.datasets  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.preprocessing  # noqa: F401


# ---------------------------------------------------------------- the run's files as it trains
class RunRecorder(Callback):
    """Keeps the run's files current: metrics.csv and the checkpoint after every epoch (and
    every N batches), written off the training thread so the loop never waits on the disk."""

    def __init__(self, run_dir: Path, writer: runs.BackgroundWriter, every_batches: int, stop: StopFlag):
        self.run_dir, self.writer, self.every, self.stop = run_dir, writer, every_batches, stop
        self.metrics = None

    def on_train_begin(self, trainer):
        self.metrics = runs.MetricsTable(trainer.history)  # a resumed run starts from its history

    def checkpoint(self, trainer):
        self.writer.submit("checkpoint", runs.save_checkpoint, self.run_dir, trainer.state_dict())

    def on_batch_end(self, trainer, epoch, batch):
        if self.stop.signame:
            trainer.stop_training = True
        elif self.every and (batch + 1) % self.every == 0:
            self.checkpoint(trainer)

    def on_epoch_end(self, trainer, epoch, logs):
        self.checkpoint(trainer)
        self.metrics.add(logs)
        self.writer.submit("metrics", runs.atomic_write_text, self.run_dir / runs.METRICS_FILE,
                           self.metrics.text())
        if self.stop.signame:
            trainer.stop_training = True


def versions() -> dict:
    import scipy
    import sklearn

    return {"nncli": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def hyper(cfg: Config) -> dict:
    """The main hyper-parameters, for `nncli runs`. A layer list shows its weighted layers
    (conv32, conv64, 128: filters of each convolution, units of each dense layer)."""
    m = cfg.model
    hidden, activation = list(m.hidden), m.activation
    if m.layers is not None:
        specs = layer_specs(m.layers)
        hidden = [f"conv{s['filters']}" if k == "conv2d" else s["units"] for k, s in specs if k in ("conv2d", "dense")]
        acts = list(dict.fromkeys(s["name"] for k, s in specs if k == "activation"))
        activation = acts[0] if len(acts) == 1 else acts
    return {"hidden": hidden, "activation": activation,
            "optimizer": cfg.optimizer.name, "lr": cfg.optimizer.lr,
            "batch_size": cfg.training.batch_size, "epochs": cfg.training.epochs}


def diagnose(task: str, final: dict) -> str | None:
    """A bias/variance verdict from training and validation error (the notes' rule of thumb)."""
    if "train" not in final or "validation" not in final:
        return None
    if task == "classification":
        train_err = 1 - final["train"]["accuracy"]
        gap = (1 - final["validation"]["accuracy"]) - train_err
        high_bias, high_var = train_err > 0.05, gap > 0.05
        what = f"training error {train_err:.3f}, validation gap {gap:+.3f}"
    else:
        train_err = 1 - final["train"]["r2"]
        gap = (1 - final["validation"]["r2"]) - train_err
        high_bias, high_var = train_err > 0.1, gap > 0.1
        what = f"training 1-R2 {train_err:.3f}, validation gap {gap:+.3f}"
    if high_bias and high_var:
        verdict = "high bias and high variance"
    elif high_bias:
        verdict = "high bias (underfitting): try a larger model, more epochs or less regularization"
    elif high_var:
        verdict = "high variance (overfitting): try more data, dropout, L2 or early stopping"
    else:
        verdict = "good fit"
    return f"{verdict} ({what})"


def final_metrics(parts: Parts, ds: Dataset) -> dict:
    """Loss (on the targets as trained) and the metric per split; for regression also RMSE and
    MAE in the data's own units."""
    out = {}
    for split, X, y in (("train", ds.X_train, ds.y_train), ("validation", ds.X_val, ds.y_val),
                        ("test", ds.X_test, ds.y_test)):
        if len(X):
            out[split] = parts.trainer.evaluate(X, targets(parts, ds, y))
            if ds.task == "regression":
                err = ds.target.inverse(parts.net.predict(X)) - np.asarray(y, np.float64).reshape(len(y), -1)
                out[split].update(rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))))
    return out


def model_arrays(parts: Parts, ds: Dataset) -> dict:
    import json

    arrays = {f"net.{k}": v for k, v in parts.net.state_dict().items()}
    arrays.update(ds.state_dict())  # preprocessing, column encoders, target scaling, split rows
    meta = {"task": ds.task, "n_in": int(ds.X_train.shape[1]) if ds.X_train.ndim == 2 else list(ds.X_train.shape[1:]), "n_out": parts.n_out,
            "feature_names": ds.feature_names, "loss": parts.loss_name, "output": parts.output,
            "data": ds.fingerprint, "label": ds.info.get("label_column"), "id": ds.info.get("id")}
    arrays["meta"] = runs.put_str(json.dumps(meta))
    if ds.classes is not None:
        arrays["classes"] = ds.classes
    return arrays


# ---------------------------------------------------------------- the four steps
@dataclass
class Job:
    """What ``prepare`` gathered: nothing of it is on disk yet for a new run."""

    cfg: Config
    ds: Dataset
    parts: Parts
    run_dir: Path | None  # set for a resume
    command: str
    timings: dict
    t0: float


@dataclass
class Outcome:
    """How ``fit`` ended: the final status and reason, and what ``conclude`` must do."""

    status: str  # finished | killed | failed
    reason: str | None
    save_model: bool = True
    error: BaseException | None = None  # raised once the status is written
    extra: dict = field(default_factory=dict)


def prepare(cfg: Config | None, *, runs_dir, resume: str | None, callbacks, command: str,
            timings: dict, stop: StopFlag | None = None, say=None) -> Job:
    t0 = time.perf_counter()
    state = run_dir = None
    if resume is not None:
        run_dir = runs.resolve_run(resume, runs_dir)
        state, _ = runs.load_checkpoint(run_dir)  # first: a format this version cannot resume is refused
        saved = load_saved_config(run_dir / runs.CONFIG_FILE)
        if cfg is not None and config_to_dict(cfg) != config_to_dict(saved):
            raise ConfigError(f"--resume {run_dir}: the given config differs from the run's saved config "
                              f"in {', '.join(_differences(config_to_dict(saved), config_to_dict(cfg)))}; "
                              "resume with the run alone (nncli train --resume RUN)")
        cfg = saved
    else:
        check(cfg, runs_dir)  # a typo in data.params, a missing file or run: exit 2, nothing written
    t_import = time.perf_counter()
    import_reader(cfg.data.path)  # pyarrow, for a file: counted with the other imports
    timings["imports"] = timings.get("imports", 0.0) + time.perf_counter() - t_import
    t_data = time.perf_counter()
    ds = load_data(cfg, stop=(lambda: stop.signame) if stop is not None else None)
    timings["data"] = time.perf_counter() - t_data
    for line in ds.notes if say is not None else ():
        say(line)
    parts = build(cfg, ds, callbacks, runs_dir)
    if state is not None:
        try:
            parts.trainer.load_state_dict(state)
        except (KeyError, ValueError, TypeError) as e:
            raise RunError(f"{run_dir}: the checkpoint does not match the run's model ({e})") from e
        runs.remove_temp_files(run_dir)
    return Job(cfg, ds, parts, run_dir, command, timings, t0)


def open_run(job: Job, runs_dir) -> tuple[Path, dict]:
    """Claim the run directory (or reuse the resumed one) and record ``status: running``."""
    cfg, ds, parts = job.cfg, job.ds, job.parts
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    if job.run_dir is None:
        run_dir = runs.claim_run_dir(runs_dir, cfg.name)
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
        runs.atomic_write_text(run_dir / runs.CONFIG_FILE, dump_config(cfg))
    else:  # the run keeps its history; each resume is recorded
        run_dir = job.run_dir
        summary = _previous_summary(run_dir)
        summary["resumed"] = [*summary.get("resumed", []), {
            "at": now, "epoch": parts.trainer.epoch, "batch": parts.trainer.batch, "command": job.command,
            "versions": versions()}]
        summary.update(status="running", reason=None, resumable=False)
    runs.write_summary(run_dir, summary)
    return run_dir, summary


def fit(job: Job, run_dir: Path, summary: dict, stop: StopFlag) -> Outcome:
    """Run the training loop; every way it can end becomes one Outcome (a bug marks the run
    failed and propagates with its traceback)."""
    ds, parts, trainer = job.ds, job.parts, job.parts.trainer
    writer = runs.BackgroundWriter()
    trainer.callbacks.insert(0, RunRecorder(run_dir, writer, job.cfg.training.checkpoint_every, stop))
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
        return Outcome("failed", "non_finite_loss", error=err,
                       extra={"diverged_at": {"epoch": e.epoch, "batch": e.batch}})
    except RunError as e:
        return Outcome("failed", _write_failure(e), save_model=False, error=e)
    except BaseException as e:
        _mark(run_dir, summary, "failed", f"error: {type(e).__name__}: {e}")
        raise
    if trainer.stop_training:
        signame = stop.signame or "sigint"
        where = f"after epoch {trainer.epoch}" if trainer.batch == 0 else \
            f"in epoch {trainer.epoch + 1} after batch {trainer.batch}"
        return Outcome("killed", signame, extra={"resumable": True}, error=Interrupted(signame, run_dir, where))
    return Outcome("finished", trainer.stop_reason)


def conclude(job: Job, run_dir: Path, summary: dict, outcome: Outcome) -> dict:
    """Write what the outcome allows, then the final status (exactly once); raise its error."""
    trainer = job.parts.trainer
    try:
        if outcome.status == "killed":
            # the exact state to resume from first; then, like a finished run, the model so far
            # (the best epoch's weights under early stopping) so evaluate and predict work on it
            runs.save_checkpoint(run_dir, trainer.state_dict())
            if trainer.early_stopping and trainer.early_stopping.restore_best:
                trainer.restore_best()
        summary = _write_results(job, run_dir, summary, outcome)
    except RunError as e:  # trained, but the results could not be written: the status must say so
        _mark(run_dir, summary, "failed", _write_failure(e))
        raise
    if outcome.error is not None:
        raise outcome.error
    return summary


def train(cfg: Config | None, *, runs_dir: str | Path = "runs", resume: str | None = None,
          callbacks=(), stop: StopFlag | None = None, command: str = "",
          timings: dict | None = None, on_start=None, say=None) -> tuple[Path, dict]:
    """Train ``cfg`` into a new run directory (or continue ``resume``); returns (dir, summary).

    ``on_start(run_dir, summary)`` is called once the directory is claimed, before the first
    batch (the summary holds what was transferred and, for a resume, where it picks up).
    Raises DivergedError, Interrupted or RunError after marking the run's status, with the
    error's ``run_dir`` and ``summary`` set; ConfigError and DataError are raised before any
    directory is created.
    """
    stop = stop or StopFlag()
    job = prepare(cfg, runs_dir=runs_dir, resume=resume, callbacks=callbacks, command=command,
                  timings=dict(timings or {}), stop=stop, say=say)
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


# ---------------------------------------------------------------- helpers
def _previous_summary(run_dir: Path) -> dict:
    try:
        return runs.read_summary(run_dir)
    except RunError:  # damaged: start a fresh one rather than refuse to continue
        return {"dir": str(run_dir)}


def _write_failure(e: RunError) -> str:
    return "disk_full" if "No space" in str(e) else f"error: {e}"


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(a) | set(b)):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            keys += _differences(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            keys.append(prefix + k)
    return keys


def _mark(run_dir, summary, status, reason, **extra):
    """Record a final status; a failure to write it must not hide the original error."""
    summary.update(status=status, reason=reason, **extra)
    try:
        runs.write_summary(run_dir, summary)
    except NncliError:
        pass


def _write_results(job: Job, run_dir: Path, summary: dict, outcome: Outcome) -> dict:
    """The model and final scores (when the weights allow) and the final summary."""
    parts, ds, trainer, timings = job.parts, job.ds, job.parts.trainer, job.timings
    final = {}
    if outcome.save_model and np.isfinite(parts.net.theta).all():
        final = final_metrics(parts, ds)
        t_write = time.perf_counter()
        runs.save_model(run_dir, model_arrays(parts, ds))
        timings["write"] = time.perf_counter() - t_write
    best = None
    if trainer.best is not None:
        best = {"epoch": trainer.best[1], "value": trainer.best[0],
                "monitor": trainer.early_stopping.monitor if trainer.early_stopping else
                ("val_loss" if len(ds.X_val) else "loss")}
    summary.update(status=outcome.status, reason=outcome.reason, epochs_run=trainer.epoch, final=final,
                   best=best, diagnosis=diagnose(ds.task, final),
                   history_last=trainer.history[-1] if trainer.history else None,
                   wall_time=time.perf_counter() - job.t0, timings=timings, **outcome.extra)
    runs.write_summary(run_dir, summary)
    return summary
