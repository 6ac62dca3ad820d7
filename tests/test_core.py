"""The numeric core end to end: the notes' worked example, real datasets, layers' modes,
freezing, state, early stopping, the non-finite guard, exact resume, sample weights and
numerically extreme logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit, logsumexp
from sklearn.datasets import load_digits, load_iris, make_classification, make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nncli.activations import ACTIVATIONS
from nncli.errors import DivergedError
from nncli.losses import LOSSES, make_loss
from nncli.model import BatchNorm, Dropout, build_mlp
from nncli.optim import make_optimizer
from nncli.schedules import make_schedule
from nncli.train import Callback, EarlyStopping, Trainer


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
    opt = make_optimizer("sgd", [net.trainable], 0.5)
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
    net = build_mlp(64, [128], 10, activation="relu", dtype=np.float32, rng=rng)
    opt = make_optimizer("adam", [net.trainable], 1e-3)
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
    assert all(arr.dtype == np.float32 for key, arr in opt.state_dict().items() if key[0].isdigit())


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_through_every_layer(name):
    rng = np.random.default_rng(0)
    net = build_mlp(5, [6, 4], 3, activation=name, dropout=0.2, batch_norm=True, dtype=np.float32, rng=rng)
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
    net = build_mlp(5, [], 1, dtype=np.float64, rng=rng)
    opt = make_optimizer("sgd", [net.trainable], 0.4)
    trainer = Trainer(net, make_loss("mse"), opt, epochs=200, batch_size=None, task="regression", rng=rng)
    history = trainer.fit(X, y)
    got = np.r_[net.layers[0].params["W"][:, 0], net.layers[0].params["b"]]
    assert np.max(np.abs(got - coef)) < 1e-4
    assert history[-1]["r2"] > 0.99


def test_zero_hidden_softmax_regression_on_iris():
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = split_scaled(X, y, test_size=0.3)
    rng = np.random.default_rng(0)
    net = build_mlp(4, [], 3, rng=rng)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense"]
    opt = make_optimizer("adam", [net.trainable], 0.05)
    trainer = Trainer(net, make_loss("cross_entropy"), opt, epochs=60, batch_size=16, rng=rng)
    trainer.fit(Xtr, ytr)
    assert trainer.evaluate(Xte, yte)["accuracy"] >= 0.9


# ---------------------------------------------------------------- dropout and batch norm

def test_dropout_identity_at_evaluation():
    layer = Dropout(0.5, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(4, 3))
    assert np.array_equal(layer.forward(x, training=False), x)
    assert np.array_equal(Dropout(0.0, np.random.default_rng(0)).forward(x, training=True), x)


def test_dropout_is_inverted_and_keeps_the_mean():
    rate = 0.3
    layer = Dropout(rate, np.random.default_rng(0))
    out = layer.forward(np.ones((1000, 100)), training=True)
    assert set(np.unique(out)) == {0.0, 1 / (1 - rate)}
    assert abs(out.mean() - 1.0) < 0.01
    assert abs((out == 0).mean() - rate) < 0.01


def test_dropout_mask_comes_from_the_generator():
    x = np.ones((5, 4))
    out = Dropout(0.3, np.random.default_rng(7)).forward(x, training=True)
    expected = (np.random.default_rng(7).random((5, 4)) >= 0.3) / 0.7
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    other = Dropout(0.3, np.random.default_rng(8)).forward(np.ones((50, 4)), training=True)
    again = Dropout(0.3, np.random.default_rng(7)).forward(np.ones((50, 4)), training=True)
    assert not np.array_equal(other, again)


def _bn(n=3):
    net = build_mlp(n, [], n, batch_norm=False, dtype=np.float64)
    layer = BatchNorm(n)
    from nncli.model import Network
    Network([layer], dtype=np.float64)
    layer.params["gamma"][...] = [1.0, 2.0, 0.5]
    layer.params["beta"][...] = [0.0, -1.0, 3.0]
    del net
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
    net = build_mlp(5, [8, 6], 3, activation="prelu", batch_norm=True, rng=rng)
    values = net.state_dict()
    net.freeze(1)
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

    opt = make_optimizer("adam", [net.trainable], 0.01)
    Trainer(net, make_loss("cross_entropy"), opt, epochs=3, batch_size=32, rng=rng).fit(X, y)
    after = net.state_dict()
    for key, before in values.items():
        changed = not np.array_equal(before, after[key])
        assert changed == (not key.startswith(("dense0.", "batchnorm0.", "prelu0."))), key


# ---------------------------------------------------------------- state

def _state_net(seed):
    return build_mlp(4, [6, 5], 3, activation=["prelu", "relu"], dropout=0.3, batch_norm=True,
                     rng=np.random.default_rng(seed))


def test_state_dict_round_trip():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    net = _state_net(0)
    opt = make_optimizer("adam", [net.trainable], 0.01)
    Trainer(net, make_loss("cross_entropy"), opt, epochs=2, batch_size=8, rng=rng).fit(X, y)
    state = net.state_dict()
    assert "batchnorm0.running_mean" in state and "prelu0.alpha" in state
    other = _state_net(1)
    assert not np.array_equal(other.predict(X), net.predict(X))
    assert other.load_state_dict(state) == []
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
    target = build_mlp(4, [6, 5], 4, activation=["prelu", "relu"], dropout=0.3, batch_norm=True)
    skipped = target.load_state_dict(state, strict=False)
    assert skipped == ["dense2.W", "dense2.b"]
    assert np.array_equal(target.layers[0].params["W"], state["dense0.W"])


# ---------------------------------------------------------------- early stopping

class Snapshots(Callback):
    def __init__(self):
        self.theta, self.state = {}, {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.theta[logs["epoch"]] = trainer.net.theta.copy()
        self.state[logs["epoch"]] = trainer.net.state_dict()


def _early_stopping_run(patience, epochs=40):
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=1)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y_val = (y + 1) % 3  # learning the training labels makes the validation loss worse
    rng = np.random.default_rng(0)
    net = build_mlp(6, [16], 3, batch_norm=True, rng=rng)
    snaps = Snapshots()
    trainer = Trainer(net, make_loss("cross_entropy"), make_optimizer("adam", [net.trainable], 0.01),
                      epochs=epochs, batch_size=32, rng=rng, callbacks=[snaps],
                      early_stopping=EarlyStopping("val_loss", patience=patience))
    history = trainer.fit(X, y, X, y_val)
    return net, trainer, history, snaps


@pytest.mark.parametrize("patience", [1, 3])
def test_early_stopping_patience_and_best_weights(patience):
    net, trainer, history, snaps = _early_stopping_run(patience)
    losses = [h["val_loss"] for h in history]
    best_epoch = int(np.argmin(losses)) + 1
    assert len(history) == best_epoch + patience < 40
    assert all(v >= losses[best_epoch - 1] for v in losses[best_epoch:])
    assert trainer.stop_reason is not None
    assert np.array_equal(net.theta, snaps.theta[best_epoch])
    assert not np.array_equal(net.theta, snaps.theta[len(history)])
    for key, arr in snaps.state[best_epoch].items():
        assert np.array_equal(net.state_dict()[key], arr), key  # running statistics too


def test_no_early_stop_when_patience_is_long():
    _, trainer, history, _ = _early_stopping_run(patience=100, epochs=8)
    assert len(history) == 8 and trainer.stop_reason is None


# ---------------------------------------------------------------- non-finite guard

def test_huge_learning_rate_raises_diverged():
    X, y = make_regression(n_samples=200, n_features=5, noise=1, random_state=0)
    X = X * 100  # unscaled
    rng = np.random.default_rng(0)
    net = build_mlp(5, [], 1, rng=rng)
    trainer = Trainer(net, make_loss("mse"), make_optimizer("sgd", [net.trainable], 1e6), epochs=50,
                      batch_size=32, task="regression", rng=rng)
    with np.errstate(all="ignore"), pytest.raises(DivergedError) as info:
        trainer.fit(X, y)
    err = info.value
    assert err.epoch >= 1 and 1 <= err.batch <= 7
    assert f"epoch {err.epoch}" in str(err)
    assert err.exit_code == 3


# ---------------------------------------------------------------- exact resume

class StopAt(Callback):
    """Stop after batch ``batch`` of epoch ``epoch`` (0-based), or at the end of the epoch."""

    def __init__(self, epoch, batch=None):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (self.epoch, self.batch):
            trainer.stop_training = True

    def on_epoch_end(self, trainer, epoch, logs):
        if self.batch is None and epoch == self.epoch:
            trainer.stop_training = True


@pytest.fixture(scope="module")
def resume_data():
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X[:100], y[:100], X[100:], y[100:]  # 100 training samples: 7 batches of 16 (last has 4)


def _resume_trainer(early_patience, callbacks=()):
    rng = np.random.default_rng(0)
    net = build_mlp(6, [12, 8], 3, dropout=0.2, batch_norm=True, rng=rng)
    opt = make_optimizer("adam", [net.trainable], 0.02)
    sched = make_schedule("plateau", 0.02, 6, patience=0, factor=0.5, threshold=0.05)
    # min_delta 0.03 makes early stopping fire within the 6 epochs (after epoch 4)
    es = EarlyStopping("val_loss", patience=early_patience, min_delta=0.03) if early_patience else None
    return Trainer(net, make_loss("cross_entropy"), opt, sched, epochs=6, batch_size=16, rng=rng,
                   early_stopping=es, callbacks=callbacks)


def _keys(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def _run_with_stops(data, stops, tmp_path, early_patience=None):
    """Stop at each point in turn, save the state to .npz, resume in fresh objects."""
    trainer = _resume_trainer(early_patience, [StopAt(*stops[0])] if stops else [])
    trainer.fit(*data)
    for i in range(1, len(stops) + 1):
        if not trainer.stop_training:  # training ended before this stop point
            break
        path = tmp_path / f"state{i}.npz"
        np.savez(path, **trainer.state_dict())
        with np.load(path, allow_pickle=False) as f:
            state = dict(f)
        trainer = _resume_trainer(early_patience, [StopAt(*stops[i])] if i < len(stops) else [])
        trainer.load_state_dict(state)
        trainer.fit(*data)
    return trainer


@pytest.fixture(scope="module")
def straight(resume_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("straight")
    return {p: _run_with_stops(resume_data, [], tmp, p) for p in (None, 1)}


@pytest.mark.parametrize("stops", [
    [(0, None)], [(2, None)], [(4, None)],  # at the end of epochs 1, 3, 5
    [(0, 3)], [(2, 6)], [(3, 0)],  # mid-epoch, after the last batch, after the first
    [(1, 2), (1, 5), (3, None), (4, 4)],  # several stops in one run
])
@pytest.mark.parametrize("early", [None, 1])
def test_resume_is_bit_identical(resume_data, straight, tmp_path, stops, early):
    ref = straight[early]
    assert len(ref.history) >= 2
    resumed = _run_with_stops(resume_data, stops, tmp_path, early)
    assert np.array_equal(resumed.net.theta, ref.net.theta)
    assert _keys(resumed.history) == _keys(ref.history)
    assert resumed.optimizer.lr == ref.optimizer.lr
    for key, arr in ref.net.state_dict().items():
        assert np.array_equal(resumed.net.state_dict()[key], arr), key


def test_resume_exercises_the_schedule(straight):
    lrs = [h["lr"] for h in straight[None].history]
    assert len(set(lrs)) > 1  # the plateau schedule cut the rate, so its state matters


def test_resume_at_the_epoch_early_stopping_fires(resume_data, straight, tmp_path):
    ref = straight[1]
    fired = len(ref.history)
    assert ref.stop_reason is not None and fired < 6
    resumed = _run_with_stops(resume_data, [(fired - 1, None)], tmp_path, early_patience=1)
    assert _keys(resumed.history) == _keys(ref.history)
    assert np.array_equal(resumed.net.theta, ref.net.theta)


# ---------------------------------------------------------------- sample weights

def _weighted_data(loss, rng, n=8, k=3):
    x = rng.normal(size=(n, 4))
    if loss.fused_head == "softmax":
        y = rng.integers(0, k, n)
    elif loss.fused_head == "sigmoid":
        y = rng.integers(0, 2, (n, k)).astype(np.float64)
    else:
        y = rng.normal(size=(n, k))
    return x, y


def _grad(net, loss, x, y, w):
    value = loss.forward(net.forward(x, True), y, w)
    net.backward(loss.backward())
    return value, net.grad.copy()


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_zero_sample_weight_removes_the_sample(name):
    rng = np.random.default_rng(0)
    loss = make_loss(name)
    net = build_mlp(4, [5], 3, activation="tanh", dtype=np.float64, rng=rng)
    x, y = _weighted_data(loss, rng)
    w = rng.uniform(0.5, 2.0, len(x))
    w[2] = 0.0
    value, grad = _grad(net, loss, x, y, w)
    x2, y2 = x.copy(), y.copy()
    x2[2] = 100 * rng.normal(size=4)
    y2[2] = y[3]
    value2, grad2 = _grad(net, loss, x2, y2, w)
    assert value2 == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(grad2, grad, rtol=1e-13, atol=1e-15)
    # and the weights do matter
    _, unweighted = _grad(net, loss, x, y, None)
    assert not np.allclose(unweighted, grad)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_weight_two_equals_a_duplicate(name):
    """The loss is sum_i w_i l_i / batch (sse: sum_i w_i l_i), so weight 2 == the sample twice."""
    rng = np.random.default_rng(1)
    loss = make_loss(name)
    net = build_mlp(4, [5], 3, activation="tanh", dtype=np.float64, rng=rng)
    x, y = _weighted_data(loss, rng)
    n = len(x)
    w = np.ones(n)
    w[4] = 2.0
    value_w, grad_w = _grad(net, loss, x, y, w)
    value_d, grad_d = _grad(net, loss, np.r_[x, x[4:5]], np.r_[y, y[4:5]], None)
    ratio = 1.0 if name == "sse" else (n + 1) / n
    assert value_w == pytest.approx(value_d * ratio, rel=1e-12)
    np.testing.assert_allclose(grad_w, grad_d * ratio, rtol=1e-10, atol=1e-14)


def test_fit_with_zero_weights_ignores_those_samples():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    w = np.where(np.arange(60) % 4 == 0, 0.0, 1.0)
    X2, y2 = X.copy(), y.copy()
    X2[w == 0] = 50 * rng.normal(size=(15, 4))
    y2[w == 0] = (y[w == 0] + 1) % 3

    def fit(X, y, w):
        rng = np.random.default_rng(0)
        net = build_mlp(4, [6], 3, dtype=np.float64, rng=rng)
        Trainer(net, make_loss("cross_entropy"), make_optimizer("adam", [net.trainable], 0.01), epochs=5,
                batch_size=None, rng=rng).fit(X, y, sample_weight=w)
        return net.theta

    theta = fit(X, y, w)
    np.testing.assert_allclose(fit(X2, y2, w), theta, rtol=1e-12, atol=1e-14)
    assert not np.allclose(fit(X, y, None), theta)


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
