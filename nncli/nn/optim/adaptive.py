"""Per-coordinate step sizes from a running sum or average of squared gradients."""

from __future__ import annotations

import numpy as np

from nncli.nn.optim.base import Optimizer


class Adagrad(Optimizer):
    """G <- G + g^2;  p <- p - lr g / (sqrt(G) + eps)"""

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0):
        self.eps = float(eps)
        super().__init__(params, lr, weight_decay)

    def init_state(self, p):
        return {"sum": np.zeros_like(p)}

    def update(self, p, g, s):
        s["sum"] += g * g
        p -= self.lr * g / (np.sqrt(s["sum"]) + self.eps)


class RMSprop(Optimizer):
    """v <- rho v + (1 - rho) g^2;  p <- p - lr g / (sqrt(v) + eps)   (rho is PyTorch's alpha)"""

    def __init__(self, params, lr: float = 1e-2, rho: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.rho, self.eps = float(rho), float(eps)
        super().__init__(params, lr, weight_decay)

    def init_state(self, p):
        return {"v": np.zeros_like(p)}

    def update(self, p, g, s):
        v = s["v"]
        v *= self.rho
        v += (1 - self.rho) * (g * g)
        p -= self.lr * g / (np.sqrt(v) + self.eps)
