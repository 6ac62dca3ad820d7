"""The numeric core end to end: the notes' worked example, real datasets, unknown names,
layers' modes, freezing, state and transfer, and numerically extreme logits. The training
loop's own behaviour is in test_training.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit, logsumexp
from sklearn.datasets import (
    load_digits,
    load_iris,
    make_classification,
    make_regression,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nncli import modelfiles, runs
from nncli.errors import NncliError
from nncli.nn.activations import ACTIVATIONS, make_activation
from nncli.nn.layers import BatchNorm, Dense, Dropout
from nncli.nn.losses import LOSSES, make_loss
from nncli.nn.network import Network, build_mlp
from nncli.nn.optim import make_optimizer
from nncli.nn.train import Trainer
from nncli.transfer import load_transfer


def split_scaled(X, y, test_size=0.2, dtype=np.float32):
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr).astype(dtype), scaler.transform(Xte).astype(dtype), ytr, yte


# ---------------------------------------------------------------- the notes' worked example

def test_worked_backprop_example():
    net = build_mlp(2, [1], 1, activation="sigmoid", output="sigmoid", bias=False, dtype=np.float64)
    hidden, out_layer = net.layers[0], net.layers[2]
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "Sigmoid", "Dense", "Sigmoid"]
    hidden.params["W"][...] = [[0.4], [-0.2]]
    out_layer.params["W"][...] = [[0.1]]
    x, y = np.array([[0.1, 0.3]]), np.array([[1.0]])

    y_hat = net.forward(x, training=True)
    h = float((x @ hidden.params["W"])[0, 0])
    a = float(net.layers[1].a[0, 0])
    assert h == pytest.approx(-0.02, abs=1e-12)
    assert a == pytest.approx(0.495, abs=5e-4)
    assert float(y_hat[0, 0]) == pytest.approx(0.512, abs=5e-4)

    loss = make_loss("sse")
    E = loss.forward(y_hat, y)
    assert E == pytest.approx(0.5 * (1 - 0.512) ** 2, abs=5e-4)
    net.backward(loss.backward())
    # dE/dw_out = -delta_o a and dE/dw_hidden = -delta_h x
    delta_o = -float(out_layer.grads["W"][0, 0]) / a
    assert delta_o == pytest.approx(0.122, abs=5e-4)
    assert -float(out_layer.grads["W"][0, 0]) * 0.5 == pytest.approx(0.0302, abs=5e-4)
    delta_h = -hidden.grads["W"][:, 0] / x[0]
    np.testing.assert_allclose(delta_h, [0.003, 0.003], atol=5e-4)
    assert delta_h[0] == pytest.approx(delta_o * 0.1 * a * (1 - a), rel=1e-12)

    # one SGD step with lr 0.5 through the trainer moves the output weight by +0.0302
    opt = make_optimizer("sgd", net, lr=0.5)
    trainer = Trainer(net, loss, opt, epochs=1, batch_size=None, shuffle=False, task="regression")
    before = net.theta.copy()
    history = trainer.fit(x, y)
    assert float(out_layer.params["W"][0, 0]) - 0.1 == pytest.approx(0.0302, abs=5e-4)
    # hidden weights move by eta delta_h x = 0.5 * 0.003 * (0.1, 0.3)
    np.testing.assert_allclose(hidden.params["W"][:, 0] - [0.4, -0.2], 0.5 * delta_h * x[0], rtol=1e-12)
    assert not np.array_equal(before, net.theta)
    assert history[0]["loss"] == pytest.approx(E, rel=1e-12)


# ---------------------------------------------------------------- real datasets

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return split_scaled(X, y)


def train_digits(data, epochs=30):
    Xtr, Xte, ytr, yte = data
    rng = np.random.default_rng(0)
    net = build_mlp(64, [128], 10, activation="relu", dtype=np.float32, seed=0)
    opt = make_optimizer("adam", net, lr=1e-3)
    trainer = Trainer(net, make_loss("cross_entropy"), opt, epochs=epochs, batch_size=64, rng=rng)
    trainer.fit(Xtr, ytr)
    return net, opt, trainer


@pytest.fixture(scope="module")
def digits_runs(digits):
    return train_digits(digits), train_digits(digits)


def test_digits_reaches_97_percent(digits, digits_runs):
    (net, _, trainer), _ = digits_runs
    Xtr, Xte, ytr, yte = digits
    assert trainer.evaluate(Xte, yte)["accuracy"] >= 0.97
    assert len(trainer.history) == 30


def test_digits_same_seed_same_weights(digits_runs):
    (a, _, _), (b, _, _) = digits_runs
    assert np.array_equal(a.theta, b.theta)


def test_digits_float32_stays_float32(digits, digits_runs):
    (net, opt, _), _ = digits_runs
    assert net.theta.dtype == np.float32 and net.grad.dtype == np.float32
    assert net.predict(digits[1]).dtype == np.float32
    state = opt.state_dict()
    assert set(state) == {"t", "lr", "m", "v"}
    assert state["m"].dtype == np.float32 and state["v"].dtype == np.float32
    assert state["m"].shape == net.theta.shape


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_through_every_layer(name):
    rng = np.random.default_rng(0)
    net = build_mlp(5, [6, 4], 3, activation=name, dropout=0.2, batch_norm=True, dtype=np.float32, seed=0)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    for layer in net.layers:
        x = layer.forward(x, True)
        assert x.dtype == np.float32, type(layer).__name__
    loss = make_loss("cross_entropy")
    loss.forward(x, rng.integers(0, 3, 8))
    d = loss.backward()
    for layer in reversed(net.layers[1:]):
        d = layer.backward(d)
        assert d.dtype == np.float32, type(layer).__name__
    assert net.grad.dtype == np.float32


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_float32_loss_gradient(name):
    rng = np.random.default_rng(0)
    loss = make_loss(name)
    out = rng.normal(size=(6, 3)).astype(np.float32)
    if loss.fused_head == "softmax":
        y = rng.integers(0, 3, 6)
    else:
        y = rng.integers(0, 2, (6, 3)).astype(np.float32)
    w = rng.uniform(0, 2, 6).astype(np.float32)
    assert math.isfinite(loss.forward(out, y, w))
    assert loss.backward().dtype == np.float32


def test_zero_hidden_mse_matches_least_squares():
    X, y = make_regression(n_samples=200, n_features=5, noise=1, random_state=0)
    A = np.c_[X, np.ones(len(X))]
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    rng = np.random.default_rng(0)
    net = build_mlp(5, [], 1, dtype=np.float64, seed=0)
    opt = make_optimizer("sgd", net, lr=0.4)
    trainer = Trainer(net, make_loss("mse"), opt, epochs=200, batch_size=None, task="regression", rng=rng)
    history = trainer.fit(X, y)
    got = np.r_[net.layers[0].params["W"][:, 0], net.layers[0].params["b"]]
    assert np.max(np.abs(got - coef)) < 1e-4
    assert history[-1]["r2"] > 0.99


def test_zero_hidden_softmax_regression_on_iris():
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = split_scaled(X, y, test_size=0.3)
    rng = np.random.default_rng(0)
    net = build_mlp(4, [], 3, seed=0)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense"]
    opt = make_optimizer("adam", net, lr=0.05)
    trainer = Trainer(net, make_loss("cross_entropy"), opt, epochs=60, batch_size=16, rng=rng)
    trainer.fit(Xtr, ytr)
    assert trainer.evaluate(Xte, yte)["accuracy"] >= 0.9


# ---------------------------------------------------------------- unknown names

@pytest.mark.parametrize("make, message", [
    (lambda: make_loss("mes"), r"unknown loss 'mes': expected one of binary_cross_entropy, .* \(did you mean 'mse'\?\)"),
    (lambda: make_activation("relux"), r"unknown activation 'relux': expected one of .* \(did you mean 'relu'\?\)"),
    (lambda: Dense(4, init="he_norml"), r"unknown initializer 'he_norml': .* \(did you mean 'he_normal'\?\)"),
    (lambda: build_mlp(3, [4], 2, output="softmx"), r"unknown output head 'softmx': .*'softmax'"),
], ids=["loss", "activation", "initializer", "output head"])
def test_core_registries_raise_value_error_with_the_choices(make, message):
    # the core speaks Python: a ValueError, not one of the tool's user errors
    with pytest.raises(ValueError, match=message) as info:
        make()
    assert not isinstance(info.value, NncliError)


# ---------------------------------------------------------------- dropout and batch norm

def _dropout(rate, width, seed=0, dtype=np.float64):
    """A dropout layer inside a network, which gives it its generator."""
    layer = Dropout(rate)
    Network([layer], (width,), dtype=dtype, seed=seed)
    return layer


def test_dropout_identity_at_evaluation():
    layer = _dropout(0.5, 3)
    x = np.random.default_rng(1).normal(size=(4, 3))
    assert np.array_equal(layer.forward(x, training=False), x)
    assert np.array_equal(_dropout(0.0, 3).forward(x, training=True), x)


def test_dropout_is_inverted_and_keeps_the_mean():
    rate = 0.3
    layer = _dropout(rate, 100)
    out = layer.forward(np.ones((1000, 100)), training=True)
    assert set(np.unique(out)) == {0.0, 1 / (1 - rate)}
    assert abs(out.mean() - 1.0) < 0.01
    assert abs((out == 0).mean() - rate) < 0.01


def test_dropout_mask_comes_from_the_generator():
    x = np.ones((5, 4))
    layer = _dropout(0.3, 4, seed=7)
    assert isinstance(layer.rng, np.random.Generator)
    expected_rng = np.random.default_rng()
    expected_rng.bit_generator.state = layer.rng.bit_generator.state
    out = layer.forward(x, training=True)
    expected = (expected_rng.random((5, 4)) >= 0.3) / 0.7
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    # the same seed gives the same stream, another seed another one
    other = _dropout(0.3, 4, seed=8).forward(np.ones((50, 4)), training=True)
    again = _dropout(0.3, 4, seed=7).forward(np.ones((50, 4)), training=True)
    first = _dropout(0.3, 4, seed=7).forward(np.ones((50, 4)), training=True)
    assert np.array_equal(again, first)
    assert not np.array_equal(other, again)


def test_every_dropout_layer_has_its_own_stream():
    net = build_mlp(4, [6, 6], 2, dropout=0.5, seed=3)
    drops = [layer for layer in net.layers if isinstance(layer, Dropout)]
    assert len(drops) == 2 and drops[0].rng is not drops[1].rng
    a = drops[0].forward(np.ones((20, 6), np.float32), True)
    b = drops[1].forward(np.ones((20, 6), np.float32), True)
    assert not np.array_equal(a, b)
    assert set(net.random_state()) == {"dropout0", "dropout1"}


def _bn(n=3):
    layer = BatchNorm()
    Network([layer], (n,), dtype=np.float64)
    assert layer.params["gamma"].shape == (n,) and layer.buffers["running_var"].shape == (n,)
    layer.params["gamma"][...] = [1.0, 2.0, 0.5]
    layer.params["beta"][...] = [0.0, -1.0, 3.0]
    return layer


def test_batchnorm_training_uses_batch_statistics():
    layer = _bn()
    x = np.random.default_rng(0).normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 1.0], size=(64, 3))
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), [0.0, -1.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), np.array([1.0, 2.0, 0.5]) * np.sqrt(x.var(0) / (x.var(0) + 1e-5)),
                               rtol=1e-10)


def test_batchnorm_evaluation_uses_running_statistics():
    layer = _bn()
    layer.buffers["running_mean"][...] = [1.0, 2.0, 3.0]
    layer.buffers["running_var"][...] = [4.0, 1.0, 0.25]
    x = np.random.default_rng(0).normal(size=(5, 3))
    out = layer.forward(x, training=False)
    expected = (x - [1.0, 2.0, 3.0]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-5) * [1.0, 2.0, 0.5] + [0.0, -1.0, 3.0]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # evaluation treats rows independently and leaves the running statistics alone
    np.testing.assert_allclose(layer.forward(x[:1], training=False), expected[:1], rtol=1e-12)
    np.testing.assert_array_equal(layer.buffers["running_mean"], [1.0, 2.0, 3.0])


def test_batchnorm_running_statistics_move():
    layer = _bn()
    x = np.random.default_rng(0).normal(loc=[5.0, -2.0, 0.0], size=(10, 3))
    layer.forward(x, training=True)
    # momentum 0.1 from (0, 1), unbiased batch variance
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)
    for _ in range(300):
        layer.forward(x, training=True)
    np.testing.assert_allclose(layer.buffers["running_mean"], x.mean(0), rtol=1e-9)
    np.testing.assert_allclose(layer.buffers["running_var"], x.var(0, ddof=1), rtol=1e-9)


# ---------------------------------------------------------------- freezing

def test_freeze_keeps_frozen_parameters_fixed():
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=0)
    rng = np.random.default_rng(0)
    net = build_mlp(5, [8, 6], 3, activation="prelu", batch_norm=True, seed=0)
    values = net.state_dict()
    net.freeze_blocks(1)
    assert all(np.array_equal(values[k], v) for k, v in net.state_dict().items())  # re-layout keeps values
    frozen = [layer for layer in net.layers[:3]]
    assert [type(layer).__name__ for layer in frozen] == ["Dense", "BatchNorm", "PReLU"]
    assert all(layer.frozen for layer in frozen) and not any(layer.frozen for layer in net.layers[3:])

    n_frozen = 5 * 8 + 8 + 8 + 8 + 8  # W, b, gamma, beta, alpha of the first block
    theta, grad = net.trainable
    assert theta.size == net.theta.size - n_frozen and grad.size == theta.size
    for layer in net.layers:
        for arr in layer.params.values():
            assert np.shares_memory(arr, theta) != layer.frozen
    w, _ = net.weights
    assert w.size == 8 * 6 + 6 * 3  # the W of the two trainable Dense layers only
    # freezing the same layers by name or index gives the same layout
    by_name = build_mlp(5, [8, 6], 3, activation="prelu", batch_norm=True, seed=0)
    by_name.freeze(["dense0", "batchnorm0", 2])
    assert by_name.layout == net.layout and by_name.n_frozen == net.n_frozen == n_frozen
    assert np.array_equal(by_name.theta, net.theta)

    opt = make_optimizer("adam", net, lr=0.01)
    Trainer(net, make_loss("cross_entropy"), opt, epochs=3, batch_size=32, rng=rng).fit(X, y)
    after = net.state_dict()
    for key, before in values.items():
        changed = not np.array_equal(before, after[key])
        assert changed == (not key.startswith(("dense0.", "batchnorm0.", "prelu0."))), key


# ---------------------------------------------------------------- state

def _state_net(seed):
    return build_mlp(4, [6, 5], 3, activation=["prelu", "relu"], dropout=0.3, batch_norm=True,
                     seed=seed)


def test_state_dict_round_trip():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    net = _state_net(0)
    opt = make_optimizer("adam", net, lr=0.01)
    Trainer(net, make_loss("cross_entropy"), opt, epochs=2, batch_size=8, rng=rng).fit(X, y)
    state = net.state_dict()
    assert "batchnorm0.running_mean" in state and "prelu0.alpha" in state
    other = _state_net(1)
    assert not np.array_equal(other.predict(X), net.predict(X))
    other.load_state_dict(state)
    assert np.array_equal(other.predict(X), net.predict(X))
    assert np.array_equal(other.theta, net.theta)
    state["dense0.W"] += 1  # a copy, not a view
    assert not np.array_equal(state["dense0.W"], net.layers[0].params["W"])


def test_load_state_dict_strict_mismatch():
    state = _state_net(0).state_dict()
    wider = build_mlp(4, [6, 5], 4, activation=["prelu", "relu"], dropout=0.3, batch_norm=True)
    with pytest.raises(ValueError, match="dense2.W"):
        wider.load_state_dict(state)
    missing = dict(state)
    del missing["batchnorm1.running_var"]
    with pytest.raises(ValueError, match="batchnorm1.running_var"):
        _state_net(1).load_state_dict(missing)
    with pytest.raises(TypeError):
        wider.load_state_dict(state, strict=False)  # strict only: partial loading is transfer's job


def _saved_run(tmp_path, net):
    run_dir = tmp_path / "source"
    run_dir.mkdir()
    (run_dir / runs.CONFIG_FILE).write_text("name: source\n")
    modelfiles.save_model(run_dir, {f"net.{k}": v for k, v in net.state_dict().items()})
    return run_dir


def test_transfer_loads_the_matching_layers_and_keeps_a_new_head_fresh(tmp_path):
    state = _state_net(0).state_dict()
    run_dir = _saved_run(tmp_path, _state_net(0))
    target = build_mlp(4, [6, 5], 4, activation=["prelu", "relu"], dropout=0.3, batch_norm=True, seed=5)
    fresh = target.state_dict()
    info = load_transfer(target, str(run_dir), [], tmp_path)
    assert info["loaded"] == ["dense0", "batchnorm0", "prelu0", "dense1", "batchnorm1"]
    assert info["reinitialized"] == ["dense2"]
    after = target.state_dict()
    for key, arr in after.items():
        expected = fresh[key] if key.startswith("dense2.") else state[key]
        assert np.array_equal(arr, expected), key


def test_transfer_matches_whole_layers(tmp_path):
    """A layer whose arrays match only in part (W but no bias) keeps its fresh start whole."""
    source = build_mlp(4, [6], 3, batch_norm=True, bias=False, seed=0)
    run_dir = _saved_run(tmp_path, source)
    target = build_mlp(4, [6], 3, batch_norm=True, bias=True, seed=5)
    fresh = target.state_dict()
    info = load_transfer(target, str(run_dir), [], tmp_path)
    assert info["loaded"] == ["batchnorm0"] and info["reinitialized"] == ["dense0", "dense1"]
    for key, arr in target.state_dict().items():
        expected = source.state_dict()[key] if key.startswith("batchnorm0.") else fresh[key]
        assert np.array_equal(arr, expected), key


# ---------------------------------------------------------------- extreme logits

def _logits(dtype):
    shapes = st.tuples(st.integers(1, 5), st.integers(2, 6))
    return arrays(dtype, shapes, elements=st.floats(-1e4, 1e4, width=64 if dtype == np.float64 else 32))


@settings(max_examples=60, deadline=None, database=None)
@given(z=_logits(np.float64), data=st.data())
def test_softmax_cross_entropy_extreme_logits(z, data):
    y = data.draw(arrays(np.int64, len(z), elements=st.integers(0, z.shape[1] - 1)))
    loss = make_loss("cross_entropy")
    value = loss.forward(z.copy(), y)
    lse = logsumexp(z, axis=1)
    rows = np.arange(len(z))
    reference = float(np.mean(lse - z[rows, y]))
    assert math.isfinite(value)
    assert value == pytest.approx(reference, rel=1e-12, abs=1e-12 * (1 + np.abs(z).max()))
    grad = loss.backward()
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)
    onehot = np.zeros_like(z)
    onehot[rows, y] = 1
    np.testing.assert_allclose(grad, (np.exp(z - lse[:, None]) - onehot) / len(z), atol=1e-12)


@settings(max_examples=60, deadline=None, database=None)
@given(z=_logits(np.float32), data=st.data())
def test_softmax_cross_entropy_extreme_logits_float32(z, data):
    y = data.draw(arrays(np.int64, len(z), elements=st.integers(0, z.shape[1] - 1)))
    loss = make_loss("cross_entropy")
    value = loss.forward(z.copy(), y)
    z64 = z.astype(np.float64)
    reference = float(np.mean(logsumexp(z64, axis=1) - z64[np.arange(len(z)), y]))
    assert math.isfinite(value)
    assert value == pytest.approx(reference, rel=1e-5, abs=1e-6 * (1 + np.abs(z64).max()))
    grad = loss.backward()
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)


@settings(max_examples=60, deadline=None, database=None)
@given(z=_logits(np.float64), data=st.data())
def test_sigmoid_bce_extreme_logits(z, data):
    y = data.draw(arrays(np.int64, z.shape, elements=st.integers(0, 1))).astype(np.float64)
    loss = make_loss("binary_cross_entropy")
    value = loss.forward(z.copy(), y)
    # -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] = log(1 + e^z) - y z
    reference = float(np.mean(np.logaddexp(0.0, z) - y * z))
    assert math.isfinite(value)
    assert value == pytest.approx(reference, rel=1e-12, abs=1e-12 * (1 + np.abs(z).max()))
    grad = loss.backward()
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, (expit(z) - y) / z.size, atol=1e-15)


def test_softmax_cross_entropy_rows_far_apart_take_the_per_row_path():
    """One row's logits a thousand below another's: shifting by the batch max would underflow
    the far row to exp(-1000) = 0, so that row must be shifted by its own max."""
    z = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1003.0]], dtype=np.float32)
    y = np.array([0, 2])
    loss = make_loss("cross_entropy")
    value = loss.forward(z, y)
    z64 = z.astype(np.float64)
    lse = z64.max(axis=1) + np.log(np.exp(z64 - z64.max(axis=1, keepdims=True)).sum(axis=1))
    assert value == pytest.approx(np.mean(lse - z64[[0, 1], y]), rel=1e-6)
    grad = loss.backward()
    p = np.exp(z64 - lse[:, None])
    p[[0, 1], y] -= 1
    np.testing.assert_allclose(grad, p / 2, atol=1e-6)
