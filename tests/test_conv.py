"""Convolution and pooling: finite-difference gradients, PyTorch equality, dtypes, reused
buffers, and a small CNN that learns the digits.

Gradient checks run in float64 through ``nncli.nn.gradcheck`` (central differences, relative
error below 1e-6) on odd image sizes, every stride and padding kind, with and without
overlapping pooling windows. Max-pool inputs come from ``spread`` so no window ties.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nncli.nn import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    Network,
    Trainer,
    make_loss,
    make_optimizer,
)
from nncli.nn import conv as conv_module
from nncli.nn.activations import PReLU, ReLU
from nncli.nn.gradcheck import check_network, spread

SHAPES = [(1, 7, 5), (3, 7, 5)]  # one channel and several: Conv2D fills im2col differently
KERNELS = [(3, 3), (2, 3)]


def gradcheck(layers, input_shape, x, *, training=True, loss="mse", y=None, seed=0):
    """check_network on a float64 network of these layers (+ flatten) and a loss; all must pass."""
    layers = list(layers) + ([] if isinstance(layers[-1], (Flatten, Dense)) else [Flatten()])
    net = Network(layers, input_shape, dtype=np.float64, seed=seed)
    for layer in net.layers:  # biases away from 0, so their gradients are checked on a generic point
        if "b" in layer.params:
            layer.params["b"][...] = np.random.default_rng(seed + 1).normal(size=layer.params["b"].shape)
    if y is None:
        y = np.random.default_rng(seed + 2).normal(size=(len(x), net.output_shape[0]))
    checks = check_network(net, make_loss(loss), x, y, training=training)
    bad = [c for c in checks if not c.passed()]
    assert not bad, bad
    assert all(c.size for c in checks)
    return checks


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same", 1])
def test_conv2d_gradients(shape, kernel, stride, padding):
    rng = np.random.default_rng(sum(shape) + stride)
    x = rng.normal(size=(2, *shape))
    checks = gradcheck([Conv2D(4, kernel, stride=stride, padding=padding)], shape, x)
    assert [c.param for c in checks] == ["x", "W", "b"]


def test_conv2d_gradients_without_bias_and_rectangular_stride():
    x = np.random.default_rng(3).normal(size=(2, 3, 7, 5))
    checks = gradcheck([Conv2D(2, (3, 2), stride=(2, 1), padding=(1, 0), bias=False)], (3, 7, 5), x)
    assert [c.param for c in checks] == ["x", "W"]


POOLS = [(2, None, 0), (2, 1, 0), (3, 2, 1), (3, 1, 1), (2, 3, 0), ((2, 3), (1, 2), (1, 1)), (3, None, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pool,stride,padding", POOLS)
@pytest.mark.parametrize("make", [MaxPool2D, AvgPool2D, lambda *a: AvgPool2D(*a, count_include_pad=False)],
                         ids=["max", "avg", "avg-exclude-pad"])
def test_pool_gradients(make, shape, pool, stride, padding):
    x = spread(np.random.default_rng(len(shape) + pool if np.ndim(pool) == 0 else 9), (2, *shape))
    gradcheck([make(pool, stride, padding)], shape, x)


@pytest.mark.parametrize("training", [True, False])
def test_small_cnn_gradients(training):
    """conv -> batchnorm -> relu -> maxpool -> conv -> avgpool -> flatten -> dense, cross-entropy."""
    rng = np.random.default_rng(5)
    # no bias before batch norm: in training its gradient is exactly 0 (the batch mean absorbs it)
    layers = [Conv2D(4, 3, padding="same", bias=False), BatchNorm(), ReLU(), MaxPool2D(2),
              Conv2D(5, (2, 3), stride=1), AvgPool2D(2, stride=1), Flatten(), Dense(3)]
    net_checks = gradcheck(layers, (2, 9, 11), rng.normal(size=(4, 2, 9, 11)), training=training,
                           loss="cross_entropy", y=np.array([0, 2, 1, 2]))
    assert {c.layer for c in net_checks} == {"input", "conv2d0", "batchnorm0", "conv2d1", "dense0"}


def test_batchnorm_and_prelu_per_channel_gradients():
    rng = np.random.default_rng(6)
    layers = [BatchNorm(), PReLU(0.2)]
    checks = gradcheck(layers, (3, 5, 4), rng.normal(size=(3, 3, 5, 4)))
    assert [c.size for c in checks] == [180, 3, 3, 3]  # x, gamma, beta, alpha: one per channel


# ------------------------------------------------------------------ shapes and construction
@pytest.mark.parametrize("size,stride,kernel,pads", [
    ((7, 5), 1, 3, (1, 1, 1, 1)), ((7, 5), 2, 3, (1, 1, 1, 1)), ((8, 6), 2, 3, (0, 1, 0, 1)),
    ((8, 6), 1, 2, (0, 1, 0, 1)), ((7, 7), 3, 3, (1, 1, 1, 1)), ((5, 6), 2, 2, (0, 1, 0, 0)),
    ((5, 5), 3, 2, (0, 0, 0, 0))])
def test_same_padding_is_same_upper(size, stride, kernel, pads):
    conv = Conv2D(2, kernel, stride=stride, padding="same")
    out = conv.build((1, *size))
    assert out == (2, -(-size[0] // stride), -(-size[1] // stride))
    assert conv.pads == pads


def test_conv2d_layout_macs_and_init_fans():
    conv = Conv2D(64, 3, init="he_normal")
    net = Network([conv], (16, 10, 9), seed=0)
    assert conv.params["W"].shape == (64, 16, 3, 3) and conv.params["b"].shape == (64,)
    assert net.output_shape == (64, 8, 7) and conv.macs() == 64 * 16 * 9 * 8 * 7
    assert conv.params["W"].std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.03)
    xavier = Conv2D(64, 3, init="xavier_uniform")
    Network([xavier], (16, 10, 9), seed=0)
    limit = np.sqrt(6 / (16 * 9 + 64 * 9))
    assert np.abs(xavier.params["W"]).max() <= limit < 1.01 * np.abs(xavier.params["W"]).max()
    assert net.names == ["conv2d0"] and set(net.state_dict()) == {"conv2d0.W", "conv2d0.b"}
    assert conv.decay == ("W",) and MaxPool2D(2).kind == "maxpool2d" and AvgPool2D(2).kind == "avgpool2d"


@pytest.mark.parametrize("layers,shape,message", [
    ([Conv2D(2, 3)], (10,), "expects (channels, height, width)"),
    ([Conv2D(2, 5)], (1, 4, 8), "larger than the padded 4x8 image"),
    ([MaxPool2D(2, padding=2)], (1, 8, 8), "more than half"),
    ([Flatten(), Conv2D(2, 3)], (1, 4, 4), "expects (channels, height, width)"),
])
def test_bad_shapes_are_named(layers, shape, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Network(layers, shape)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        Conv2D(2, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be 'valid', 'same'"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="unknown initializer 'he'"):
        Conv2D(2, 3, init="he")
    with pytest.raises(ValueError, match="maxpool2d padding must be an int"):
        MaxPool2D(2, padding="same")


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima():
    pool = MaxPool2D(2, stride=1)
    Network([pool], (1, 3, 3), dtype=np.float64)
    pool.need_input_grad = True  # a network without parameters needs no gradient
    pool.forward(np.ones((1, 1, 3, 3)), True)
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    # each window's top-left entry wins; exactly one winner per window
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_frozen_conv_writes_no_gradient_and_first_conv_skips_dx():
    rng = np.random.default_rng(7)
    x, dout = rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(2, 3, 4, 4))
    net = Network([Conv2D(3, 3)], (2, 6, 6), dtype=np.float64)
    conv = net.layers[0]
    assert not conv.need_input_grad  # nothing before the first trainable layer needs dx
    conv.forward(x, True)
    assert conv.backward(dout.copy()) is None
    dW = conv.grads["W"].copy()
    conv.need_input_grad = True
    conv.forward(x, True)
    assert conv.backward(dout.copy()) is not None
    np.testing.assert_array_equal(conv.grads["W"], dW)
    net.freeze([0])
    net.grad[...] = 7.0
    conv.forward(x, True)
    conv.backward(dout.copy())
    assert np.all(net.grad == 7.0)


# ------------------------------------------------------------------ dtypes, buffers, determinism
def _cnn(dtype, seed=0, channels=3):
    layers = [Conv2D(4, 3, padding="same"), BatchNorm(), PReLU(), MaxPool2D(2), Conv2D(6, (2, 3), stride=2, padding=1),
              ReLU(), AvgPool2D(2, stride=1, padding=1), Flatten(), Dense(3)]
    return _every_gradient(Network(layers, (channels, 9, 7), dtype=dtype, seed=seed))


def _every_gradient(net):
    """Exercise every backward path, the first layer's dx too."""
    for layer in net.layers:
        layer.need_input_grad = True
    net._stop = 0
    return net


def _step(net, x, dout):
    """Forward and backward in training mode; (output, input gradient, parameter gradient), copied."""
    out = net.forward(x, training=True)
    d = dout
    for layer in reversed(net.layers):
        d = layer.backward(d)
    return out.copy(), d.copy(), net.grad.copy()


def test_float32_stays_float32_through_forward_and_backward():
    net = _cnn(np.float32)
    x = np.random.default_rng(8).normal(size=(5, 3, 9, 7)).astype(np.float32)
    a, seen = x, []
    for layer in net.layers:
        a = layer.forward(a, True)
        seen.append(a.dtype)
    d = np.ones_like(a)
    for layer in reversed(net.layers):
        d = layer.backward(d)
        seen.append(d.dtype)
    assert set(seen) == {np.dtype(np.float32)}
    assert net.grad.dtype == np.float32
    scratch = [a.dtype for layer in net.layers if hasattr(layer, "ws") for a in layer.ws.arrays.values()]
    assert scratch and set(scratch) <= {np.dtype(np.float32), np.dtype(np.uint8), np.dtype(bool)}


def test_reused_buffers_do_not_leak_between_batches():
    rng = np.random.default_rng(9)
    xa, xb, xs = (rng.normal(size=s) for s in [(6, 3, 9, 7), (6, 3, 9, 7), (4, 3, 9, 7)])
    da, db, ds = (rng.normal(size=(len(x), 3)) for x in (xa, xb, xs))
    net = _cnn(np.float64)
    first = _step(net, xa, da.copy())
    _step(net, xb, db.copy())
    small = _step(net, xs, ds.copy())  # a smaller batch: views of the first rows of each buffer
    again = _step(net, xa, da.copy())
    for u, v in zip(first, again):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(small, _step(_cnn(np.float64), xs, ds.copy())):  # as a network that never saw xa
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("channels", [1, 3])
def test_evaluation_in_chunks_matches_one_pass(monkeypatch, channels):
    rng = np.random.default_rng(10)
    x, dout = rng.normal(size=(7, channels, 9, 7)), rng.normal(size=(7, 3))
    net = _cnn(np.float64, channels=channels)
    whole = net.forward(x).copy()
    d_expected = _backward_all(net, dout.copy())
    monkeypatch.setattr(conv_module, "EVAL_CHUNK", 200)  # a few samples per chunk
    chunked = net.forward(x)
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-13)
    # backward after a chunked evaluation rebuilds the columns it did not keep
    for u, v in zip(_backward_all(net, dout.copy()), d_expected):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)
    assert net.layers[0].kept is False


def _backward_all(net, d):
    for layer in reversed(net.layers):
        d = layer.backward(d)
    return d.copy(), net.grad.copy()


def test_copies_carry_no_scratch_and_compute_the_same():
    x = np.random.default_rng(14).normal(size=(4, 3, 9, 7))
    d = np.random.default_rng(15).normal(size=(4, 3))
    net = _cnn(np.float64)
    first = _step(net, x, d.copy())
    twin = _every_gradient(copy.deepcopy(net))  # a pickle round trip, as far as the layers can tell
    assert all(not layer.ws.arrays for layer in twin.layers if hasattr(layer, "ws"))
    for u, v in zip(first, _step(twin, x, d.copy())):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("channels", [1, 3])
def test_empty_batch(channels):
    net = Network([Conv2D(4, 3, padding="same"), ReLU(), MaxPool2D(2), Conv2D(3, 3), AvgPool2D(2), Flatten(),
                   Dense(2)], (channels, 9, 9), dtype=np.float32)
    assert net.predict(np.zeros((0, channels, 9, 9))).shape == (0, 2)
    net.forward(np.zeros((0, channels, 9, 9), np.float32), training=True)
    net.grad[...] = 1
    net.backward(np.zeros((0, 2), np.float32))
    assert not net.grad.any()  # a sum over no samples


def test_same_input_same_bits():
    x = np.random.default_rng(11).normal(size=(4, 3, 9, 7)).astype(np.float32)
    d = np.random.default_rng(12).normal(size=(4, 3)).astype(np.float32)
    one, two = _step(_cnn(np.float32, seed=3), x, d.copy()), _step(_cnn(np.float32, seed=3), x, d.copy())
    for u, v in zip(one, two):
        assert u.tobytes() == v.tobytes()


# ------------------------------------------------------------------ PyTorch
TORCH_CASES = [  # (layer, torch function of (x, W, b)), on (C, 7, 5) images
    *[(lambda s=s, k=k, p=p: Conv2D(4, k, stride=s, padding=p),
       lambda x, W, b, s=s, p=p: torch_conv(x, W, b, s, p)) for s in (1, 2, 3) for k in KERNELS for p in ("valid", 1)],
    *[(lambda k=k: Conv2D(4, k, padding="same"),
       lambda x, W, b: F().conv2d(x, W, b, padding="same")) for k in KERNELS],
    *[(lambda p=p, s=s, q=q: MaxPool2D(p, s, q), lambda x, W, b, p=p, s=s, q=q: F().max_pool2d(x, p, s, q))
      for p, s, q in POOLS],
    *[(lambda p=p, s=s, q=q, i=i: AvgPool2D(p, s, q, count_include_pad=i),
       lambda x, W, b, p=p, s=s, q=q, i=i: F().avg_pool2d(x, p, s, q, count_include_pad=i))
      for p, s, q in POOLS for i in (True, False)],
]


def F():
    import torch.nn.functional

    return torch.nn.functional


def torch_conv(x, W, b, stride, padding):
    import torch

    pads = (padding,) * 4 if isinstance(padding, int) else (0,) * 4
    return F().conv2d(torch.nn.functional.pad(x, pads), W, b, stride=stride)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("channels", [1, 3])  # one channel: im2col's transposed fill
@pytest.mark.parametrize("case", range(len(TORCH_CASES)))
def test_matches_pytorch(case, channels):
    import torch
    make, reference = TORCH_CASES[case]
    layer = make()
    rng = np.random.default_rng(case)
    x = rng.normal(size=(3, channels, 7, 5))
    if isinstance(layer, MaxPool2D) and case % 2:  # integer inputs: ties, broken as PyTorch does
        x = np.round(x)
    Network([layer], (channels, 7, 5), dtype=np.float64, seed=case)
    layer.need_input_grad = True
    for name, p in layer.params.items():
        p[...] = rng.normal(size=p.shape)
    out = layer.forward(x, True)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout.copy())
    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in layer.params.items()}
    ref = reference(xt, pt.get("W"), pt.get("b"))
    (ref * torch.tensor(dout)).sum().backward()
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    for k, t in pt.items():
        np.testing.assert_allclose(layer.grads[k], t.grad.numpy(), rtol=0, atol=1e-10)


def test_small_cnn_matches_pytorch_through_flatten():
    """Flatten reads channels-last memory in PyTorch's (C, H, W) order: weights copy straight over."""
    import torch
    nn = torch.nn
    rng = np.random.default_rng(16)
    net = Network([Conv2D(4, 3, padding=1), ReLU(), MaxPool2D(2), Conv2D(5, (2, 3)), Flatten(), Dense(3)],
                  (2, 9, 8), dtype=np.float64, seed=1)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, (2, 3)),
                          nn.Flatten(), nn.Linear(5 * 3 * 2, 3)).double()
    with torch.no_grad():
        for mine, theirs in zip([net.layers[0], net.layers[3], net.layers[5]], [model[0], model[3], model[5]]):
            mine.params["b"][...] = rng.normal(size=mine.params["b"].shape)
            theirs.weight[...] = torch.tensor(mine.params["W"].T if isinstance(mine, Dense) else mine.params["W"])
            theirs.bias[...] = torch.tensor(mine.params["b"])
    x = rng.normal(size=(3, 2, 9, 8))
    loss = make_loss("cross_entropy")
    out = net.forward(x, training=True)
    loss.forward(out, np.array([0, 2, 1]))
    net.backward(loss.backward())
    ref = model(torch.tensor(x))
    torch.nn.functional.cross_entropy(ref, torch.tensor([0, 2, 1])).backward()
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=0, atol=1e-10)
    for mine, theirs in zip([net.layers[0], net.layers[3], net.layers[5]], [model[0], model[3], model[5]]):
        dW = mine.grads["W"].T if isinstance(mine, Dense) else mine.grads["W"]
        np.testing.assert_allclose(dW, theirs.weight.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(mine.grads["b"], theirs.bias.grad.numpy(), rtol=0, atol=1e-10)


def test_batchnorm_and_prelu_per_channel_match_pytorch():
    import torch
    rng = np.random.default_rng(13)
    x, dout = rng.normal(size=(4, 3, 5, 6)), rng.normal(size=(4, 3, 5, 6))
    net = Network([BatchNorm(), PReLU(0.2)], (3, 5, 6), dtype=np.float64)
    bn, prelu = net.layers
    for p in (bn.params["gamma"], bn.params["beta"], prelu.params["alpha"]):
        p[...] = rng.normal(size=3)
    out = prelu.forward(bn.forward(x, True), True)
    dx = bn.backward(prelu.backward(dout.copy()))
    tbn, tprelu = torch.nn.BatchNorm2d(3).double(), torch.nn.PReLU(3).double()
    with torch.no_grad():
        tbn.weight[...], tbn.bias[...] = torch.tensor(bn.params["gamma"]), torch.tensor(bn.params["beta"])
        tprelu.weight[...] = torch.tensor(prelu.params["alpha"])
    xt = torch.tensor(x, requires_grad=True)
    ref = tprelu(tbn(xt))
    (ref * torch.tensor(dout)).sum().backward()
    close = dict(rtol=0, atol=1e-10)
    np.testing.assert_allclose(out, ref.detach().numpy(), **close)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **close)
    np.testing.assert_allclose(bn.grads["gamma"], tbn.weight.grad.numpy(), **close)
    np.testing.assert_allclose(bn.grads["beta"], tbn.bias.grad.numpy(), **close)
    np.testing.assert_allclose(prelu.grads["alpha"], tprelu.weight.grad.numpy(), **close)
    np.testing.assert_allclose(bn.buffers["running_mean"], tbn.running_mean.numpy(), **close)
    np.testing.assert_allclose(bn.buffers["running_var"], tbn.running_var.numpy(), **close)


# ------------------------------------------------------------------ learning
def test_small_cnn_learns_digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    net = Network([Conv2D(16, 3, padding="same", init="he_uniform"), ReLU(), MaxPool2D(2), Flatten(), Dense(10)],
                  (1, 8, 8), dtype=np.float32, seed=0)
    opt = make_optimizer("adam", net, lr=5e-3)
    trainer = Trainer(net, make_loss("cross_entropy"), opt, epochs=15, batch_size=32, rng=np.random.default_rng(1))
    trainer.fit(Xtr, ytr)
    accuracy = float(np.mean(net.predict(Xte).argmax(axis=1) == yte))
    assert accuracy >= 0.97, accuracy
