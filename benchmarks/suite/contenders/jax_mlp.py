"""JAX on the CPU, written for speed: one jitted function per epoch that shuffles on the device,
stacks the epoch's full batches and runs the training step over them with `jax.lax.scan` (the
ragged last batch, when there is one, is one more step inside the same function), then
validates; optax's adam or sgd with momentum; float32; the state buffers are donated.

Like nncli it keeps the epoch's training loss and metric (summed batch by batch) and the
validation loss and metric, fetched to the host once per epoch. The first call compiles.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from suite.workloads import Workload, n_outputs


@functools.cache
def _functions(w: Workload, n_in: int, n_out: int, n_train: int):
    """Jitted (init, epoch, predict) for these shapes, built once so a second fit reuses the
    compiled code."""
    import jax
    import jax.numpy as jnp
    import optax

    dims, bs = [n_in, *w.hidden, n_out], min(w.batch, n_train)
    n_full, act = n_train // bs, jax.nn.relu if w.activation == "relu" else jnp.tanh
    opt = optax.adam(w.lr) if w.solver == "adam" else optax.sgd(w.lr, momentum=0.9, nesterov=False)

    def init(key):
        glorot = jax.nn.initializers.glorot_uniform()
        keys = jax.random.split(key, len(dims) - 1)
        params = [(glorot(k, (a, b), jnp.float32), jnp.zeros(b, jnp.float32))
                  for k, a, b in zip(keys, dims[:-1], dims[1:])]
        return params, opt.init(params)

    def forward(params, x):  # x: (batch, n_in)
        for W, b in params[:-1]:
            x = act(x @ W + b)
        W, b = params[-1]
        return x @ W + b

    def loss_metric(params, x, y):
        """Mean loss (0.5 * MSE for regression, as scikit-learn); correct count or squared error sum."""
        out = forward(params, x)
        if w.classification:
            return (optax.softmax_cross_entropy_with_integer_labels(out, y).mean(),
                    jnp.sum(jnp.argmax(out, axis=1) == y))
        err = out[:, 0] - y
        return 0.5 * jnp.mean(err * err), jnp.sum(err * err)

    grad = jax.value_and_grad(loss_metric, has_aux=True)

    def step(state, batch):
        params, opt_state = state
        (loss, metric), g = grad(params, *batch)
        updates, opt_state = opt.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss * len(batch[0]), metric)

    def epoch(state, key, X, y, Xv, yv):
        perm = jax.random.permutation(key, n_train)
        Xs, ys = X[perm], y[perm]
        full = (Xs[:n_full * bs].reshape(n_full, bs, n_in), ys[:n_full * bs].reshape(n_full, bs))
        state, (losses, metrics) = jax.lax.scan(step, state, full)
        loss, metric = losses.sum(), metrics.sum()
        if n_full * bs < n_train:
            state, (l_tail, m_tail) = step(state, (Xs[n_full * bs:], ys[n_full * bs:]))
            loss, metric = loss + l_tail, metric + m_tail
        val_loss, val_metric = loss_metric(state[0], Xv, yv)
        return state, jnp.stack([loss / n_train, metric.astype(jnp.float32), val_loss,
                                 val_metric.astype(jnp.float32)])

    return jax.jit(init), jax.jit(epoch, donate_argnums=0), jax.jit(forward)


def _train(w: Workload, d: dict, epochs: int):
    import jax
    import jax.numpy as jnp

    y_dtype = np.int32 if w.classification else np.float32
    X, Xv = jnp.asarray(d["Xtr"]), jnp.asarray(d["Xte"])
    y, yv = jnp.asarray(d["ytr"].astype(y_dtype)), jnp.asarray(d["yte"].astype(y_dtype))
    init, epoch, forward = _functions(w, X.shape[1], n_outputs(w, d), len(X))
    key = jax.random.PRNGKey(0)
    state, history = init(key), []
    for e in range(epochs):
        state, logs = epoch(state, jax.random.fold_in(key, e), X, y, Xv, yv)
        history.append(np.asarray(logs))  # one host sync per epoch, as nncli keeps its history
    jax.block_until_ready(state)
    return state[0], forward, history


def fit_mlp(w: Workload, d: dict, epochs: int, meter):
    import jax

    with meter:  # the first call on these shapes: tracing and XLA compilation included
        params, forward, _ = _train(w, d, epochs)
    out = np.asarray(forward(params, jax.numpy.asarray(d["Xte"])))
    t0 = time.perf_counter()  # the same fit again: every function is compiled by now
    _train(w, d, epochs)
    warm = time.perf_counter() - t0
    return (out.argmax(axis=1) if w.classification else out[:, 0]), {"fit_warm": warm,
                                                                     "jax": jax.__version__}
