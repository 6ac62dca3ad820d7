"""Learning-rate schedules: the optimizer's rate set once per epoch."""

from __future__ import annotations

import math

import numpy as np

from nncli.nn.registry import lookup


class Schedule:
    """Sets the optimizer's learning rate once per epoch: ``lr = rate(epoch)``, epoch from 0.

    Each subclass's constructor lists its knobs with their defaults; the config schema mirrors
    them (a test checks). ``uses_epochs``: whether the rate depends on the run's epoch count,
    so that training longer than first planned changes the rates of epochs already run.
    """

    uses_epochs = False

    def __init__(self, lr0: float, epochs: int = 1):
        self.lr0, self.epochs = float(lr0), int(epochs)

    def rate(self, epoch: int, metric: float | None = None) -> float:
        return self.lr0

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state) -> None:
        pass


class Constant(Schedule):
    pass


class Step(Schedule):
    """lr0 * gamma ** (epoch // step_size); gamma 0.6 and step 1 is the notes' lr *= 0.6."""

    def __init__(self, lr0, epochs=1, step_size: int = 1, gamma: float = 0.1):
        super().__init__(lr0, epochs)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def rate(self, epoch, metric=None):
        return self.lr0 * self.gamma ** (epoch // self.step_size)


class Exponential(Schedule):
    """lr0 * gamma ** epoch"""

    def __init__(self, lr0, epochs=1, gamma: float = 0.95):
        super().__init__(lr0, epochs)
        self.gamma = float(gamma)

    def rate(self, epoch, metric=None):
        return self.lr0 * self.gamma ** epoch


class InvScaling(Schedule):
    """lr0 / (epoch + 1) ** power_t (scikit-learn's invscaling, counted in epochs)"""

    def __init__(self, lr0, epochs=1, power_t: float = 0.5):
        super().__init__(lr0, epochs)
        self.power_t = float(power_t)

    def rate(self, epoch, metric=None):
        return self.lr0 / (epoch + 1) ** self.power_t


class Cosine(Schedule):
    """Linear warm-up to lr0 over ``warmup`` epochs, then a half cosine down to min_lr."""

    uses_epochs = True

    def __init__(self, lr0, epochs=1, warmup: int = 0, min_lr: float = 0.0):
        super().__init__(lr0, epochs)
        self.warmup, self.min_lr = int(warmup), float(min_lr)

    def rate(self, epoch, metric=None):
        if epoch < self.warmup:
            return self.lr0 * (epoch + 1) / self.warmup
        span = max(self.epochs - self.warmup, 1)
        frac = min((epoch - self.warmup) / span, 1.0)
        return self.min_lr + 0.5 * (self.lr0 - self.min_lr) * (1 + math.cos(math.pi * frac))


class Plateau(Schedule):
    """Cut lr by ``factor`` when the monitored loss has not improved by ``threshold`` for
    more than ``patience`` epochs (scikit-learn's adaptive: factor 1/5, patience 2)."""

    def __init__(self, lr0, epochs=1, patience: int = 2, factor: float = 0.2, threshold: float = 1e-4,
                 min_lr: float = 0.0):
        super().__init__(lr0, epochs)
        self.patience, self.factor, self.threshold, self.min_lr = int(patience), float(factor), float(threshold), float(min_lr)
        self.lr, self.best, self.bad = self.lr0, math.inf, 0

    def rate(self, epoch, metric=None):
        if metric is not None and epoch > 0:
            if metric < self.best - self.threshold:
                self.best, self.bad = metric, 0
            else:
                self.bad += 1
                if self.bad > self.patience:
                    self.lr, self.bad = max(self.lr * self.factor, self.min_lr), 0
        return self.lr

    def state_dict(self):
        return {"lr": np.array(self.lr), "best": np.array(self.best), "bad": np.array(self.bad)}

    def load_state_dict(self, state):
        self.lr, self.best, self.bad = float(state["lr"]), float(state["best"]), int(state["bad"])


SCHEDULES = {
    "constant": Constant,
    "step": Step,
    "exponential": Exponential,
    "invscaling": InvScaling,
    "cosine": Cosine,
    "plateau": Plateau,
}


def make_schedule(name: str, lr0: float, epochs: int, **params) -> Schedule:
    """``SCHEDULES[name](lr0, epochs, **params)``; a keyword the schedule does not take raises."""
    return lookup(SCHEDULES, name, "schedule")(lr0, epochs, **params)
