"""The estimators' flat parameters <-> an nncli config.

A scikit-learn estimator takes its hyper-parameters as flat keyword arguments; nncli keeps them
in config sections. ``to_config`` maps one onto the other and validates the result through
nncli's own schema, so a bad value is refused with the same message ``nncli train`` gives (as
a ValueError, scikit-learn's convention). ``from_config`` goes back, for ``from_run``.
"""

from __future__ import annotations

from nncli.config import Config, validate
from nncli.errors import ConfigError

# the path a saved estimator's config names as its data: the data never left memory, so
# `nncli evaluate` on such a run needs --data FILE
IN_MEMORY = "in-memory.npz"


def _plain(value):
    """numpy scalars and tuples (GridSearchCV grids, defaults) as YAML-safe Python values."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def to_config(p: dict, seed: int, dtype: str, classifier: bool) -> Config:
    """The config the parameters describe; a ValueError names every problem."""
    es = False
    if p["early_stopping"]:
        es = {"patience": p["patience"]}
    data = {"dataset": None, "path": IN_MEMORY, "test": 0.0,
            "validation": p["validation_fraction"] if p["early_stopping"] else 0.0,
            "scaling": p["scaling"], "polynomial": p["polynomial"]}
    if not classifier:
        data["target_scaling"] = p["target_scaling"]
    loss = {"name": p["loss"]}
    if classifier and p["class_weight"] is not None:
        loss["class_weight"] = p["class_weight"]
    raw = {
        "name": "sklearn", "seed": seed, "plots": False, "data": data,
        "description": f"fitted in memory by {'NNClassifier' if classifier else 'NNRegressor'}; its data "
                       "never left memory: score it with nncli evaluate RUN --data FILE",
        "model": {"hidden": p["hidden"], "activation": p["activation"], "dropout": p["dropout"],
                  "batch_norm": p["batch_norm"], "output": p["output"], "init": p["init"]},
        "loss": loss,
        "optimizer": {"name": p["optimizer"], "lr": p["lr"], **(p["optimizer_params"] or {})},
        "regularization": {"l1": p["l1"], "l2": p["l2"]},
        "training": {"epochs": p["epochs"], "batch_size": p["batch_size"], "shuffle": p["shuffle"],
                     "dtype": dtype, "early_stopping": es},
    }
    try:
        return validate(_plain(raw), "parameters")
    except ConfigError as e:
        raise ValueError("\n".join(e.problems)) from None


def from_config(cfg: Config, classifier: bool) -> dict:
    """The estimator parameters of a config (a saved run's)."""
    m, t, es = cfg.model, cfg.training, cfg.training.early_stopping
    opt = cfg.optimizer.model_dump(exclude={"name", "lr"})
    defaults = type(cfg.optimizer)().model_dump(exclude={"name", "lr"})
    p = dict(hidden=list(m.hidden), activation=m.activation, output=m.output, loss=cfg.loss.name,
             optimizer=cfg.optimizer.name, lr=cfg.optimizer.lr,
             optimizer_params={k: v for k, v in opt.items() if v != defaults.get(k)} or None,
             batch_size=t.batch_size, epochs=t.epochs, shuffle=t.shuffle, l1=cfg.regularization.l1,
             l2=cfg.regularization.l2, dropout=m.dropout, batch_norm=m.batch_norm, init=m.init,
             early_stopping=es is not None, validation_fraction=cfg.data.validation or 0.1,
             patience=es.patience if es is not None else "auto", scaling=cfg.data.scaling,
             polynomial=cfg.data.polynomial, dtype=t.dtype, random_state=cfg.seed)
    if classifier:
        p["class_weight"] = cfg.loss.class_weight
    else:
        p["target_scaling"] = cfg.data.target_scaling
    return p
