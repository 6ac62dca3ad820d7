"""Optimizers (learning-rate schedules are in ``schedules.py``).

An optimizer holds a list of ``(param, grad)`` array pairs (a network hands over one pair:
its flat trainable slice) and updates the params in place in ``step()``. Per-parameter
state (moments) lives in the optimizer; layers never own one. Defaults and names follow
the papers and PyTorch. ``weight_decay`` adds ``wd * p`` to the gradient (coupled L2), except
in AdamW where it shrinks the weights directly (decoupled).
"""

from __future__ import annotations

import math

import numpy as np

from nncli.errors import lookup


class Optimizer:
    defaults: dict = {}

    def __init__(self, pairs, lr: float = 1e-3, weight_decay: float = 0.0, **hyper):
        self.pairs = [(p, g) for p, g in pairs]
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        for key, default in self.defaults.items():
            setattr(self, key, hyper.pop(key, default))
        if hyper:
            raise TypeError(f"{type(self).__name__} got unknown hyper-parameters {sorted(hyper)}")
        self.t = 0
        self.state = [self.init_state(p) for p, _ in self.pairs]

    def init_state(self, p) -> dict:
        return {}

    def step(self) -> None:
        self.t += 1
        for (p, g), s in zip(self.pairs, self.state):
            if self.weight_decay and not self.decoupled:
                g += self.weight_decay * p
            self.update(p, g, s)

    decoupled = False

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"t": np.array(self.t), "lr": np.array(self.lr)}
        for i, s in enumerate(self.state):
            for key, arr in s.items():
                out[f"{i}.{key}"] = arr.copy()
        return out

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        for i, s in enumerate(self.state):
            for key, arr in s.items():
                arr[...] = state[f"{i}.{key}"]


class SGD(Optimizer):
    """p <- p - lr g"""

    def update(self, p, g, s):
        p -= self.lr * g


class Momentum(Optimizer):
    """v <- mu v + g;  p <- p - lr v   (PyTorch's SGD with momentum, dampening 0)"""

    defaults = {"momentum": 0.9}

    def init_state(self, p):
        return {"v": np.zeros_like(p)}

    def update(self, p, g, s):
        v = s["v"]
        v *= self.momentum
        v += g
        p -= self.lr * v


class Nesterov(Momentum):
    """v <- mu v + g;  p <- p - lr (g + mu v)"""

    def update(self, p, g, s):
        v = s["v"]
        v *= self.momentum
        v += g
        p -= self.lr * (g + self.momentum * v)


class Adagrad(Optimizer):
    """G <- G + g^2;  p <- p - lr g / (sqrt(G) + eps)"""

    defaults = {"eps": 1e-10}

    def init_state(self, p):
        return {"sum": np.zeros_like(p)}

    def update(self, p, g, s):
        s["sum"] += g * g
        p -= self.lr * g / (np.sqrt(s["sum"]) + self.eps)


class RMSprop(Optimizer):
    """v <- rho v + (1 - rho) g^2;  p <- p - lr g / (sqrt(v) + eps)"""

    defaults = {"rho": 0.99, "eps": 1e-8}

    def init_state(self, p):
        return {"v": np.zeros_like(p)}

    def update(self, p, g, s):
        v = s["v"]
        v *= self.rho
        v += (1 - self.rho) * (g * g)
        p -= self.lr * g / (np.sqrt(v) + self.eps)


class Adam(Optimizer):
    """m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
    p <- p - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m/(1-b1^t), v_hat = v/(1-b2^t)
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8}
    amsgrad = False

    def init_state(self, p):
        s = {"m": np.zeros_like(p), "v": np.zeros_like(p), "buf": np.empty_like(p)}
        if self.amsgrad:
            s["vmax"] = np.zeros_like(p)
        return s

    def moments(self, g, s):
        b1, b2 = self.betas
        m, v, buf = s["m"], s["v"], s["buf"]
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

    def state_dict(self):
        out = super().state_dict()
        return {k: a for k, a in out.items() if not k.endswith(".buf")}

    def load_state_dict(self, state):
        state = dict(state)
        for i, s in enumerate(self.state):
            state.setdefault(f"{i}.buf", s["buf"])
        super().load_state_dict(state)


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p - lr wd p, then the Adam step."""

    decoupled = True
    defaults = {"betas": (0.9, 0.999), "eps": 1e-8}

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

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "momentum_decay": 4e-3}

    def init_state(self, p):
        s = super().init_state(p)
        s["mu_product"] = np.ones(1)
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

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "final_lr": 0.1, "gamma": 1e-3}

    def __init__(self, pairs, lr=1e-3, **kw):
        super().__init__(pairs, lr, **kw)
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


class Lookahead:
    """Wraps any optimizer: every k fast steps, slow <- slow + alpha (fast - slow); fast <- slow."""

    def __init__(self, inner: Optimizer, k: int = 5, alpha: float = 0.5):
        self.inner, self.k, self.alpha = inner, k, alpha
        self.slow = [p.copy() for p, _ in inner.pairs]
        self.count = 0

    @property
    def lr(self):
        return self.inner.lr

    @lr.setter
    def lr(self, value):
        self.inner.lr = value

    def step(self) -> None:
        self.inner.step()
        self.count += 1
        if self.count % self.k == 0:
            for (p, _), slow in zip(self.inner.pairs, self.slow):
                slow += self.alpha * (p - slow)
                p[...] = slow

    def state_dict(self):
        out = {f"inner.{k}": v for k, v in self.inner.state_dict().items()}
        out["lookahead.count"] = np.array(self.count)
        for i, slow in enumerate(self.slow):
            out[f"lookahead.slow.{i}"] = slow.copy()
        return out

    def load_state_dict(self, state):
        self.inner.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("inner.")})
        self.count = int(state["lookahead.count"])
        for i, slow in enumerate(self.slow):
            slow[...] = state[f"lookahead.slow.{i}"]


OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "amsgrad": AMSGrad,
    "nadam": NAdam,
    "radam": RAdam,
    "adabound": AdaBound,
}


def make_optimizer(name: str, pairs, lr: float, *, momentum=0.9, betas=(0.9, 0.999), eps=1e-8,
                   rho=0.99, weight_decay=0.0, final_lr=0.1, lookahead: dict | None = None):
    """Build an optimizer by name, passing each class only the hyper-parameters it takes."""
    cls = lookup(OPTIMIZERS, name, "optimizer")
    offered = {"momentum": momentum, "betas": tuple(betas), "eps": eps, "rho": rho, "final_lr": final_lr}
    hyper = {k: v for k, v in offered.items() if k in cls.defaults}
    opt = cls(pairs, lr=lr, weight_decay=weight_decay, **hyper)
    return Lookahead(opt, **lookahead) if lookahead else opt
