"""``nncli gradcheck``: the config's own network, in float64, on a small batch of its data,
checked by central finite differences (``nncli.nn.gradcheck``, the module the tests use).
Arrays larger than ``ENTRIES`` are checked on a seeded sample of their entries and along
random directions over the whole array; ``entries=None`` checks every entry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nncli.build import build, load_data, targets
from nncli.config import Config
from nncli.nn.gradcheck import (
    DIRECTIONS,
    TOL,
    Check,
    check_layers,
    check_network,
    fix_dropout_masks,
)

JITTER = 1e-2  # inputs are moved this much (in standard deviations) off ties and kinks
ENTRIES = 256  # entries checked one by one in a larger array, two forward passes each


@dataclass
class GradReport:
    layers: list[Check]  # each layer alone: its input and parameters
    network: list[Check]  # the loss through the whole network: every parameter array, the input
    tol: float
    batch: int
    n_params: int
    entries: int | None = None  # the sample in arrays larger than this; None: every entry
    directions: int = 0  # random directions each sampled array is checked along

    def failed(self) -> list[str]:
        """Names of the layers whose own check fails (else of the arrays the end-to-end one fails)."""
        bad = [c.layer for c in self.layers if not c.passed(self.tol)]
        if not bad:
            bad = [f"{c.layer}.{c.param}" for c in self.network if not c.passed(self.tol)]
        return list(dict.fromkeys(bad))

    def as_dict(self) -> dict:
        def rows(checks):
            return [{"layer": c.layer, "param": c.param, "size": c.size, "checked": c.checked,
                     "directions": c.directions, "rel_error": c.error,
                     "direction_rel_error": c.direction_error if c.directions else None,
                     "passed": c.passed(self.tol),
                     "zero_gradient": c.passed(self.tol) and (c.error >= self.tol or (
                         c.directions > 0 and c.direction_error >= self.tol)),
                     "worst": {"index": list(c.worst_index), "backprop": c.analytic, "numeric": c.numeric}}
                    for c in checks]
        return {"tolerance": self.tol, "batch": self.batch, "n_params": self.n_params,
                "entries": self.entries, "directions": self.directions,
                "passed": not self.failed(), "failed": self.failed(),
                "layers": rows(self.layers), "network": rows(self.network)}


def float64(cfg: Config) -> Config:
    return cfg.model_copy(update={"training": cfg.training.model_copy(update={"dtype": "float64"})})


def gradcheck(cfg: Config, *, batch: int = 8, tol: float = TOL, entries: int | None = ENTRIES,
              runs_dir="runs") -> GradReport:
    """Build ``cfg``'s network in float64, take ``batch`` training rows (moved by a little
    noise so that no relu input sits on its kink and no max-pool window ties), fix one mask
    per dropout layer, and compare backprop with central differences layer by layer and
    end to end. Batch norm is checked in training mode, as the function of the batch it is.
    Arrays larger than ``entries`` are checked on a sample of that many entries and along
    ``DIRECTIONS`` random directions, drawn from the config's seed; None checks every entry."""
    cfg = float64(cfg)
    ds = load_data(cfg)
    parts = build(cfg, ds, runs_dir=runs_dir)
    net, trainer = parts.net, parts.trainer
    rng = np.random.default_rng(cfg.seed)
    x = np.array(ds.X_train[:batch], np.float64)
    x += JITTER * rng.normal(size=x.shape)
    y = trainer._targets(targets(parts, ds, ds.y_train[:batch]))
    fix_dropout_masks(net, x, rng)
    layers = check_layers(net, x, rng, training=True, entries=entries)
    network = check_network(net, trainer.loss, x, y, training=True, entries=entries, rng=rng.spawn(1)[0])
    sampled = any(c.directions for c in layers + network)
    return GradReport(layers, network, tol, len(x), int(net.theta.size), entries, DIRECTIONS if sampled else 0)
