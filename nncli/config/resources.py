"""Will it fit? The memory a config needs, estimated from the config alone, before anything
is allocated: ``config validate`` and ``train`` refuse what cannot fit and say why.

A config such as ``model.hidden: [1000000000]`` or ``data.params.n_samples: 1e10`` is valid by
its types but would die of a MemoryError deep inside training. The estimate counts the
parameters exactly (the same layer sizes the network builder uses) and the rest roughly:
the copies training keeps of them, the data in each of its forms, one batch's activations.
Data read from a file is not counted here (its size is known only once it is read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nncli.config.schema import Config
from nncli.errors import ConfigError
from nncli.memory import available_memory, human_bytes

# (samples, features, outputs) of the bundled datasets
DATASET_SHAPES = {"digits": (1797, 64, 10), "iris": (150, 4, 3), "wine": (178, 13, 3),
                  "breast_cancer": (569, 30, 2), "diabetes": (442, 10, 1)}
# scikit-learn's defaults for the generators: (n_samples, n_features, outputs)
GENERATOR_DEFAULTS = {"make_classification": (100, 20, 2), "make_regression": (100, 100, 1),
                      "make_moons": (100, 2, 2), "make_circles": (100, 2, 2), "make_blobs": (100, 2, 3)}
# arrays of the parameters' size each optimizer keeps (moments, maxima, ...)
OPTIMIZER_STATE = {"sgd": 1, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2,
                   "adamw": 2, "amsgrad": 3, "nadam": 2, "radam": 2, "adabound": 2}


@dataclass
class Estimate:
    n_params: int
    params: int  # bytes: the parameters and every copy training keeps
    data: int  # bytes: the samples as generated, preprocessed and shuffled
    activations: int  # bytes: one batch through the network, forward and backward
    shape: tuple[int, int]  # (samples, features after preprocessing) of built-in data; (0, 0) for files

    @property
    def total(self) -> int:
        return self.params + self.data + self.activations


def _number(value: Any, default: int) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return int(value)
    return default  # not a count: the generator itself will say so


def data_shape(cfg: Config) -> tuple[int, int, int]:
    """(samples, raw features, outputs) the config's data will have; zeros for a data file."""
    d = cfg.data
    if d.dataset in DATASET_SHAPES:
        n, f, out = DATASET_SHAPES[d.dataset]
    elif d.dataset in GENERATOR_DEFAULTS:
        n, f, out = GENERATOR_DEFAULTS[d.dataset]
        p = d.params
        n = _number(p.get("n_samples"), n)
        f = _number(p.get("n_features"), f)
        out = _number(p.get("n_classes", p.get("centers", p.get("n_targets"))), out)
    else:
        return 0, 0, 0
    if d.subset is not None:
        n = min(n, d.subset)
    return n, f, max(out, 1)


def layer_widths(cfg: Config, n_in: int, n_out: int) -> tuple[int, list[int]]:
    """(trainable parameter count, width of every layer's output) of the network ``build``
    makes: dense layers of units x pieces (maxout), batch norm and prelu parameters."""
    m = cfg.model
    acts = [m.activation] * len(m.hidden) if isinstance(m.activation, str) else list(m.activation)
    n_params, widths, width = 0, [], n_in
    for units, act in zip(m.hidden, acts):
        pre = units * (m.maxout_pieces if act == "maxout" else 1)
        n_params += width * pre + (pre if m.bias else 0) + (2 * pre if m.batch_norm else 0)
        n_params += units if act == "prelu" else 0
        widths += [pre, units]
        width = units
    n_params += width * n_out + (n_out if m.bias else 0)
    return n_params, widths + [n_out]


def estimate(cfg: Config) -> Estimate:
    n, f_raw, n_out = data_shape(cfg)
    f = math.comb(max(f_raw, 1) + cfg.data.polynomial, cfg.data.polynomial) - 1 if f_raw else 1
    size = 4 if cfg.training.dtype == "float32" else 8
    n_params, widths = layer_widths(cfg, f, n_out)
    # theta, grad and the best weights; the optimizer's state; a checkpoint being written holds
    # a copy of all of it as arrays and again as the bytes of the file
    state = OPTIMIZER_STATE.get(cfg.optimizer.name, 3) + (1 if cfg.optimizer.lookahead else 0)
    params = n_params * size * (3 + state + 2 * (2 + state))
    # generated float64 (X and a split copy), preprocessed float64, then the training dtype
    # and its shuffled buffer
    data = n * f_raw * 8 * 2 + n * f * (8 + 2 * size)
    batch = n if cfg.training.batch_size == "full" else min(cfg.training.batch_size, max(n, 1))
    rows = max(batch, min(n, 4096))  # a training batch, or a chunk of evaluation
    activations = rows * sum(widths) * size * 3
    return Estimate(n_params, params, data, activations, (n, f))


def check_resources(cfg: Config, where: str = "the config") -> Estimate:
    """The estimate, or a ConfigError naming it and the key that drives it when it exceeds the
    memory available. Used by ``nncli config validate`` and before training."""
    est = estimate(cfg)
    available = available_memory()
    if est.total <= available:
        return est
    n, f = est.shape
    if est.params >= est.data:
        key = "model.maxout_pieces" if cfg.model.maxout_pieces > 2 and _uses_maxout(cfg) else "model.hidden"
        what = f"{est.n_params:,} parameters"
    else:
        key = "data.polynomial" if cfg.data.polynomial > 1 else \
            ("data.params.n_samples" if "n_samples" in cfg.data.params else "data.params.n_features")
        what = f"{n:,} samples of {f:,} features"
    problem = (f"{where}: {key}: the model and data would need about {human_bytes(est.total)} of memory "
               f"({what}: {human_bytes(est.params)} for parameters and optimizer state, "
               f"{human_bytes(est.data)} for data, {human_bytes(est.activations)} for activations), "
               f"more than the {human_bytes(available)} available")
    raise ConfigError(problem)


def _uses_maxout(cfg: Config) -> bool:
    a = cfg.model.activation
    return a == "maxout" if isinstance(a, str) else "maxout" in a
