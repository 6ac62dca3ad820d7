"""The optimizer base class and Lookahead, which wraps any optimizer.

An optimizer updates one flat parameter vector in place from its gradient. It is given the
network itself (anything with ``trainable`` and ``layout``, or a ``(params, grads)`` pair of
arrays) and fetches the arrays at every step, so it survives copies and pickles of the
network; if the network's trainable layout changes after the optimizer was built (a
``freeze``), ``step`` refuses rather than silently stop moving the weights.

Per-parameter state (moments) lives in the optimizer; layers never own one. Each subclass's
constructor lists its hyper-parameters with their defaults (PyTorch's, where PyTorch has the
knob): that signature is the Python API, and the config schema mirrors it (a test checks).
``weight_decay`` adds ``wd * p`` to the gradient (coupled L2), except where ``decoupled``.
"""

from __future__ import annotations

import numpy as np


class _Arrays:
    """A (params, grads) pair of arrays seen through the interface of a network."""

    def __init__(self, p: np.ndarray, g: np.ndarray):
        self.p, self.g = p, g
        self.layout = (p.shape,)

    @property
    def trainable(self):
        return self.p, self.g


class Optimizer:
    decoupled = False  # weight decay shrinks the weights directly instead of adding to the gradient

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.source = _Arrays(*params) if isinstance(params, tuple) else params
        self.layout = self.source.layout
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.state = self.init_state(self.source.trainable[0])

    def init_state(self, p) -> dict[str, np.ndarray]:
        return {}

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(params, grads) to update, after checking they are still the ones the state fits."""
        if self.source.layout != self.layout:
            raise RuntimeError("the network's trainable parameters changed after this optimizer was "
                               "built (freeze() after building it?); build the optimizer after freezing")
        return self.source.trainable

    def step(self) -> None:
        p, g = self.arrays()
        self.t += 1
        if self.weight_decay and not self.decoupled:
            g += self.weight_decay * p
        self.update(p, g, self.state)

    def update(self, p, g, s) -> None:
        raise NotImplementedError

    def logs(self) -> dict:
        """Entries for the training history after each epoch (SWATS: its learned SGD rate)."""
        return {}

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"t": np.array(self.t), "lr": np.array(self.lr)}
        out.update({k: a.copy() for k, a in self.state.items() if not k.startswith("_")})
        return out

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        for key, arr in self.state.items():
            if not key.startswith("_"):
                arr[...] = state[key]


class Lookahead:
    """Wraps any optimizer: every k fast steps, slow <- slow + alpha (fast - slow); fast <- slow."""

    def __init__(self, inner: Optimizer, k: int = 5, alpha: float = 0.5):
        self.inner, self.k, self.alpha = inner, k, alpha
        self.slow = inner.arrays()[0].copy()
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
            p, _ = self.inner.arrays()
            self.slow += self.alpha * (p - self.slow)
            p[...] = self.slow

    def logs(self) -> dict:
        return self.inner.logs()

    def state_dict(self):
        out = {f"inner.{k}": v for k, v in self.inner.state_dict().items()}
        out["lookahead.count"] = np.array(self.count)
        out["lookahead.slow"] = self.slow.copy()
        return out

    def load_state_dict(self, state):
        self.inner.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("inner.")})
        self.count = int(state["lookahead.count"])
        self.slow[...] = state["lookahead.slow"]
