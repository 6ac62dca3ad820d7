"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

import numpy as np

from nncli.nn.optim.base import Optimizer


class SGD(Optimizer):
    """PyTorch's SGD (dampening 0):
        v <- momentum v + g;   p <- p - lr v                 (momentum > 0)
        p <- p - lr (g + momentum v)                          (nesterov)
        p <- p - lr g                                          (momentum 0)
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        if nesterov and momentum <= 0:
            raise ValueError("nesterov momentum needs momentum > 0")
        super().__init__(params, lr, weight_decay)

    def init_state(self, p):
        return {"v": np.zeros_like(p)} if self.momentum else {}

    def update(self, p, g, s):
        if not self.momentum:
            p -= self.lr * g
            return
        v = s["v"]
        v *= self.momentum
        v += g
        if self.nesterov:
            p -= self.lr * (g + self.momentum * v)
        else:
            p -= self.lr * v


class Momentum(SGD):
    """SGD with momentum 0.9 by default (the notes' SGDM)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, lr, momentum, False, weight_decay)


class Nesterov(SGD):
    """SGD with Nesterov momentum 0.9 by default (the notes' NAG)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, lr, momentum, True, weight_decay)
