"""The only place that turns a Config into objects and wires them together.

``train`` loads the data, builds the network, loss, optimizer and schedule, claims a run
directory and trains, keeping the run's files true at every moment: the status in
summary.json always says what happened, and every write is atomic. ``evaluate`` and
``predict`` rebuild a model from a run directory alone.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import __version__, runs
from nncli.config import Config, config_to_dict, dump_config, load_config
from nncli.data import Dataset, Preprocessor, load_dataset, read_features_csv, read_raw
from nncli.errors import ConfigError, DataError, DivergedError, Interrupted, NncliError, RunError
from nncli.losses import make_loss
from nncli.model import Network, build_mlp
from nncli.optim import make_optimizer
from nncli.schedules import make_schedule
from nncli.train import Callback, EarlyStopping, Trainer

FUSED = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
DIVERGED_HINT = "lower optimizer.lr, set optimizer.clip_norm, or scale the features (data.scaling: standard)"


@dataclass
class StopFlag:
    """Set by a signal handler; the training loop checks it after every batch."""

    signame: str | None = None


@dataclass
class Parts:
    """Everything built from a config and a dataset."""

    net: Network
    trainer: Trainer
    sample_weight: np.ndarray | None
    n_out: int
    output: str
    loss_name: str
    transfer: dict = field(default_factory=dict)


def preload() -> None:
    """Import what training will need, so that start-up cost is counted as imports."""
    import sklearn.datasets  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.preprocessing  # noqa: F401


# ---------------------------------------------------------------- building
def resolve_loss_and_head(cfg: Config, task: str, n_classes: int) -> tuple[str, str, int]:
    """(loss name, head the network applies itself, output units) for a task."""
    loss = cfg.loss.name
    if loss == "auto":
        loss = "cross_entropy" if task == "classification" else "mse"
    output = cfg.model.output
    if task == "regression" and loss in FUSED:
        raise ConfigError(f"loss.name: {loss} needs a classification task, got a regression dataset "
                          "(use mse, mae, sse or huber)")
    if loss in FUSED:
        if output not in ("auto", FUSED[loss]):
            raise ConfigError(f"model.output: {loss} computes {FUSED[loss]} itself from the logits; "
                              f"expected auto or {FUSED[loss]}, got {output}")
        n_out = 1 if loss == "binary_cross_entropy" and n_classes == 2 else n_classes
        return loss, "identity", n_out
    if task == "classification":
        return loss, "sigmoid" if output == "auto" else output, n_classes
    return loss, "identity" if output == "auto" else output, 0  # n_out set from y


def classification_targets(y_codes: np.ndarray, loss: str, n_out: int) -> np.ndarray:
    """Codes for softmax cross-entropy and binary BCE; one-hot rows for everything else."""
    if loss == "cross_entropy" or n_out == 1:
        return y_codes
    onehot = np.zeros((len(y_codes), n_out), np.float64)
    onehot[np.arange(len(y_codes)), y_codes] = 1
    return onehot


def class_weights(cfg: Config, ds: Dataset) -> np.ndarray | None:
    cw = cfg.loss.class_weight
    if cw is None:
        return None
    if ds.task != "classification":
        raise ConfigError("loss.class_weight: class weights need a classification task")
    if cw == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        codes = np.arange(len(ds.classes))
        weights = compute_class_weight("balanced", classes=codes, y=ds.y_train)
    else:
        names = [str(c) for c in ds.classes]
        unknown = sorted(set(cw) - set(names))
        if unknown:
            raise ConfigError(f"loss.class_weight: unknown class {unknown[0]!r}, expected labels among "
                              f"{', '.join(names)}")
        weights = np.array([cw.get(name, 1.0) for name in names])
    return weights[ds.y_train]


def build(cfg: Config, ds: Dataset, rng: np.random.Generator, callbacks=()) -> Parts:
    m, o, t = cfg.model, cfg.optimizer, cfg.training
    n_classes = len(ds.classes) if ds.classes is not None else 0
    loss_name, head, n_out = resolve_loss_and_head(cfg, ds.task, n_classes)
    if ds.task == "regression":
        n_out = ds.y_train.shape[1]
    if m.freeze > len(m.hidden) + 1:
        raise ConfigError(f"model.freeze: expected at most {len(m.hidden) + 1} layers, got {m.freeze}")
    net = build_mlp(
        ds.X_train.shape[1], list(m.hidden), n_out, activation=m.activation, output=head,
        dropout=m.dropout, batch_norm=m.batch_norm, bias=m.bias,
        init=None if m.init == "auto" else m.init, init_scale=m.init_scale,
        leaky_slope=m.leaky_slope, maxout_pieces=m.maxout_pieces, dtype=np.dtype(t.dtype), rng=rng)
    transfer = {}
    if m.init_from:
        transfer = load_transfer(net, m.init_from)
    if m.freeze:
        net.freeze(m.freeze)
    la = o.lookahead
    optimizer = make_optimizer(
        o.name, [net.trainable], o.lr, momentum=o.momentum, betas=o.betas, eps=o.eps, rho=o.rho,
        weight_decay=o.weight_decay, final_lr=o.final_lr,
        lookahead={"k": la.k, "alpha": la.alpha} if la else None)
    s = o.schedule
    schedule = make_schedule(s.name, o.lr, t.epochs, step_size=s.step_size, gamma=s.gamma,
                             power_t=s.power_t, warmup=s.warmup, min_lr=s.min_lr,
                             patience=s.patience, factor=s.factor, threshold=s.threshold)
    es = None
    if t.early_stopping.enabled:
        monitor = t.early_stopping.monitor
        if monitor.startswith("val_") and len(ds.X_val) == 0:
            raise ConfigError(f"training.early_stopping.monitor: {monitor} needs a validation split; "
                              "set data.validation > 0 or monitor loss")
        wanted = "val_accuracy" if ds.task == "classification" else "val_r2"
        if monitor not in ("val_loss", "loss", wanted):
            raise ConfigError(f"training.early_stopping.monitor: expected val_loss, loss or {wanted} "
                              f"for a {ds.task} task, got {monitor}")
        es = EarlyStopping(monitor, t.early_stopping.patience, t.early_stopping.min_delta)
    trainer = Trainer(
        net, make_loss(loss_name, cfg.loss.huber_delta), optimizer, schedule, epochs=t.epochs,
        batch_size=None if t.batch_size == "full" else t.batch_size, shuffle=t.shuffle,
        task=ds.task, l1=cfg.regularization.l1, l2=cfg.regularization.l2, clip_norm=o.clip_norm,
        early_stopping=es, rng=rng, callbacks=callbacks)
    return Parts(net, trainer, class_weights(cfg, ds), n_out, head, loss_name, transfer)


def load_transfer(net: Network, run: str) -> dict:
    """Start from another run's weights wherever names and shapes match (a new head stays new)."""
    run_dir = runs.resolve_run(run)
    arrays = runs.load_npz(run_dir / runs.MODEL_FILE)
    weights = {k[4:]: v for k, v in arrays.items() if k.startswith("net.")}
    skipped = net.load_state_dict(weights, strict=False)
    loaded = [k for k in net.state_dict() if k not in skipped]
    if not loaded:
        raise ConfigError(f"model.init_from: no layer of {run_dir} matches this model's shapes")
    return {"from": str(run_dir), "loaded": loaded, "kept_new": skipped}


def targets(parts: Parts, ds: Dataset, y: np.ndarray) -> np.ndarray:
    if ds.task == "classification":
        return classification_targets(y, parts.loss_name, parts.n_out)
    return y


def load_data(cfg: Config) -> Dataset:
    d = cfg.data
    return load_dataset(dataset=d.dataset, path=d.path, label=d.label, params=dict(d.params),
                        task=d.task, validation=d.validation, test=d.test, scaling=d.scaling,
                        polynomial=d.polynomial, subset=d.subset, seed=cfg.seed,
                        dtype=cfg.training.dtype)


# ---------------------------------------------------------------- training
class RunRecorder(Callback):
    """Keeps the run's files current: metrics.csv and the checkpoint after every epoch (and
    every N batches), written off the training thread so the loop never waits on the disk."""

    def __init__(self, run_dir: Path, writer: runs.BackgroundWriter, every_batches: int, stop: StopFlag):
        self.run_dir, self.writer, self.every, self.stop = run_dir, writer, every_batches, stop

    def checkpoint(self, trainer):
        self.writer.submit("checkpoint", runs.save_checkpoint, self.run_dir, trainer.state_dict())

    def on_batch_end(self, trainer, epoch, batch):
        if self.stop.signame:
            trainer.stop_training = True
        elif self.every and (batch + 1) % self.every == 0:
            self.checkpoint(trainer)

    def on_epoch_end(self, trainer, epoch, logs):
        self.checkpoint(trainer)
        self.writer.submit("metrics", runs.write_metrics_csv, self.run_dir / runs.METRICS_FILE,
                           list(trainer.history))
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
            runs.save_checkpoint(run_dir, trainer.state_dict())
        else:
            summary = _finish(run_dir, summary, parts, ds, "finished", trainer.stop_reason, timings, t0)
    except RunError as e:  # trained, but the results could not be written: the status must say so
        _mark(run_dir, summary, "failed", _write_failure(e))
        raise
    if trainer.stop_training:
        signame = stop.signame or "sigint"
        _mark(run_dir, summary, "killed", signame, epochs_run=trainer.epoch, resumable=True)
        raise Interrupted(signame, f"run {run_dir} saved at epoch {trainer.epoch + 1}, batch "
                                   f"{trainer.batch}; continue it with: nncli train --resume {run_dir}")
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


# ---------------------------------------------------------------- using runs
@dataclass
class Loaded:
    cfg: Config
    net: Network
    prep: Preprocessor
    meta: dict
    classes: np.ndarray | None
    loss: object


def load_run(run: str, runs_dir: str | Path = "runs") -> tuple[Path, Loaded]:
    run_dir = runs.resolve_run(run, runs_dir)
    cfg = load_config(run_dir / runs.CONFIG_FILE)
    model_file = run_dir / runs.MODEL_FILE
    if not model_file.is_file():
        raise RunError(f"{run_dir}: no {runs.MODEL_FILE} (the run has not finished; "
                       f"status in {runs.SUMMARY_FILE})")
    arrays = runs.load_npz(model_file)
    try:
        meta = json.loads(runs.get_str(arrays["meta"]))
        m = cfg.model
        net = build_mlp(meta["n_in"], list(m.hidden), meta["n_out"], activation=m.activation,
                        output=meta["output"], dropout=m.dropout, batch_norm=m.batch_norm, bias=m.bias,
                        leaky_slope=m.leaky_slope, maxout_pieces=m.maxout_pieces,
                        dtype=np.dtype(cfg.training.dtype))
        net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")})
        prep = Preprocessor.from_state_dict(arrays)
    except (KeyError, ValueError, DataError) as e:
        raise RunError(f"{model_file}: corrupt or not an nncli model ({e})") from e
    return run_dir, Loaded(cfg, net, prep, meta, arrays.get("classes"),
                           make_loss(meta["loss"], cfg.loss.huber_delta))


def _encode_labels(y, classes, source) -> np.ndarray:
    lookup = {str(c): i for i, c in enumerate(classes)}
    y = np.asarray(y).reshape(-1)
    keys = [str(v.item() if hasattr(v, "item") else v) for v in y]
    keys = [k[:-2] if k.endswith(".0") and k[:-2] in lookup else k for k in keys]
    unknown = sorted({k for k in keys if k not in lookup})
    if unknown:
        raise DataError(f"{source}: label {unknown[0]!r} is not a class the model knows "
                        f"({', '.join(lookup)})")
    return np.array([lookup[k] for k in keys])


def evaluate(run: str, data_file: str | None = None, runs_dir: str | Path = "runs") -> dict:
    """Score a saved run on its test split (recreated from the seed) or on another file."""
    from sklearn import metrics

    run_dir, lr = load_run(run, runs_dir)
    task = lr.meta["task"]
    if data_file is None:
        ds = load_data(lr.cfg)
        if len(ds.X_test) == 0:
            raise DataError(f"{run_dir}: the run has no test split (data.test: 0); pass --data FILE")
        X, y, source = ds.X_test, ds.y_test, f"test split of {ds.source}"
    else:
        X, y_raw, _, source = read_raw(dataset=None, path=data_file, label=lr.cfg.data.label, params={},
                                       seed=lr.cfg.seed)
        X = lr.prep.transform(X, lr.cfg.training.dtype)
        if task == "classification":
            y = _encode_labels(y_raw, lr.classes, source)
        else:
            y = np.asarray(y_raw, np.float64).reshape(len(X), -1)
    out = lr.net.predict(X)
    result = {"run": str(run_dir), "data": source, "task": task, "samples": int(len(X))}
    if task == "classification":
        proba = _probabilities(lr.loss.link(out))
        pred = proba.argmax(axis=1)
        labels = np.arange(len(lr.classes))
        p, r, f, support = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        result.update(
            accuracy=float(metrics.accuracy_score(y, pred)),
            precision_macro=float(p.mean()), recall_macro=float(r.mean()), f1_macro=float(f.mean()),
            log_loss=float(metrics.log_loss(y, proba, labels=labels)),
            per_class={str(c): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                "support": int(support[i])} for i, c in enumerate(lr.classes)},
            confusion_matrix=metrics.confusion_matrix(y, pred, labels=labels).tolist(),
            classes=[str(c) for c in lr.classes])
    else:
        y = y.reshape(len(out), -1)
        mse = float(metrics.mean_squared_error(y, out))
        result.update(mse=mse, rmse=mse ** 0.5, mae=float(metrics.mean_absolute_error(y, out)),
                      r2=float(metrics.r2_score(y, out)))
    return result


def _probabilities(p: np.ndarray) -> np.ndarray:
    """Rows of class probabilities in float64 that sum to 1 (one sigmoid column -> two)."""
    p = p.astype(np.float64)
    if p.shape[1] == 1:
        p = np.hstack([1 - p, p])
    return p / p.sum(axis=1, keepdims=True)


def predict(run: str, input_file: str, runs_dir: str | Path = "runs") -> tuple[list[str], list[list]]:
    """(header, rows) of predictions for a CSV of features: class and probabilities, or values."""
    run_dir, lr = load_run(run, runs_dir)
    X = read_features_csv(input_file, lr.meta["feature_names"], lr.cfg.data.label)
    out = lr.net.predict(lr.prep.transform(X, lr.cfg.training.dtype))
    if lr.meta["task"] == "classification":
        proba = _probabilities(lr.loss.link(out))
        pred = lr.classes[proba.argmax(axis=1)]
        header = ["prediction"] + [f"p_{c}" for c in lr.classes]
        rows = [[p.item() if hasattr(p, "item") else p] + [float(v) for v in row]
                for p, row in zip(pred, proba)]
    else:
        header = ["prediction"] if out.shape[1] == 1 else [f"prediction_{i}" for i in range(out.shape[1])]
        rows = [[float(v) for v in row] for row in out]
    return header, rows
