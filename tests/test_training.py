"""The training loop: early stopping, the non-finite guard, exact resume through a checkpoint
file, and sample weights."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler

from nncli.checkpoint import decode_checkpoint, encode_checkpoint
from nncli.errors import NncliError
from nncli.nn import Diverged
from nncli.nn.losses import LOSSES, make_loss
from nncli.nn.network import build_mlp
from nncli.nn.optim import make_optimizer
from nncli.nn.schedules import make_schedule
from nncli.nn.train import Callback, EarlyStopping, Trainer

# ---------------------------------------------------------------- early stopping

class Snapshots(Callback):
    def __init__(self):
        self.theta, self.state = {}, {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.theta[logs["epoch"]] = trainer.net.theta.copy()
        self.state[logs["epoch"]] = trainer.net.state_dict()


def _early_stopping_run(patience, epochs=40, restore_best=True):
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=1)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y_val = (y + 1) % 3  # learning the training labels makes the validation loss worse
    rng = np.random.default_rng(0)
    net = build_mlp(6, [16], 3, batch_norm=True, seed=0)
    snaps = Snapshots()
    trainer = Trainer(net, make_loss("cross_entropy"), make_optimizer("adam", net, lr=0.01),
                      epochs=epochs, batch_size=32, rng=rng, callbacks=[snaps],
                      early_stopping=EarlyStopping("val_loss", patience=patience, restore_best=restore_best))
    history = trainer.fit(X, y, X, y_val)
    return net, trainer, history, snaps


@pytest.mark.parametrize("patience", [1, 3])
def test_early_stopping_patience_and_best_weights(patience):
    net, trainer, history, snaps = _early_stopping_run(patience)
    losses = [h["val_loss"] for h in history]
    best_epoch = int(np.argmin(losses)) + 1
    assert len(history) == best_epoch + patience < 40
    assert all(v >= losses[best_epoch - 1] for v in losses[best_epoch:])
    assert trainer.stop_reason.endswith(f"; restored the weights of epoch {best_epoch}")
    assert np.array_equal(net.theta, snaps.theta[best_epoch])
    assert not np.array_equal(net.theta, snaps.theta[len(history)])
    for key, arr in snaps.state[best_epoch].items():
        assert np.array_equal(net.state_dict()[key], arr), key  # running statistics too


def test_early_stopping_can_keep_the_last_weights():
    net, trainer, history, snaps = _early_stopping_run(2, restore_best=False)
    best_epoch = int(np.argmin([h["val_loss"] for h in history])) + 1
    assert len(history) == best_epoch + 2 < 40 and trainer.stop_reason is not None
    assert "restored" not in trainer.stop_reason
    assert np.array_equal(net.theta, snaps.theta[len(history)])
    assert not np.array_equal(net.theta, snaps.theta[best_epoch])
    assert trainer.best[1] == best_epoch  # still known, for the summary


def test_no_early_stop_when_patience_is_long():
    _, trainer, history, _ = _early_stopping_run(patience=100, epochs=8)
    assert len(history) == 8 and trainer.stop_reason is None


# ---------------------------------------------------------------- non-finite guard

def test_huge_learning_rate_raises_diverged():
    X, y = make_regression(n_samples=200, n_features=5, noise=1, random_state=0)
    X = X * 100  # unscaled
    rng = np.random.default_rng(0)
    net = build_mlp(5, [], 1, seed=0)
    trainer = Trainer(net, make_loss("mse"), make_optimizer("sgd", net, lr=1e6), epochs=50,
                      batch_size=32, task="regression", rng=rng)
    with np.errstate(all="ignore"), pytest.raises(Diverged) as info:
        trainer.fit(X, y)
    err = info.value
    assert err.epoch >= 1 and 1 <= err.batch <= 7
    assert f"epoch {err.epoch}" in str(err) and f"batch {err.batch}" in str(err)
    # the core knows nothing of exit codes: the runner turns this into DivergedError (exit 3)
    assert isinstance(err, ArithmeticError) and not isinstance(err, NncliError)


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
    net = build_mlp(6, [12, 8], 3, dropout=0.2, batch_norm=True, seed=0)
    opt = make_optimizer("adam", net, lr=0.02)
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
        np.savez(path, **encode_checkpoint(trainer.state_dict()))
        with np.load(path, allow_pickle=False) as f:
            state = decode_checkpoint(dict(f), path)
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
    net = build_mlp(4, [5], 3, activation="tanh", dtype=np.float64, seed=0)
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
    net = build_mlp(4, [5], 3, activation="tanh", dtype=np.float64, seed=1)
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
        net = build_mlp(4, [6], 3, dtype=np.float64, seed=0)
        Trainer(net, make_loss("cross_entropy"), make_optimizer("adam", net, lr=0.01), epochs=5,
                batch_size=None, rng=rng).fit(X, y, sample_weight=w)
        return net.theta

    theta = fit(X, y, w)
    np.testing.assert_allclose(fit(X2, y2, w), theta, rtol=1e-12, atol=1e-14)
    assert not np.allclose(fit(X, y, None), theta)
