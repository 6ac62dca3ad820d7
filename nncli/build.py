"""Turn a Config and a Dataset into a network, loss, optimizer, schedule and trainer.

The only place that reads the config's model, loss, optimizer and training sections: the
core below it takes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nncli import runs
from nncli.config import Config
from nncli.data import Dataset, load_dataset
from nncli.errors import ConfigError
from nncli.losses import make_loss
from nncli.model import Network, build_mlp
from nncli.optim import make_optimizer
from nncli.schedules import make_schedule
from nncli.train import EarlyStopping, Trainer

FUSED = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


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
    net = network(cfg, ds.X_train.shape[1], n_out, head, rng)
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


def network(cfg: Config, n_in: int, n_out: int, head: str, rng: np.random.Generator | None = None) -> Network:
    """The network the config's model section describes, for training or to load weights into."""
    m = cfg.model
    return build_mlp(n_in, list(m.hidden), n_out, activation=m.activation, output=head,
                     dropout=m.dropout, batch_norm=m.batch_norm, bias=m.bias,
                     init=None if m.init == "auto" else m.init, init_scale=m.init_scale,
                     leaky_slope=m.leaky_slope, maxout_pieces=m.maxout_pieces,
                     dtype=np.dtype(cfg.training.dtype), rng=rng)


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
