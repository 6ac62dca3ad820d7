"""Finite-difference gradient checks, shared by the test suite and ``nncli gradcheck``.

Central differences in float64: ``(f(x + h) - f(x - h)) / 2h`` for every entry, compared with
backprop by the relative error ``|a - b| / (|a| + |b|)`` (vector norms). Inputs should be kept
away from kinks (relu-family at 0, maxout ties, huber at +-delta, mae at 0) so that the
numeric derivative is the true one; ``spread`` makes such inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nncli.nn.layers import Dropout

H = 1e-6  # finite-difference step
TOL = 1e-6  # relative error allowed in float64
ATOL = 1e-8  # an array whose true gradient is 0 (a bias before batch norm) passes on absolute error:
# central differences carry about eps * |f| / h = 1e-10 of noise, which is all its relative error

JITTER = 1e-3  # check_layers moves each layer's input by this fraction of its spread


def rel_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-8))


def numeric_grad(f, x: np.ndarray, h: float = H) -> np.ndarray:
    """Central differences of the scalar ``f()`` w.r.t. every entry of ``x`` (perturbed in place)."""
    grad = np.zeros(x.shape)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if flat.size and not np.shares_memory(flat, x):
        raise ValueError("numeric_grad needs an array it can perturb in place (a contiguous one)")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def spread(rng: np.random.Generator, shape, step: float = 0.25) -> np.ndarray:
    """Distinct values on a grid ``step`` apart, none closer than step/2 to 0, in random order.

    Keeps relu-family inputs off their kink at 0 and maxout pieces and max-pool windows from tying.
    """
    n = int(np.prod(shape))
    grid = (np.arange(n) - n // 2) * step + step / 2
    return rng.permutation(grid).reshape(shape)


@dataclass
class Check:
    """One compared array: its name, the worst relative error and where the worst entry is."""

    layer: str
    param: str
    error: float
    worst_index: tuple
    analytic: float
    numeric: float
    size: int

    abs_error: float = 0.0

    def passed(self, tol: float = TOL) -> bool:
        return self.error < tol or self.abs_error < ATOL


def compare(layer: str, param: str, analytic, numeric) -> Check:
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    diff = np.abs(analytic - numeric)
    k = np.unravel_index(int(diff.argmax()), diff.shape) if diff.size else ()
    return Check(layer, param, rel_error(analytic, numeric), tuple(int(i) for i in k),
                 float(analytic[k]) if diff.size else 0.0, float(numeric[k]) if diff.size else 0.0,
                 int(diff.size), float(diff.max()) if diff.size else 0.0)


def fix_dropout_masks(net, x: np.ndarray, rng: np.random.Generator) -> None:
    """Draw one mask per dropout layer and keep it, so the network is a fixed function of x.
    (Running statistics that the pass moves are put back.)"""
    saved = {k: v.copy() for k, v in net.state_dict().items() if k.split(".", 1)[1] in _buffer_names(net)}
    out = x
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.fixed_mask = (rng.random(out.shape) >= layer.rate) / (1.0 - layer.rate)
        out = layer.forward(out.copy(), True)
    _restore_buffers(net, saved)


def check_network(net, loss, x: np.ndarray, y: np.ndarray, *, training: bool = True,
                  with_input: bool = True) -> list[Check]:
    """Backprop against central differences of ``loss(net(x), y)`` for every parameter array
    of every layer (and the input), in float64; one ``Check`` per array.

    Dropout must have fixed masks (``fix_dropout_masks``); batch norm in training mode is
    checked as the function of the whole batch that it is.
    """
    if net.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 network, got {net.dtype}")
    x = np.array(x, np.float64)
    saved = [layer.need_input_grad for layer in net.layers]
    stop = net._stop
    net._stop = 0
    for layer in net.layers:
        layer.need_input_grad = True
    buffers = {k: v.copy() for k, v in net.state_dict().items() if k.split(".", 1)[1] in _buffer_names(net)}
    try:
        def f() -> float:
            _restore_buffers(net, buffers)  # batch norm's running statistics must not drift
            return loss.forward(net.forward(x, training), y)

        f()
        grad_out = loss.backward()
        dx = grad_out
        for layer in reversed(net.layers):
            dx = layer.backward(dx)
        analytic = net.grad.copy()
        numeric = numeric_grad(f, net.theta)
        checks = []
        offset = 0
        for i, pname, shape in net.entries:
            k = int(np.prod(shape))
            if not net.layers[i].frozen:
                checks.append(compare(net.names[i], pname, analytic[offset:offset + k].reshape(shape),
                                      numeric[offset:offset + k].reshape(shape)))
            offset += k
        if with_input:
            checks.insert(0, compare("input", "x", dx, numeric_grad(f, x)))
        return checks
    finally:
        _restore_buffers(net, buffers)
        net._stop = stop
        for layer, need in zip(net.layers, saved):
            layer.need_input_grad = need


def _buffer_names(net) -> set[str]:
    return {b for layer in net.layers for b in layer.buffers}


def _restore_buffers(net, saved: dict) -> None:
    for key, arr in saved.items():
        name, buf = key.split(".", 1)
        net.layers[net.names.index(name)].buffers[buf][...] = arr


def check_layers(net, x: np.ndarray, rng: np.random.Generator, *, training: bool = True) -> list[Check]:
    """Each layer on its own, at the input the network hands it: backprop of ``sum(R * out)``
    (R random) against central differences, for the layer's input and each of its parameter
    arrays. A wrong derivative then shows in the layer that has it, not only in the parameters
    before it. Each layer is checked at its input moved by a little noise (``JITTER`` of its
    spread): a derivative is checked anywhere, and the exact zeros a relu hands on would put a
    max-pool window on a tie, where no derivative exists. Dropout must have fixed masks
    (``fix_dropout_masks``)."""
    if net.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 network, got {net.dtype}")
    saved = {k: v.copy() for k, v in net.state_dict().items() if k.split(".", 1)[1] in _buffer_names(net)}
    checks = []
    try:
        a = np.array(x, np.float64)
        for name, layer in zip(net.names, net.layers):
            need = layer.need_input_grad
            layer.need_input_grad = True
            x_in = a + (JITTER * (float(a.std()) or 1.0)) * rng.normal(size=a.shape)
            buffers = {k: v.copy() for k, v in layer.buffers.items()}

            def f() -> float:
                for k, v in buffers.items():  # running statistics must not drift between calls
                    layer.buffers[k][...] = v
                return float(np.sum(R * layer.forward(x_in.copy(), training)))

            out = layer.forward(x_in.copy(), training)
            R = rng.normal(size=out.shape)
            f()
            dx = layer.backward(R.copy())
            checks.append(compare(name, "x", dx, numeric_grad(f, x_in)))
            if not layer.frozen:
                analytic = {p: g.copy() for p, g in layer.grads.items()}
                for p in sorted(layer.params, key=lambda p: p not in layer.decay):
                    checks.append(compare(name, p, analytic[p], numeric_grad(f, layer.params[p])))
            layer.need_input_grad = need
            for k, v in buffers.items():
                layer.buffers[k][...] = v
            a = layer.forward(a.copy(), training)
        return checks
    finally:
        _restore_buffers(net, saved)
