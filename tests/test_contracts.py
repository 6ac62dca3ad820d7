"""The contracts everything else builds on: a new layer kind plugs in without touching nncli,
networks survive copies and pickles, optimizers never silently stop moving weights, every random
consumer has its own saved stream, and run files carry a format version."""

from __future__ import annotations

import copy
import csv
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from nncli import checkpoint, modelfiles, runs
from nncli.nn import (
    Dense,
    Dropout,
    Layer,
    Network,
    Trainer,
    build_mlp,
    make_loss,
    make_optimizer,
)
from nncli.nn.gradcheck import TOL, check_network, fix_dropout_masks

FIXTURES = Path(__file__).parent / "fixtures" / "v0_1_0"


# ---------------------------------------------------------------- a layer kind nncli does not have
class Scale(Layer):
    """y = s * x with one learned scalar s: written here only, plugged in through the contract."""

    kind = "scale"
    private_output = True

    def param_shapes(self):
        return {"s": (1,)}

    def init_params(self, rng):
        self.params["s"][...] = 1.5

    def forward(self, x, training=False):
        self.x = x
        return x * self.params["s"][0]

    def backward(self, dout):
        if not self.frozen:
            self.grads["s"][0] = np.vdot(dout, self.x)  # ds = sum(dout * x)
        return dout * self.params["s"][0] if self.need_input_grad else None


class Noise(Layer):
    """Adds N(0, 0.1) noise in training: a random layer nncli does not have."""

    kind = "noise"
    random = True

    def forward(self, x, training=False):
        return x + 0.1 * self.rng.standard_normal(x.shape, dtype=x.dtype) if training else x

    def backward(self, dout):
        return dout


def toy_net(dtype=np.float64, seed=0, noise=True):
    layers = [Dense(6), Scale(), Noise(), Dropout(0.2), Dense(3)] if noise else [Dense(6), Scale(), Dense(3)]
    return Network(layers, (4,), dtype=dtype, seed=seed)


def toy_data(n=40):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)


def test_a_new_layer_kind_passes_the_gradient_check():
    net = toy_net(noise=False)
    X, y = toy_data(8)
    checks = check_network(net, make_loss("cross_entropy"), X, y)
    assert {c.layer for c in checks} == {"input", "dense0", "scale0", "dense1"}
    assert all(c.error < TOL for c in checks), checks


def test_a_new_random_layer_with_dropout_passes_the_gradient_check_with_fixed_masks():
    net = toy_net()
    net.layers[2].random = False  # the check needs a fixed function: take the noise out
    net.layers[2].forward = lambda x, training=False: x
    X, y = toy_data(8)
    fix_dropout_masks(net, X, np.random.default_rng(0))
    assert all(c.passed() for c in check_network(net, make_loss("cross_entropy"), X, y))


def _trainer(net, epochs=4, callbacks=()):
    return Trainer(net, make_loss("cross_entropy"), make_optimizer("adam", net, lr=0.05), epochs=epochs,
                   batch_size=7, rng=np.random.default_rng(5), callbacks=callbacks)


class StopAfter:
    def __init__(self, batches):
        self.left = batches

    def on_train_begin(self, trainer): ...

    def on_batch_end(self, trainer, epoch, batch):
        self.left -= 1
        if self.left == 0:
            trainer.stop_training = True

    def on_epoch_end(self, trainer, epoch, logs): ...

    def on_train_end(self, trainer): ...


def test_new_random_layers_resume_bit_identically_through_a_checkpoint_file(tmp_path):
    X, y = toy_data()
    straight = _trainer(toy_net(np.float32))
    straight.fit(X, y)

    first = _trainer(toy_net(np.float32), callbacks=[StopAfter(9)])  # stops mid-epoch 2
    first.fit(X, y)
    assert first.epoch == 1 and first.batch == 3
    modelfiles.save_checkpoint(tmp_path, first.state_dict())
    state, name = modelfiles.load_checkpoint(tmp_path)
    assert name == runs.CHECKPOINT_FILE
    second = _trainer(toy_net(np.float32, seed=123))  # another seed: everything must come from the file
    second.load_state_dict(state)
    second.fit(X, y)
    assert np.array_equal(second.net.theta, straight.net.theta)
    assert second.history == [{**row, "seconds": second.history[i]["seconds"]} for i, row in enumerate(straight.history)]


def test_every_random_layer_has_its_own_stream():
    """Adding a random layer changes neither the initial weights nor another layer's draws."""
    a = Network([Dense(5), Dropout(0.5), Dense(2)], (3,), seed=7)
    b = Network([Dense(5), Dropout(0.5), Dense(2), Dropout(0.5)], (3,), seed=7)
    assert np.array_equal(a.layers[0].params["W"], b.layers[0].params["W"])
    x = np.ones((4, 5), np.float32)
    assert np.array_equal(a.layers[1].forward(x, True), b.layers[1].forward(x, True))
    assert set(b.random_state()) == {"dropout0", "dropout1"}


# ---------------------------------------------------------------- copies and pickles
def _trained():
    X, y = toy_data()
    trainer = _trainer(toy_net(np.float32), epochs=2)
    trainer.fit(X, y)
    return trainer, X, y


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["deepcopy", "pickle"])
def test_a_copied_trainer_learns_and_leaves_the_original_alone(clone):
    trainer, X, y = _trained()
    before = trainer.net.theta.copy()
    other = clone(trainer)
    for layer in other.net.layers:  # every view points into the copy's own vectors
        for name, arr in layer.params.items():
            assert np.shares_memory(arr, other.net.theta)
            assert not np.shares_memory(arr, trainer.net.theta)
        for arr in layer.grads.values():
            assert np.shares_memory(arr, other.net.grad)
    assert other.optimizer.source is other.net
    other.epochs = 3
    other.fit(X, y)
    assert np.array_equal(trainer.net.theta, before)
    assert not np.array_equal(other.net.theta, before)
    # and the copy continues exactly as the original would
    trainer.epochs = 3
    trainer.fit(X, y)
    assert np.array_equal(trainer.net.theta, other.net.theta)


def test_a_network_pickled_alone_predicts_the_same():
    trainer, X, _ = _trained()
    net = pickle.loads(pickle.dumps(trainer.net))
    assert np.array_equal(net.predict(X), trainer.net.predict(X))


def test_an_optimizer_built_before_freeze_refuses_to_step():
    net = build_mlp(4, [6], 3)
    opt = make_optimizer("adam", net, lr=0.1)
    net.freeze_blocks(1)
    with pytest.raises(RuntimeError, match="build the optimizer after freezing"):
        opt.step()


def test_an_optimizer_keeps_working_when_the_layout_is_rebuilt_unchanged():
    net = build_mlp(4, [6], 3)
    net.freeze_blocks(1)
    opt = make_optimizer("sgd", net, lr=0.1)
    net.freeze_blocks(1)  # the same layout, fresh vectors
    frozen = net.layers[0].params["W"].copy()
    net.grad[...] = 1.0
    before = net.theta.copy()
    opt.step()
    assert np.array_equal(net.layers[0].params["W"], frozen)
    assert np.all(net.trainable[0] != before[net.n_frozen:])


# ---------------------------------------------------------------- file formats
def test_model_and_checkpoint_files_carry_their_format(tmp_path):
    trainer, _, _ = _trained()
    modelfiles.save_checkpoint(tmp_path, trainer.state_dict())
    arrays = runs.load_npz(tmp_path / runs.CHECKPOINT_FILE)
    assert int(arrays["format"]) == checkpoint.CHECKPOINT_FORMAT


def test_a_newer_model_format_is_refused_with_its_version(tmp_path, nncli):
    run = tmp_path / "runs" / shutil.copytree(_fixture("iris010"), tmp_path / "runs" / "r").name
    arrays = runs.load_npz(run / runs.MODEL_FILE)
    runs.save_npz(run / runs.MODEL_FILE, {**arrays, "format": np.array(7)})
    result = nncli("evaluate", run, "--json")
    assert result.code == 4
    assert "model format 7 (written by a newer nncli)" in result.err and "upgrade nncli" in result.err
    assert len(result.err.strip().splitlines()) == 1


def _fixture(name: str) -> Path:
    return next(p for p in FIXTURES.iterdir() if p.name.endswith(f"-{name}"))


@pytest.mark.parametrize("name", ["iris010", "diabetes010", "bc010"])
def test_runs_written_by_0_1_0_still_evaluate_the_same(name, tmp_path, nncli):
    run = shutil.copytree(_fixture(name), tmp_path / _fixture(name).name)
    expected = json.loads((run / "expected_evaluate.json").read_text())
    result = nncli("evaluate", run, "--json")
    assert result.code == 0, result.err
    got = json.loads(result.out)
    for key, value in expected.items():
        if key in ("run",):
            continue
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        else:
            assert got[key] == value, key


def test_a_0_1_0_run_still_predicts_the_same(tmp_path, nncli):
    run = shutil.copytree(_fixture("iris010"), tmp_path / _fixture("iris010").name)
    result = nncli("predict", run, "--input", FIXTURES / "iris_features.csv")
    assert result.code == 0, result.err
    got = list(csv.reader(result.out.splitlines()))
    expected = list(csv.reader((run / "expected_predict.csv").read_text().splitlines()))
    assert got[0] == expected[0]
    for g, e in zip(got[1:], expected[1:]):
        assert g[0] == e[0]
        # probabilities are written with 6 decimals
        np.testing.assert_allclose([float(v) for v in g[1:]], [float(v) for v in e[1:]], rtol=0, atol=5e-7)


def test_resuming_a_0_1_0_run_is_refused_with_the_version(tmp_path, nncli):
    run = shutil.copytree(_fixture("iris010"), tmp_path / _fixture("iris010").name)
    result = nncli("train", "--resume", run)
    assert result.code == 4
    assert "checkpoint format 1 (written by nncli 0.1)" in result.err
    assert len(result.err.strip().splitlines()) == 1
