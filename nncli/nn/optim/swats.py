"""SWATS: start with Adam, switch to SGD once the projected SGD rate settles (Keskar & Socher,
"Improving Generalization Performance by Switching from Adam to SGD", 2017, Algorithm 1)."""

from __future__ import annotations

import math

import numpy as np

from nncli.nn.optim.base import Optimizer


class SWATS(Optimizer):
    """Adam phase, with g the gradient and k the step:
        m <- b1 m + (1-b1) g;  a <- b2 a + (1-b2) g^2
        s = -lr sqrt(1-b2^k)/(1-b1^k) m/(sqrt(a) + eps);  p <- p + s
        if s.g != 0:  gamma = s.s / (-s.g);  lam <- b2 lam + (1-b2) gamma
            if k > 1 and |lam/(1-b2^k) - gamma| < switch_tol lam/(1-b2^k):
                switch, Lambda = lam/(1-b2^k), v = 0
    SGD phase:  v <- b1 v + g;  p <- p - (1-b1) Lambda v

    gamma is the step along the Adam direction that plain SGD would need to move as far (the
    projection of the Adam step on the gradient); its bias-corrected average Lambda is the
    learned SGD rate. A learning-rate schedule scales Lambda as it scales lr.

    The paper's switch test is absolute, ``|Lambda - gamma| < eps`` with eps = 1e-9; on a
    float32 network gamma is never that close (on digits the nearest in 630 steps was 2.8e-6,
    with gamma about 0.1), so the test here is relative to Lambda, with its own tolerance.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-9, weight_decay: float = 0.0, switch_tol: float = 1e-3):
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        self.switch_tol = float(switch_tol)
        super().__init__(params, lr, weight_decay)
        self.base_lr = self.lr

    def init_state(self, p):
        # scalars in float64 whatever the parameters' type; switch_step 0 = still in the Adam phase
        return {"m": np.zeros_like(p), "a": np.zeros_like(p), "v": np.zeros_like(p),
                "lam": np.zeros(1), "sgd_lr": np.zeros(1), "switch_step": np.zeros(1)}

    @property
    def switched(self) -> bool:
        return bool(self.state["switch_step"][0])

    @property
    def sgd_lr(self) -> float:
        """Lambda as a schedule has scaled it (0 before the switch)."""
        return float(self.state["sgd_lr"][0]) * self.lr / self.base_lr

    def update(self, p, g, s):
        b1, b2 = self.betas
        k = self.t
        if self.switched:
            v = s["v"]
            v *= b1
            v += g
            p -= ((1 - b1) * self.sgd_lr) * v
            return
        m, a = s["m"], s["a"]
        m *= b1
        m += (1 - b1) * g
        a *= b2
        a += (1 - b2) * g * g
        step = (-self.lr * math.sqrt(1 - b2 ** k) / (1 - b1 ** k)) * m / (np.sqrt(a) + self.eps)
        p += step
        sg = float(np.dot(step.ravel(), g.ravel()))
        if sg != 0:
            gamma = float(np.dot(step.ravel(), step.ravel())) / -sg
            s["lam"] *= b2
            s["lam"] += (1 - b2) * gamma
            corrected = float(s["lam"][0]) / (1 - b2 ** k)
            if k > 1 and abs(corrected - gamma) < self.switch_tol * abs(corrected):
                s["switch_step"][0] = k
                s["sgd_lr"][0] = corrected * self.base_lr / self.lr  # stored unscaled by the schedule
                s["v"][...] = 0

    def logs(self) -> dict:
        """Per-epoch history entries: the learned SGD rate and the step of the switch (None
        while still in the Adam phase: the columns exist from the first epoch on)."""
        if not self.switched:
            return {"sgd_lr": None, "switch_step": None}
        return {"sgd_lr": self.sgd_lr, "switch_step": int(self.state["switch_step"][0])}
