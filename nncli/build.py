"""Turn a Config and a Dataset into a network, loss, optimizer, schedule and trainer.

The only reader of the config's model, loss, optimizer and training sections: the core below
takes plain values, and each section's fields are passed to its constructor by name, so a new
hyper-parameter is written once in the schema (mirroring the constructor) and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import modelfiles, runs
from nncli.config import Config
from nncli.config.data import DataConfig
from nncli.config.layers import layer_specs
from nncli.data import DataOptions, Dataset, load_dataset
from nncli.data.datasets import param_problems
from nncli.data.names import DATASETS, GENERATORS
from nncli.errors import ConfigError, RunError
from nncli.nn import EarlyStopping, Network, Trainer, build_mlp, make_loss, make_optimizer, make_schedule
from nncli.nn.sequential import SpecError, build_sequential

FUSED = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
# optimizer keys that configure the loop or a wrapper rather than the update rule itself
_NOT_UPDATE_RULE = {"name", "lookahead", "clip_norm", "schedule"}


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


def seeds(cfg: Config) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(network, shuffling) streams, both derived from the one seed. The network spawns its
    own per-layer streams from the first (initial weights, every dropout layer)."""
    net_seed, shuffle_seed = np.random.SeedSequence(cfg.seed).spawn(2)
    return net_seed, shuffle_seed


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


def sample_weights(cfg: Config, ds: Dataset) -> np.ndarray | None:
    """Per training row: the class weight times the row's own weight (data.weight)."""
    cw = class_weights(cfg, ds)
    if ds.sample_weight is None:
        return cw
    return ds.sample_weight if cw is None else cw * ds.sample_weight


def optimizer(cfg: Config, net: Network):
    """The config's optimizer over the network's trainable parameters: the section's own
    fields go to the constructor by name (an unknown one raises)."""
    o = cfg.optimizer
    hyper = o.model_dump(exclude=_NOT_UPDATE_RULE)
    lookahead = o.lookahead.model_dump() if o.lookahead is not None else None
    return make_optimizer(o.name, net, lookahead=lookahead, **hyper)


def schedule(cfg: Config):
    s = cfg.optimizer.schedule
    return make_schedule(s.name, cfg.optimizer.lr, cfg.training.epochs, **s.model_dump(exclude={"name"}))


# patience: auto waits PATIENCE epochs, or as many as make PATIENCE_BATCHES batches when an epoch
# is shorter: an epoch of a small dataset is one or two steps, far too few to judge progress by
# (make_circles' validation loss is lowest in its first epochs and improves again only after a
# few hundred steps, once the network has found the circles)
PATIENCE, PATIENCE_BATCHES = 10, 1000


def _monitor_problem(monitor: str, task: str | None, has_validation: bool) -> str | None:
    if monitor.startswith("val_") and not has_validation:
        return (f"training.early_stopping.monitor: {monitor} needs a validation split; "
                "set data.validation > 0 or monitor loss")
    wanted = "val_accuracy" if task == "classification" else "val_r2"
    if task is not None and monitor not in ("auto", "val_loss", "loss", wanted):
        return (f"training.early_stopping.monitor: expected auto, val_loss, loss or {wanted} "
                f"for a {task} task, got {monitor}")
    return None


def early_stopping(cfg: Config, ds: Dataset) -> EarlyStopping | None:
    es = cfg.training.early_stopping
    if es is None:
        return None
    monitor = es.monitor
    if monitor == "auto":
        monitor = "val_loss" if len(ds.X_val) else "loss"
    problem = _monitor_problem(monitor, ds.task, len(ds.X_val) > 0)
    if problem:
        raise ConfigError(problem)
    patience = es.patience
    if patience == "auto":
        batch = len(ds.X_train) if cfg.training.batch_size == "full" else cfg.training.batch_size
        batches = math.ceil(len(ds.X_train) / min(batch, len(ds.X_train)))
        patience = max(PATIENCE, math.ceil(PATIENCE_BATCHES / batches))
    return EarlyStopping(monitor, patience, es.min_delta, es.restore_best)


def build(cfg: Config, ds: Dataset, callbacks=(), runs_dir="runs") -> Parts:
    m, t = cfg.model, cfg.training
    n_classes = len(ds.classes) if ds.classes is not None else 0
    loss_name, head, n_out = resolve_loss_and_head(cfg, ds.task, n_classes)
    if ds.task == "regression":
        n_out = ds.y_train.shape[1]
    net_seed, shuffle_seed = seeds(cfg)
    net = network(cfg, ds.X_train.shape[1:], n_out, head, net_seed)
    frozen = frozen_layers(net, m.freeze)
    names = ds.encoder.names if ds.encoder is not None and ds.preprocessor.degree == 1 else None
    transfer = load_transfer(net, m.init_from, frozen, runs_dir, names) if m.init_from else {}
    if frozen:
        net.freeze(frozen)
    if t.batch_size == 1 and any(layer.kind == "batchnorm" for layer in net.layers):
        raise ConfigError(BATCH_NORM_OF_ONE)
    trainer = Trainer(
        net, make_loss(loss_name, cfg.loss.huber_delta), optimizer(cfg, net), schedule(cfg), epochs=t.epochs,
        batch_size=None if t.batch_size == "full" else t.batch_size, shuffle=t.shuffle,
        task=ds.task, l1=cfg.regularization.l1, l2=cfg.regularization.l2, clip_norm=cfg.optimizer.clip_norm,
        early_stopping=early_stopping(cfg, ds), rng=np.random.default_rng(shuffle_seed), callbacks=callbacks)
    return Parts(net, trainer, sample_weights(cfg, ds), n_out, head, loss_name, transfer)


def frozen_layers(net: Network, freeze) -> list[int]:
    """The layer indices ``model.freeze`` names: the first N blocks, or layers by name or index."""
    if isinstance(freeze, int):
        if freeze > len(net.blocks):
            raise ConfigError(f"model.freeze: expected at most {len(net.blocks)} layers, got {freeze}")
        return [i for b in net.blocks[:freeze] for i in b]
    out = []
    for which in freeze:
        try:
            out.append(net.index(which))
        except ValueError as e:
            raise ConfigError(f"model.freeze: {e}") from None
    return sorted(set(out))


def network(cfg: Config, n_in, n_out: int, head: str, seed=None) -> Network:
    """The network the config's model section describes, for training or to load weights into.
    ``n_in``: the number of inputs, or one sample's shape ((C, H, W) for images)."""
    m = cfg.model
    seed = seed if seed is not None else seeds(cfg)[0]
    if m.layers is not None:
        try:
            shape = tuple(int(s) for s in np.atleast_1d(n_in))
            return build_sequential(shape, layer_specs(m.layers), n_out, output=head, bias=m.bias, init=None if m.init == "auto" else m.init,
                                    init_scale=m.init_scale, leaky_slope=m.leaky_slope,
                                    maxout_pieces=m.maxout_pieces, dtype=np.dtype(cfg.training.dtype), seed=seed)
        except SpecError as e:
            where = "model.layers" if e.index is None else f"model.layers.{e.index}"
            raise ConfigError(f"{where}: {e}") from None
    n_in = int(np.prod(n_in))
    return build_mlp(n_in, list(m.hidden), n_out, activation=m.activation, output=head,
                     dropout=m.dropout, batch_norm=m.batch_norm, bias=m.bias,
                     init=None if m.init == "auto" else m.init, init_scale=m.init_scale,
                     leaky_slope=m.leaky_slope, maxout_pieces=m.maxout_pieces,
                     dtype=np.dtype(cfg.training.dtype), seed=seed)


def align_inputs(net: Network, source: dict, base: list[str], names: list[str]) -> str | None:
    """Rows of the base run's first dense layer re-ordered to this model's input columns, by
    name: the same columns in another order carry over exactly; a column the base did not
    have keeps its fresh weights. Returns a note, or None when nothing needed aligning."""
    if base == names:
        return None
    for i, (lname, layer) in enumerate(zip(net.names, net.layers)):
        own = net.layer_state(i)
        if "W" not in own:
            continue
        W = source.get(f"{lname}.W")
        if W is None or W.ndim != 2 or W.shape[0] != len(base) or W.shape[1] != own["W"].shape[1]:
            return None
        where = {n: k for k, n in enumerate(base)}
        common = [n for n in names if n in where]
        if not common:
            return None
        aligned = own["W"].copy()
        for k, n in enumerate(names):
            if n in where:
                aligned[k] = W[where[n]]
        source[f"{lname}.W"] = aligned
        return f"{lname}: {len(common)} of {len(names)} input columns matched by name"
    return None


def load_transfer(net: Network, run: str, frozen: list[int], runs_dir="runs", names=None) -> dict:
    """Start from another run's weights, layer by layer: a layer is loaded whole when the run
    has a layer of the same name with the same shapes, and otherwise keeps its fresh start (a
    new head). A frozen layer must be loaded: freezing random weights is refused."""
    run_dir = runs.resolve_run(run, runs_dir)
    arrays = modelfiles.load_model_arrays(run_dir)
    source = {k[4:]: v for k, v in arrays.items() if k.startswith("net.")}
    base = [str(s) for s in arrays["enc.names"]] if "enc.names" in arrays else None
    aligned = align_inputs(net, source, base, names) if base is not None and names is not None else None
    loaded, fresh = [], []
    for i, (name, layer) in enumerate(zip(net.names, net.layers)):
        own = net.layer_state(i)
        if not own:
            continue
        theirs = {k: source.get(f"{name}.{k}") for k in own}
        if all(v is not None and v.shape == own[k].shape for k, v in theirs.items()):
            for k, arr in own.items():
                arr[...] = theirs[k]
            loaded.append(name)
        else:
            if i in frozen:
                shapes = {k: None if v is None else list(v.shape) for k, v in theirs.items()}
                raise ConfigError(f"model.freeze: layer {name} is frozen but {run_dir} has no layer {name} of "
                                  f"the same shapes (this model: { {k: list(a.shape) for k, a in own.items()} }, "
                                  f"the run: {shapes}); freezing it would keep random weights")
            fresh.append(name)
    if not loaded:
        raise ConfigError(f"model.init_from: no layer of {run_dir} matches this model's shapes")
    out = {"from": str(run_dir), "loaded": loaded, "reinitialized": fresh,
           "frozen": [net.names[i] for i in frozen]}
    if aligned:
        out["inputs"] = aligned
    return out


BATCH_NORM_OF_ONE = ("training.batch_size: batch norm needs batches of at least 2 samples "
                     "(one sample has no variance to normalise by); got 1")
TASKS_OF = {**DATASETS, **GENERATORS}  # a built-in dataset's task


def check(cfg: Config, runs_dir="runs") -> None:
    """What a config names outside itself, checked before any data is loaded or anything is
    written (by ``nncli train`` and by ``nncli config validate``): the dataset's params against
    its scikit-learn function's signature, that data.path is a file, and that model.init_from
    is a run (a name is looked up in ``runs_dir``) with a saved model. One ConfigError lists
    every problem. For a built-in dataset, whose task is known without loading it, the loss
    and the early-stopping monitor are checked against the task too."""
    d, problems = cfg.data, []
    task = d.task or (TASKS_OF.get(d.dataset) if d.path is None else None)
    if task is not None:
        try:
            resolve_loss_and_head(cfg, task, 2)
        except ConfigError as e:
            problems.append(str(e))
    es = cfg.training.early_stopping
    if es is not None:
        problems += [p for p in [_monitor_problem(es.monitor, task, d.validation > 0)] if p]
    norms = cfg.model.layers is not None and any(k == "batch_norm" for k, _ in layer_specs(cfg.model.layers))
    if (cfg.model.batch_norm or norms) and cfg.training.batch_size == 1:
        problems.append(BATCH_NORM_OF_ONE)
    problems += image_problems(cfg)
    if d.dataset is not None:
        problems += param_problems(d.dataset, dict(d.params))
    if d.path is not None:
        path = Path(d.path)
        if not path.exists():
            where = "" if path.is_absolute() else f" (a relative path is read from {Path.cwd()})"
            problems.append(f"data.path: no such file {d.path!r}{where}")
        elif path.is_dir():
            problems.append(f"data.path: {d.path!r} is a directory, expected a .csv or .npz file")
    if cfg.model.init_from is not None:
        try:
            run_dir = runs.resolve_run(cfg.model.init_from, runs_dir)
        except RunError as e:
            problems.append(f"model.init_from: {e}")
        else:
            if not (run_dir / runs.MODEL_FILE).is_file():
                problems.append(f"model.init_from: {run_dir} has no {runs.MODEL_FILE} yet (a run that "
                                "has not finished has no weights to start from)")
    if len(problems) == 1:
        raise ConfigError(problems[0], problems)
    if problems:
        raise ConfigError(f"{len(problems)} problems in the config\n" + "\n".join(problems), problems)


def targets(parts: Parts, ds: Dataset, y: np.ndarray) -> np.ndarray:
    """What the network is trained on: class codes or one-hot rows; regression targets as the
    dataset's target scaler maps them (z-scores by default)."""
    if ds.task == "classification":
        return classification_targets(y, parts.loss_name, parts.n_out)
    return ds.target.transform(y)


def target_scaling(cfg: Config) -> str:
    """standard or none for a regression target: auto standardizes unless the output head
    bounds the network's outputs (a sigmoid cannot reach a z-score of 2)."""
    ts, head = cfg.data.target_scaling, cfg.model.output
    if ts == "standard" and head not in ("auto", "identity"):
        raise ConfigError(f"data.target_scaling: standard targets need an unbounded output; model.output "
                          f"is {head} (set data.target_scaling: none, or model.output: identity)")
    if ts == "auto":
        return "standard" if head in ("auto", "identity") else "none"
    return ts


def data_options(cfg: Config) -> DataOptions:
    d = cfg.data
    return DataOptions(label=d.label, features=list(d.features) if d.features is not None else None,
                       drop=list(d.drop), id=d.id, weight=d.weight, types=dict(d.types),
                       missing_values=tuple(d.missing_values), impute=d.impute,
                       impute_categories=d.impute_categories, missing_indicator=d.missing_indicator,
                       max_categories=d.max_categories, min_frequency=d.min_frequency, dates=d.dates,
                       delimiter=d.delimiter)


IMAGE_UNUSED = ("features", "drop", "id", "weight", "types", "label", "polynomial")


def image_problems(cfg: Config) -> list[str]:
    """The column keys a model that takes images leaves without effect, set anyway."""
    if not cfg.model.images:
        return []
    d, fields = cfg.data, DataConfig.model_fields
    first = layer_specs(cfg.model.layers[:1])[0][0]
    return [f"data.{k}: has no effect on images (the model starts with {first}: its inputs are pixels, "
            "not columns)" for k in IMAGE_UNUSED
            if getattr(d, k) != (fields[k].default_factory() if fields[k].default_factory else fields[k].default)]


def load_data(cfg: Config, stop=None, folds: tuple[int, int] | None = None) -> Dataset:
    """The config's data, split and encoded; ``stop()`` is asked while it loads (Ctrl-C);
    ``folds=(k, i)``: fold i of k is the validation split. A model that starts with a
    convolution, pooling or flatten reads images."""
    d = cfg.data
    problems = image_problems(cfg)
    if problems:
        raise ConfigError(problems[0], problems)
    return load_dataset(dataset=d.dataset, path=d.path, label=d.label, params=dict(d.params),
                        task=d.task, validation=d.validation, test=d.test, scaling=d.scaling,
                        polynomial=d.polynomial, subset=d.subset, seed=cfg.seed,
                        dtype=cfg.training.dtype, options=data_options(cfg),
                        target_scaling=target_scaling(cfg), images=d.layout if cfg.model.images else None,
                        stop=stop, folds=folds)

