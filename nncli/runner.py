"""Wires a Config to the run store: train into a run directory, resume one, run sweeps.

``train`` loads the data, builds the parts (``build.py``), claims a run directory and trains,
keeping the run's files true at every moment: the status in summary.json always says what
happened, and every write is atomic. ``evaluate`` and ``predict`` (``inference.py``) rebuild a
model from a run directory alone.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli import __version__, runs
from nncli.build import Parts, build, load_data, targets
from nncli.config import Config, config_to_dict, dump_config, load_config
from nncli.data import Dataset
from nncli.errors import (
    ConfigError,
    DivergedError,
    Interrupted,
    NncliError,
    RunError,
)
from nncli.inference import evaluate, predict  # noqa: F401  (part of the runner's API)
from nncli.train import Callback

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


# ---------------------------------------------------------------- training
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
    """The main hyper-parameters, for `nncli runs`."""
    return {"hidden": list(cfg.model.hidden), "activation": cfg.model.activation,
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
    out = {}
    for split, X, y in (("train", ds.X_train, ds.y_train), ("validation", ds.X_val, ds.y_val),
                        ("test", ds.X_test, ds.y_test)):
        if len(X):
            out[split] = parts.trainer.evaluate(X, targets(parts, ds, y))
    return out


def model_arrays(parts: Parts, ds: Dataset) -> dict:
    arrays = {f"net.{k}": v for k, v in parts.net.state_dict().items()}
    arrays.update(ds.preprocessor.state_dict())
    meta = {"task": ds.task, "n_in": int(ds.X_train.shape[1]), "n_out": parts.n_out,
            "feature_names": ds.feature_names, "loss": parts.loss_name, "output": parts.output}
    arrays["meta"] = runs.put_str(json.dumps(meta))
    if ds.classes is not None:
        arrays["classes"] = ds.classes
    return arrays


def train(cfg: Config, *, runs_dir: str | Path = "runs", resume: str | None = None,
          callbacks=(), stop: StopFlag | None = None, command: str = "",
          timings: dict | None = None) -> tuple[Path, dict]:
    """Train ``cfg`` into a new run directory (or continue ``resume``); returns (dir, summary).

    Raises DivergedError, Interrupted or RunError after marking the run's status; ConfigError
    and DataError are raised before any directory is created.
    """
    stop = stop or StopFlag()
    timings = dict(timings or {})
    t0 = time.perf_counter()
    state = None
    if resume is not None:
        run_dir = runs.resolve_run(resume, runs_dir)
        saved = load_config(run_dir / runs.CONFIG_FILE)
        if cfg is not None and config_to_dict(cfg) != config_to_dict(saved):
            raise ConfigError(f"--resume {run_dir}: the given config differs from the run's saved config "
                              f"in {', '.join(_differences(config_to_dict(saved), config_to_dict(cfg)))}; "
                              "resume with the run alone (nncli train --resume RUN)")
        cfg = saved
        state, _ = runs.load_checkpoint(run_dir)
        runs.remove_temp_files(run_dir)
    ds = load_data(cfg)
    timings["data"] = time.perf_counter() - t0
    rng = np.random.default_rng(cfg.seed)
    parts = build(cfg, ds, rng, callbacks)
    if state is not None:
        try:
            parts.trainer.load_state_dict(state)
        except (KeyError, ValueError) as e:
            raise RunError(f"{run_dir}: the checkpoint does not match the run's model ({e})") from e
    if stop.signame:
        raise Interrupted(stop.signame)

    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    if resume is None:
        run_dir = runs.claim_run_dir(runs_dir, cfg.name)
        summary = {
            "name": cfg.name, "dir": str(run_dir), "status": "running", "reason": None,
            "dataset": ds.source, "task": ds.task, "seed": cfg.seed, **hyper(cfg),
            "started": now, "command": command, "versions": versions(),
            "n_params": int(parts.net.theta.size),
            "samples": {"train": len(ds.X_train), "validation": len(ds.X_val), "test": len(ds.X_test)},
        }
        if parts.transfer:
            summary["transfer"] = parts.transfer
        runs.atomic_write_text(run_dir / runs.CONFIG_FILE, dump_config(cfg))
    else:  # the run keeps its history; each resume is recorded
        summary = _previous_summary(run_dir)
        summary["resumed"] = [*summary.get("resumed", []), {
            "at": now, "epoch": parts.trainer.epoch, "batch": parts.trainer.batch, "command": command,
            "versions": versions()}]
        summary.update(status="running", reason=None, resumable=False)
    runs.write_summary(run_dir, summary)

    writer = runs.BackgroundWriter()
    recorder = RunRecorder(run_dir, writer, cfg.training.checkpoint_every, stop)
    parts.trainer.callbacks.insert(0, recorder)
    trainer = parts.trainer
    t_fit = time.perf_counter()
    try:
        try:
            trainer.fit(ds.X_train, targets(parts, ds, ds.y_train), ds.X_val,
                        targets(parts, ds, ds.y_val), parts.sample_weight)
        finally:
            timings["fit"] = time.perf_counter() - t_fit
            writer.close()  # every pending write lands (or raises) before the status moves on
    except DivergedError as e:
        trainer.restore_best()
        try:
            _finish(run_dir, summary, parts, ds, "failed", "non_finite_loss", timings, t0,
                    extra={"diverged_at": {"epoch": e.epoch, "batch": e.batch}})
        except RunError as w:
            _mark(run_dir, summary, "failed", _write_failure(w))
            raise
        err = DivergedError(f"{e}; run {run_dir} marked failed; {DIVERGED_HINT}", e.epoch, e.batch)
        err.run_dir = run_dir
        raise err from None
    except RunError as e:
        _mark(run_dir, summary, "failed", _write_failure(e))
        raise
    except BaseException as e:
        _mark(run_dir, summary, "failed", f"error: {type(e).__name__}: {e}")
        raise
    try:
        if trainer.stop_training:
            # the exact state to resume from first; then, like a finished run, the model so far
            # (the best epoch's weights under early stopping) so evaluate and predict work on it
            runs.save_checkpoint(run_dir, trainer.state_dict())
            if trainer.early_stopping:
                trainer.restore_best()
            signame = stop.signame or "sigint"
            _finish(run_dir, summary, parts, ds, "killed", signame, timings, t0, extra={"resumable": True})
        else:
            summary = _finish(run_dir, summary, parts, ds, "finished", trainer.stop_reason, timings, t0)
    except RunError as e:  # trained, but the results could not be written: the status must say so
        _mark(run_dir, summary, "failed", _write_failure(e))
        raise
    if trainer.stop_training:
        where = f"after epoch {trainer.epoch}" if trainer.batch == 0 else \
            f"in epoch {trainer.epoch + 1} after batch {trainer.batch}"
        err = Interrupted(signame, f"run {run_dir} saved {where}; "
                                f"continue it with: nncli train --resume {run_dir}")
        err.run_dir = run_dir  # as DivergedError: the caller may still draw the run so far
        raise err
    return run_dir, summary


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


def _finish(run_dir, summary, parts, ds, status, reason, timings, t0, extra=None):
    trainer = parts.trainer
    final = {}
    if np.isfinite(parts.net.theta).all():
        final = final_metrics(parts, ds)
        t_write = time.perf_counter()
        runs.save_npz(run_dir / runs.MODEL_FILE, model_arrays(parts, ds))
        timings["write"] = time.perf_counter() - t_write
    best = None
    if trainer.best is not None:
        best = {"epoch": trainer.best[1], "value": trainer.best[0],
                "monitor": trainer.early_stopping.monitor if trainer.early_stopping else
                ("val_loss" if len(ds.X_val) else "loss")}
    summary.update(status=status, reason=reason, epochs_run=trainer.epoch, final=final, best=best,
                   diagnosis=diagnose(ds.task, final), history_last=trainer.history[-1] if trainer.history else None,
                   wall_time=time.perf_counter() - t0, timings=timings, **(extra or {}))
    runs.write_summary(run_dir, summary)
    return summary


# ---------------------------------------------------------------- sweeps
def sweep_configs(path: str, overrides: list[str], grid: list[str], text: str | None = None):
    """[(grid overrides, Config)] for every combination, all validated before any training.

    Each run is named ``<name>-<i>`` unless the grid sets ``name`` itself.
    """
    from nncli.config import expand_grid, read_config_text

    if text is None and path != "-":
        text = read_config_text(path)
    base = load_config(path, overrides, text=text)
    combos = expand_grid(grid)
    names_given = any(item.split("=", 1)[0].strip() == "name" for item in grid)
    out = []
    for i, combo in enumerate(combos, 1):
        extra = [] if names_given else [f"name={base.name}-{i}"]
        try:
            out.append((combo, load_config(path, [*overrides, *combo, *extra], text=text)))
        except ConfigError as e:
            raise ConfigError(f"--grid combination {i} ({', '.join(combo)}): {e}") from None
    return out


def sweep(configs, *, runs_dir: str | Path = "runs", stop: StopFlag | None = None, command: str = "",
          callbacks=()):
    """Train each config in turn; yields (grid overrides, run dir, summary). A run that diverges
    is recorded as failed and the sweep goes on; an interrupt ends the sweep."""
    stop = stop or StopFlag()
    for combo, cfg in configs:
        try:
            run_dir, summary = train(cfg, runs_dir=runs_dir, stop=stop, command=command,
                                     callbacks=callbacks)
        except DivergedError as e:
            run_dir = e.run_dir
            summary = runs.read_summary(run_dir)
        yield combo, run_dir, summary


