"""Finite-difference gradient checks, shared by the test suite and ``nncli gradcheck``.

Central differences in float64: ``(f(x + h) - f(x - h)) / 2h`` for every entry, compared with
backprop by the relative error ``|a - b| / (|a| + |b|)`` (vector norms). Inputs should be kept
away from kinks (relu-family at 0, maxout ties, huber at +-delta, mae at 0) so that the
numeric derivative is the true one; ``spread`` makes such inputs.

Every entry costs two forward passes: minutes for a network of 50,000 parameters. Given
``entries``, an array larger than that is checked on a seeded random sample of that many entries
(the worst still named by its index) and along ``directions`` random unit directions ``u`` over
the whole array: backprop's ``g . u`` against ``(f(x + h u) - f(x - h u)) / 2h``, as
``torch.autograd.gradcheck(fast_mode=True)`` does. Projected on k random directions, the error
and the gradient keep their ratio of norms up to a factor whose square is about F(k, k)-distributed
(Johnson-Lindenstrauss), so the relative error of the projections estimates the whole array's,
wherever in the array the error is: with k = 16, an array whose error is 3x (10x) the tolerance
passes with probability about 3e-5 (6e-13). A projected difference carries the noise of one
entry's, so the same floor ``ATOL`` lets an array whose gradient is 0 pass. The price: a
projection dilutes an error in one entry by sqrt(size), so one below about ATOL * sqrt(size)
passes on that floor where a check of every entry would fail it (which takes gradient entries of
about 5e-3 or less, for such an error to exceed the relative tolerance); the sample sees it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nncli.nn.layers import Dropout

H = 1e-6  # finite-difference step
TOL = 1e-6  # relative error allowed in float64
ATOL = 1e-8  # an array whose true gradient is 0 (a bias before batch norm) passes on absolute error:
# central differences carry about eps * |f| / h = 1e-10 of noise, which is all its relative error

JITTER = 1e-3  # check_layers moves each layer's input by this fraction of its spread
DIRECTIONS = 16  # random directions per sampled array: 32 forward passes (see the module docstring)


def rel_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-8))


def numeric_grad(f, x: np.ndarray, h: float = H, at=None) -> np.ndarray:
    """Central differences of the scalar ``f()`` w.r.t. every entry of ``x`` (perturbed in place),
    or only at the flat indices ``at`` (then one value per index)."""
    flat = _flat(x)
    grad = np.zeros(x.shape if at is None else len(at))
    gflat = grad.reshape(-1)
    for j, i in enumerate(range(flat.size) if at is None else at):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[j] = (up - down) / (2 * h)
    return grad


def numeric_directional(f, x: np.ndarray, u: np.ndarray, h: float = H) -> tuple[float, np.ndarray]:
    """``(f(x + h u) - f(x - h u)) / 2h`` with ``x`` moved in place and put back, and the step
    actually taken, ``(x_up - x_down) / 2h``, to project backprop on: each entry of ``x +- h u``
    is rounded to x's precision, and its share of a unit step, about h / sqrt(size), is small
    enough for that rounding to matter (1e-9 of it for 10,000 entries of size 1)."""
    flat = _flat(x)
    old = flat.copy()
    flat += h * u
    x_up = flat.copy()
    up = f()
    np.subtract(old, h * u, out=flat)
    step = (x_up - flat) / (2 * h)
    down = f()
    flat[...] = old
    return (up - down) / (2 * h), step


def _flat(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(-1)
    if flat.size and not np.shares_memory(flat, x):
        raise ValueError("numeric_grad needs an array it can perturb in place (a contiguous one)")
    return flat


def spread(rng: np.random.Generator, shape, step: float = 0.25) -> np.ndarray:
    """Distinct values on a grid ``step`` apart, none closer than step/2 to 0, in random order.

    Keeps relu-family inputs off their kink at 0 and maxout pieces and max-pool windows from tying.
    """
    n = int(np.prod(shape))
    grid = (np.arange(n) - n // 2) * step + step / 2
    return rng.permutation(grid).reshape(shape)


@dataclass
class Check:
    """One compared array: its name, the worst relative error and where the worst entry is;
    for a sampled array also which entries were compared one by one and the relative error of
    its projections on random directions."""

    layer: str
    param: str
    error: float
    worst_index: tuple
    analytic: float
    numeric: float
    size: int

    abs_error: float = 0.0
    sample: tuple = ()  # flat indices of the entries compared, when not every entry was
    directions: int = 0  # random directions the whole array was checked along
    direction_error: float = 0.0
    direction_abs_error: float = 0.0

    @property
    def checked(self) -> int:
        """Entries compared one by one."""
        return len(self.sample) if self.sample else self.size

    def passed(self, tol: float = TOL) -> bool:
        entries = self.error < tol or self.abs_error < ATOL
        along = not self.directions or self.direction_error < tol or self.direction_abs_error < ATOL
        return entries and along


def compare(layer: str, param: str, analytic, numeric) -> Check:
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    diff = np.abs(analytic - numeric)
    k = np.unravel_index(int(diff.argmax()), diff.shape) if diff.size else ()
    return Check(layer, param, rel_error(analytic, numeric), tuple(int(i) for i in k),
                 float(analytic[k]) if diff.size else 0.0, float(numeric[k]) if diff.size else 0.0,
                 int(diff.size), float(diff.max()) if diff.size else 0.0)


def check_array(layer: str, param: str, f, x: np.ndarray, analytic, *, entries: int | None = None,
                directions: int = DIRECTIONS, rng: np.random.Generator | None = None) -> Check:
    """Backprop's gradient ``analytic`` of the scalar ``f()`` w.r.t. the array ``x`` (perturbed
    in place) against central differences: at every entry, or, when ``x`` has more than
    ``entries``, at a random sample of that many and along ``directions`` random unit
    directions over all of ``x`` (both drawn from ``rng``)."""
    if entries is not None and (entries < 1 or directions < 1):
        raise ValueError(f"a sampled check needs entries >= 1 and directions >= 1, got {entries} and {directions}")
    if entries is None or x.size <= entries:
        return compare(layer, param, analytic, numeric_grad(f, x))
    rng = np.random.default_rng(0) if rng is None else rng
    g = np.asarray(analytic, np.float64).reshape(-1)
    at = np.sort(rng.choice(x.size, entries, replace=False))
    c = compare(layer, param, g[at], numeric_grad(f, x, at=at))
    # u: (directions, size), unit rows, Gaussian so that no direction of the array is favoured
    u = rng.normal(size=(directions, x.size))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    numeric, projected = np.zeros(directions), np.zeros(directions)
    for j in range(directions):
        numeric[j], step = numeric_directional(f, x, u[j])
        projected[j] = g @ step
    worst = np.unravel_index(int(at[c.worst_index[0]]), x.shape)
    return replace(c, worst_index=tuple(int(i) for i in worst), size=int(x.size),
                   sample=tuple(int(i) for i in at), directions=directions,
                   direction_error=rel_error(projected, numeric),
                   direction_abs_error=float(np.abs(projected - numeric).max()))


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
                  with_input: bool = True, entries: int | None = None, directions: int = DIRECTIONS,
                  rng: np.random.Generator | None = None) -> list[Check]:
    """Backprop against central differences of ``loss(net(x), y)`` for every parameter array
    of every layer (and the input), in float64; one ``Check`` per array. Every entry of every
    array, unless ``entries`` is given: then arrays larger than that are sampled
    (``check_array``; ``rng`` draws the samples and directions, seeded 0 by default).

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
        rng = np.random.default_rng(0) if rng is None else rng
        sampled = {"entries": entries, "directions": directions, "rng": rng}
        checks = [check_array("input", "x", f, x, dx, **sampled)] if with_input else []
        offset = 0
        for i, pname, shape in net.entries:
            k = int(np.prod(shape))
            if not net.layers[i].frozen:  # theta[offset:offset + k] is the array itself, a view
                checks.append(check_array(net.names[i], pname, f, net.theta[offset:offset + k].reshape(shape),
                                          analytic[offset:offset + k].reshape(shape), **sampled))
            offset += k
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


def check_layers(net, x: np.ndarray, rng: np.random.Generator, *, training: bool = True,
                 entries: int | None = None, directions: int = DIRECTIONS) -> list[Check]:
    """Each layer on its own, at the input the network hands it: backprop of ``sum(R * out)``
    (R random) against central differences, for the layer's input and each of its parameter
    arrays. A wrong derivative then shows in the layer that has it, not only in the parameters
    before it. Each layer is checked at its input moved by a little noise (``JITTER`` of its
    spread): a derivative is checked anywhere, and the exact zeros a relu hands on would put a
    max-pool window on a tie, where no derivative exists. Dropout must have fixed masks
    (``fix_dropout_masks``). Every entry, unless ``entries`` is given: then arrays larger than
    that are sampled (``check_array``) by a generator spawned from ``rng``, so that ``rng``
    draws the same inputs and R as in a check of every entry."""
    if net.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 network, got {net.dtype}")
    saved = {k: v.copy() for k, v in net.state_dict().items() if k.split(".", 1)[1] in _buffer_names(net)}
    checks = []
    sampled = {"entries": entries, "directions": directions, "rng": rng.spawn(1)[0] if entries is not None else None}
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
            checks.append(check_array(name, "x", f, x_in, dx, **sampled))
            if not layer.frozen:
                analytic = {p: g.copy() for p, g in layer.grads.items()}
                for p in sorted(layer.params, key=lambda p: p not in layer.decay):
                    checks.append(check_array(name, p, f, layer.params[p], analytic[p], **sampled))
            layer.need_input_grad = need
            for k, v in buffers.items():
                layer.buffers[k][...] = v
            a = layer.forward(a.copy(), training)
        return checks
    finally:
        _restore_buffers(net, saved)
