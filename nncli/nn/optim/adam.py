"""The Adam family: one running mean of the gradient (m) and one of its square (v)."""

from __future__ import annotations

import math

import numpy as np

from nncli.nn.optim.base import Optimizer


class Adam(Optimizer):
    """m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
    p <- p - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m/(1-b1^t), v_hat = v/(1-b2^t)
    """

    amsgrad = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        super().__init__(params, lr, weight_decay)

    def init_state(self, p):
        s = {"m": np.zeros_like(p), "v": np.zeros_like(p), "_buf": np.empty_like(p)}
        if self.amsgrad:
            s["vmax"] = np.zeros_like(p)
        return s

    def moments(self, g, s):
        b1, b2 = self.betas
        m, v, buf = s["m"], s["v"], s["_buf"]
        m *= b1
        np.multiply(g, 1 - b1, out=buf)
        m += buf
        v *= b2
        np.multiply(g, g, out=buf)
        buf *= 1 - b2
        v += buf
        return m, v, buf

    def update(self, p, g, s):
        b1, b2 = self.betas
        m, v, buf = self.moments(g, s)
        if self.amsgrad:
            np.maximum(s["vmax"], v, out=s["vmax"])
            v = s["vmax"]
        # PyTorch's step lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), with sqrt(1-b2^t)
        # multiplied through so that it costs no pass over the vector
        root = math.sqrt(1 - b2 ** self.t)
        np.sqrt(v, out=buf)
        buf += self.eps * root
        np.divide(m, buf, out=buf)
        buf *= self.lr * root / (1 - b1 ** self.t)
        p -= buf


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p - lr wd p, then the Adam step."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, p, g, s):
        if self.weight_decay:
            p *= 1 - self.lr * self.weight_decay
        super().update(p, g, s)


class AMSGrad(Adam):
    """Adam with v_hat = max over time of v (Reddi et al.)."""

    amsgrad = True


class NAdam(Adam):
    """Adam with Nesterov momentum and PyTorch's momentum schedule (psi = 0.004):
    mu_t = b1 (1 - 0.5 * 0.96^(t psi));  p <- p - lr [mu_{t+1} m / (1 - prod mu_1..t+1)
    + (1 - mu_t) g / (1 - prod mu_1..t)] / (sqrt(v_hat) + eps)
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3):
        self.momentum_decay = float(momentum_decay)
        super().__init__(params, lr, betas, eps, weight_decay)

    def init_state(self, p):
        s = super().init_state(p)
        s["mu_product"] = np.ones(1)  # float64 whatever the parameters' type
        return s

    def update(self, p, g, s):
        b1, b2 = self.betas
        t, psi = self.t, self.momentum_decay
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        s["mu_product"] *= mu
        prod = float(s["mu_product"][0])
        m, v, buf = self.moments(g, s)
        denom = np.sqrt(v / (1 - b2 ** t)) + self.eps
        p -= (self.lr * (1 - mu) / (1 - prod)) * g / denom
        p -= (self.lr * mu_next / (1 - prod * mu_next)) * m / denom


class RAdam(Adam):
    """Adam whose adaptive step is switched on only once the variance of v_hat is tractable:
    rho_t = rho_inf - 2 t b2^t / (1 - b2^t); if rho_t > 5 use the rectified Adam step,
    otherwise plain momentum SGD with m_hat (Liu et al., as PyTorch).
    """

    def update(self, p, g, s):
        b1, b2 = self.betas
        t = self.t
        m, v, buf = self.moments(g, s)
        m_hat_scale = 1 / (1 - b1 ** t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(1 - b2 ** t) / (np.sqrt(v) + self.eps)
            p -= (self.lr * m_hat_scale * rect) * m * adaptive
        else:
            p -= (self.lr * m_hat_scale) * m


class AdaBound(Adam):
    """Adam whose per-coordinate step is clipped into bounds that close in on SGD's
    ``final_lr`` (Luo et al.): lower = final_lr (1 - 1/(gamma t + 1)),
    upper = final_lr (1 + 1/(gamma t)); final_lr follows lr changes made by schedules.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, final_lr: float = 0.1, gamma: float = 1e-3):
        self.final_lr, self.gamma = float(final_lr), float(gamma)
        super().__init__(params, lr, betas, eps, weight_decay)
        self.base_lr = self.lr

    def update(self, p, g, s):
        b1, b2 = self.betas
        t = self.t
        m, v, buf = self.moments(g, s)
        step_size = self.lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        final_lr = self.final_lr * self.lr / self.base_lr
        lower = final_lr * (1 - 1 / (self.gamma * t + 1))
        upper = final_lr * (1 + 1 / (self.gamma * t))
        step = np.clip(step_size / (np.sqrt(v) + self.eps), lower, upper)
        p -= step * m
