"""Finite-difference checks of every backward pass, parametrized over the registries.

The differences come from ``nncli.nn.gradcheck``: central differences in float64; the relative
error ``|a - b| / (|a| + |b|)`` (vector norms) must stay below 1e-6. Inputs are kept away from
kinks (relu-family at 0, maxout ties, huber at +-delta, mae at 0) so the numeric derivative is
the true one.
"""

from __future__ import annotations

import numpy as np
import pytest

from nncli.nn.activations import ACTIVATIONS, OUTPUT_HEADS, make_activation
from nncli.nn.gradcheck import (
    TOL,
    check_network,
    fix_dropout_masks,
    numeric_grad,
    rel_error,
    spread,
)
from nncli.nn.layers import BatchNorm, Dense, Dropout
from nncli.nn.losses import LOSSES, make_loss
from nncli.nn.network import Network, build_mlp
from nncli.nn.train import Trainer


class Probe:
    """A loss ``sum(R * out)``: its gradient w.r.t. ``out`` is ``R`` itself, so a check through
    it tests a layer's backward against every direction at once."""

    def __init__(self, R):
        self.R = R

    def forward(self, out, y=None):
        return float(np.sum(out * self.R))

    def backward(self):
        return self.R.copy()


def wrap(layer, input_shape) -> Network:
    """A one-layer float64 network: allocates the layer's params/grads as views of theta/grad."""
    return Network([layer], input_shape, dtype=np.float64, seed=0)


def check_layer(layer, x, training, rng, *, set_params=None):
    """Gradient of sum(R * layer(x)) w.r.t. x and w.r.t. every parameter array of the layer,
    through ``gradcheck.check_network``; also checks that the network's own backward (which a
    lone first layer runs without its input gradient) writes the same parameter gradients."""
    net = wrap(layer, x.shape[1:])
    if set_params is not None:
        set_params(layer, rng)
    R = rng.normal(size=net.forward(x.copy(), training).shape)
    checks = check_network(net, Probe(R), x, None, training=training)
    assert [(c.layer, c.param) for c in checks] == [("input", "x")] + [
        (net.names[0], p) for p in sorted(layer.param_shapes(), key=lambda p: p not in layer.decay)]
    for c in checks:
        assert c.passed(TOL), c
    dtheta = net.grad.copy()
    if net.theta.size:
        assert np.any(dtheta != 0)
        net.grad[...] = np.nan  # backward writes every parameter gradient: nothing stale survives
        net.forward(x.copy(), training)
        net.backward(R.copy())
        np.testing.assert_allclose(net.grad, dtheta, rtol=1e-12, atol=1e-14)
    return net


# ---------------------------------------------------------------- activations and heads

def activation_input(act, rng, batch=4, units=6):
    width = units * act.width_factor
    return spread(rng, (batch, width))


def randomize_params(layer, rng):
    for arr in layer.params.values():
        arr[...] = rng.uniform(0.1, 0.6, arr.shape)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient(name):
    rng = np.random.default_rng(1)
    act = make_activation(name, leaky_slope=0.2, maxout_pieces=3)
    z = activation_input(act, rng)
    net = check_layer(act, z, True, rng, set_params=randomize_params)
    if name == "prelu":  # per-unit learned slopes, checked through theta
        assert net.theta.size == 6


@pytest.mark.parametrize("name", sorted(OUTPUT_HEADS))
def test_output_head_gradient(name):
    rng = np.random.default_rng(2)
    head = OUTPUT_HEADS[name]()
    check_layer(head, rng.normal(size=(5, 4)), False, rng)


def test_maxout_input_gradient_reaches_only_the_winner():
    act = make_activation("maxout", maxout_pieces=2)
    z = np.array([[1.0, 3.0, -2.0, -1.0]])  # two units of two pieces each
    wrap(act, (4,))
    assert np.array_equal(act.forward(z), [[3.0, -1.0]])
    assert np.array_equal(act.backward(np.array([[10.0, 20.0]])), [[0.0, 10.0, 0.0, 20.0]])


# ---------------------------------------------------------------- losses

def loss_data(loss, rng, n=6, k=3, weighted=False):
    """(out, y, w) suited to the loss: class codes, 0/1 targets or real targets."""
    if loss.fused_head == "softmax":
        k = 4
        out = rng.normal(scale=2.0, size=(n, k))
        y = rng.integers(0, k, n)
    elif loss.fused_head == "sigmoid":
        out = rng.normal(scale=2.0, size=(n, k))
        y = rng.integers(0, 2, (n, k)).astype(np.float64)
    else:
        # |out - y| in [0.2, 0.8] for half the entries and [1.2, 3] for the rest: both sides
        # of huber's delta = 1, and away from mae's kink at 0
        y = rng.normal(size=(n, k))
        size = np.where(rng.random((n, k)) < 0.5, rng.uniform(0.2, 0.8, (n, k)), rng.uniform(1.2, 3.0, (n, k)))
        out = y + size * rng.choice([-1.0, 1.0], (n, k))
    w = None
    if weighted:
        w = rng.uniform(0.2, 2.0, n)
        w[1] = 0.0
    return out, y, w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradient(name, weighted):
    rng = np.random.default_rng(3)
    loss = make_loss(name)
    out, y, w = loss_data(loss, rng, weighted=weighted)
    loss.forward(out, y, w)
    grad = loss.backward().copy()
    assert grad.shape == out.shape
    numeric = numeric_grad(lambda: loss.forward(out, y, w), out)
    assert rel_error(grad, numeric) < TOL
    if weighted:
        assert np.all(grad[1] == 0)  # weight 0: no gradient for that sample


def test_huber_data_covers_both_sides_of_delta():
    rng = np.random.default_rng(3)
    loss = make_loss("huber", huber_delta=1.0)
    out, y, _ = loss_data(loss, rng)
    a = np.abs(out - y)
    assert (a < 0.9).any() and (a > 1.1).any()


# ---------------------------------------------------------------- layers

@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradient(bias):
    rng = np.random.default_rng(4)

    def set_params(layer, rng):
        for arr in layer.params.values():
            arr[...] = rng.normal(size=arr.shape)

    net = check_layer(Dense(4, bias=bias), rng.normal(size=(5, 3)), True, rng, set_params=set_params)
    assert net.theta.size == 12 + 4 * bias


def test_dropout_gradient_with_fixed_mask():
    rng = np.random.default_rng(5)
    layer = Dropout(0.4)
    x = rng.normal(size=(6, 5))
    net = wrap(layer, (5,))
    fix_dropout_masks(net, x, rng)
    assert layer.fixed_mask.shape == x.shape
    assert set(np.unique(layer.fixed_mask)) == {0.0, 1 / 0.6}
    assert np.array_equal(layer.forward(x.copy(), True), x * layer.fixed_mask)
    check_layer(layer, x, True, rng)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradient(training):
    rng = np.random.default_rng(6)
    layer = BatchNorm()

    def set_params(layer, rng):
        layer.params["gamma"][...] = rng.uniform(0.5, 2.0, 4)
        layer.params["beta"][...] = rng.normal(size=4)
        layer.buffers["running_mean"][...] = rng.normal(size=4)
        layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, 4)

    check_layer(layer, rng.normal(loc=1.0, scale=2.0, size=(8, 4)), training, rng, set_params=set_params)


@pytest.mark.parametrize("name", ["prelu", "maxout"])
def test_dense_then_activation_gradient(name):
    """Dense followed by PReLU or Maxout, as build_mlp stacks them, through net.theta."""
    rng = np.random.default_rng(7)
    net = build_mlp(3, [4], 2, activation=name, maxout_pieces=3, dtype=np.float64, seed=7)
    net.theta[...] = rng.normal(size=net.theta.shape)
    x = rng.normal(size=(6, 3))
    R = rng.normal(size=(6, 2))

    def f():
        return float(np.sum(net.forward(x, True) * R))

    net.forward(x, True)
    net.backward(R.copy())
    assert rel_error(net.grad, numeric_grad(f, net.theta)) < TOL


def test_whole_network_gradient():
    """Dropout with fixed masks, batch norm in training mode, prelu and maxout in one net."""
    rng = np.random.default_rng(8)
    n = 10
    net = build_mlp(4, [5, 3], 3, activation=["prelu", "maxout"], dropout=0.25, batch_norm=True,
                    maxout_pieces=2, dtype=np.float64, seed=8)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "BatchNorm", "PReLU", "Dropout", "Dense", "BatchNorm", "Maxout",
                     "Dropout", "Dense"]
    net.theta[...] = rng.uniform(0.3, 1.5, net.theta.shape) * rng.choice([-1.0, 1.0], net.theta.shape)
    x = rng.normal(size=(n, 4))
    fix_dropout_masks(net, x, rng)
    assert [layer.fixed_mask.shape for layer in net.layers if isinstance(layer, Dropout)] == [(n, 5), (n, 3)]
    y = rng.integers(0, 3, n)
    loss = make_loss("cross_entropy")

    def f():
        return loss.forward(net.forward(x, True), y)

    f()
    net.backward(loss.backward())
    analytic = net.grad.copy()
    assert np.count_nonzero(analytic) > 0.8 * analytic.size
    assert rel_error(analytic, numeric_grad(f, net.theta)) < TOL
    # the shared checker agrees array by array, and on the input gradient too
    # (a dense bias right before batch norm has an exact gradient of 0: batch norm subtracts it
    # again, so there only absolute smallness means anything)
    checks = check_network(net, loss, x, y)
    assert len(checks) == 1 + len(net.entries)
    before_bn = {net.names[i] for i, layer in enumerate(net.layers[:-1]) if isinstance(net.layers[i + 1], BatchNorm)}
    for c in checks:
        if c.param == "b" and c.layer in before_bn:
            assert abs(c.analytic) < 1e-12 and abs(c.numeric) < 1e-8, c
        else:
            assert c.passed(TOL), c
    assert sum(c.param == "b" and c.layer in before_bn for c in checks) == 2


# ---------------------------------------------------------------- L1 / L2 penalties

class NoStep:
    """An optimizer that leaves the parameters alone, so repeated steps see the same theta."""

    lr = 0.0

    def step(self):
        pass


def penalty_setup(l1, l2):
    rng = np.random.default_rng(9)
    net = build_mlp(3, [4], 2, activation="prelu", batch_norm=True, dtype=np.float64, seed=9)
    # every parameter at least 0.1 from 0: |w| has a kink there
    net.theta[...] = rng.uniform(0.1, 1.0, net.theta.shape) * rng.choice([-1.0, 1.0], net.theta.shape)
    trainer = Trainer(net, make_loss("mse"), NoStep(), task="regression", l1=l1, l2=l2)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))

    def loss_at():
        trainer.partial = [0.0, 0.0, 0]
        trainer._train_batch({"x": x, "y": y}, 0)
        return trainer.partial[0] / trainer.partial[2]

    return net, loss_at


@pytest.mark.parametrize("l1,l2", [(0.0, 0.3), (0.2, 0.0), (0.2, 0.3)])
def test_penalty_gradient_matches_finite_differences(l1, l2):
    net, loss_at = penalty_setup(l1, l2)
    loss_at()
    analytic = net.grad.copy()
    assert rel_error(analytic, numeric_grad(loss_at, net.theta)) < TOL


def test_penalty_reaches_weights_only():
    l1, l2 = 0.2, 0.3
    net, loss_at = penalty_setup(l1, l2)
    loss_at()
    with_penalty = {(i, k): g.copy() for i, layer in enumerate(net.layers) for k, g in layer.grads.items()}
    plain_net, plain_loss_at = penalty_setup(0.0, 0.0)
    plain_loss_at()
    assert np.array_equal(plain_net.theta, net.theta)
    for i, layer in enumerate(plain_net.layers):
        for k, g in layer.grads.items():
            diff = with_penalty[(i, k)] - g
            if isinstance(layer, Dense) and k == "W":
                p = layer.params["W"]
                np.testing.assert_allclose(diff, l2 * p + l1 * np.sign(p), rtol=1e-12, atol=1e-14)
            else:  # biases, batch-norm gamma/beta, prelu alpha
                assert np.array_equal(diff, np.zeros_like(diff)), (type(layer).__name__, k)
