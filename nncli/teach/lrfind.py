"""The learning-rate range test (Smith 2015; fastai's ``lr_find``, Lightning's tuner).

From the initial weights, train one step per rate while the rate grows exponentially from
``min_lr`` to ``max_lr``, recording the loss of each batch and its exponential moving average
(bias-corrected, beta 0.98). Stop when the smoothed loss passes ``diverge`` times its lowest
value or becomes non-finite. The suggestion is the steepest descent point: the rate where the
smoothed loss falls fastest per decade of rate, searched before the lowest point of the curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nncli.build import build, load_data, targets
from nncli.config import Config
from nncli.nn import Callback, Diverged


@dataclass
class RangeTest:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # each batch's training loss
    smoothed: list[float] = field(default_factory=list)
    stopped: str = ""
    suggestion: float | None = None
    index: int | None = None

    def as_dict(self) -> dict:
        return {"suggestion": self.suggestion, "rule": "steepest descent of the smoothed loss",
                "stopped": self.stopped, "steps": len(self.lrs), "lr": self.lrs, "loss": self.losses,
                "smoothed": self.smoothed}


class _Sweep(Callback):
    def __init__(self, rates: np.ndarray, beta: float, diverge: float, result: RangeTest):
        self.rates, self.beta, self.diverge, self.r = rates, beta, diverge, result
        self.avg, self.best, self.prev = 0.0, math.inf, (0.0, 0)

    def on_train_begin(self, trainer):
        trainer.optimizer.lr = float(self.rates[0])

    def on_batch_end(self, trainer, epoch, batch):
        total, _, seen = trainer.partial
        prev_total, prev_seen = self.prev if batch > 0 else (0.0, 0)
        self.prev = (total, seen)
        loss = (total - prev_total) / max(seen - prev_seen, 1)
        i = len(self.r.lrs)
        self.r.lrs.append(float(self.rates[i]))
        self.r.losses.append(float(loss))
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        smooth = self.avg / (1 - self.beta ** (i + 1))
        self.r.smoothed.append(float(smooth))
        self.best = min(self.best, smooth)
        if not math.isfinite(smooth) or smooth > self.diverge * self.best:
            self.r.stopped = f"the smoothed loss passed {self.diverge:g}x its lowest value at lr {self.rates[i]:.3g}"
            trainer.stop_training = True
        elif i + 1 == len(self.rates):
            self.r.stopped = f"reached max_lr {self.rates[-1]:.3g}"
            trainer.stop_training = True
        else:
            trainer.optimizer.lr = float(self.rates[i + 1])


def lr_find(cfg: Config, *, min_lr: float = 1e-7, max_lr: float = 10.0, steps: int = 100,
            beta: float = 0.98, diverge: float = 4.0, runs_dir="runs") -> RangeTest:
    ds = load_data(cfg)
    parts = build(cfg, ds, runs_dir=runs_dir)
    trainer = parts.trainer
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / max(steps - 1, 1))
    result = RangeTest()
    n = len(ds.X_train)
    batch = n if trainer.batch_size is None else min(trainer.batch_size, n)
    trainer.epochs = math.ceil(steps / math.ceil(n / batch))
    trainer.schedule, trainer.early_stopping = None, None  # the rate is the sweep's alone
    trainer.callbacks = [_Sweep(rates, beta, diverge, result)]
    try:
        trainer.fit(ds.X_train, targets(parts, ds, ds.y_train), sample_weight=parts.sample_weight)
    except Diverged:
        result.stopped = f"the loss became non-finite at lr {result.lrs[-1] if result.lrs else min_lr:.3g}"
    result.index = suggest(result.lrs, result.smoothed)
    result.suggestion = None if result.index is None else result.lrs[result.index]
    return result


def suggest(lrs: list[float], smoothed: list[float]) -> int | None:
    """Index of the steepest descent of the smoothed loss (per decade of rate), among the
    points before its lowest one."""
    s = np.asarray(smoothed, np.float64)
    if len(s) < 3 or not np.isfinite(s).any():
        return None
    low = int(np.nanargmin(np.where(np.isfinite(s), s, np.nan)))
    if low < 2:
        return None
    slope = np.gradient(s[:low + 1], np.log10(np.asarray(lrs[:low + 1])))
    return int(np.argmin(slope))
