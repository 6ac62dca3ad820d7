"""Optimizers and schedules checked against steps worked out by hand.

Every optimizer starts from p = [1, -2] and sees the gradients G1 = [0.5, -1] then
G2 = [0.25, 2]. The arithmetic is written out in the comments; the expected values are
plain numbers, never another implementation. If torch is installed the optimizers it
shares are also compared with torch.optim over several steps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nncli.nn.optim import OPTIMIZERS, Lookahead, make_optimizer
from nncli.nn.schedules import SCHEDULES, make_schedule

P0 = [1.0, -2.0]
G1 = [0.5, -1.0]
G2 = [0.25, 2.0]
S2, S3 = math.sqrt(2.0), math.sqrt(3.0)


def run(name, grads, p0=P0, **hyper):
    """p after one step per gradient in ``grads``, from an optimizer built by class."""
    p = np.array(p0, np.float64)
    g = np.zeros_like(p)
    opt = OPTIMIZERS[name]((p, g), **hyper)
    out = []
    for grad in grads:
        g[...] = grad
        opt.step()
        out.append(p.copy())
    return out


def close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- optimizers, by hand
# name -> (hyper-parameters, [p after step 1, p after step 2, ...])
HAND = {}

# p <- p - lr g, lr = 0.1
# step 1: [1 - 0.05, -2 + 0.1]        = [0.95, -1.9]
# step 2: [0.95 - 0.025, -1.9 - 0.2]  = [0.925, -2.1]
HAND["sgd"] = (dict(lr=0.1), [[0.95, -1.9], [0.925, -2.1]])

# v <- 0.9 v + g;  p <- p - 0.1 v
# step 1: v = [0.5, -1]                                   p = [0.95, -1.9]
# step 2: v = [0.45 + 0.25, -0.9 + 2] = [0.7, 1.1]        p = [0.95 - 0.07, -1.9 - 0.11] = [0.88, -2.01]
HAND["momentum"] = (dict(lr=0.1, momentum=0.9), [[0.95, -1.9], [0.88, -2.01]])

# v <- 0.9 v + g;  p <- p - 0.1 (g + 0.9 v)
# step 1: v = [0.5, -1];  g + 0.9 v = 1.9 g = [0.95, -1.9]          p = [0.905, -1.81]
# step 2: v = [0.7, 1.1];  g + 0.9 v = [0.25 + 0.63, 2 + 0.99] = [0.88, 2.99]
#         p = [0.905 - 0.088, -1.81 - 0.299] = [0.817, -2.109]
HAND["nesterov"] = (dict(lr=0.1, momentum=0.9), [[0.905, -1.81], [0.817, -2.109]])

# G <- G + g^2;  p <- p - 0.1 g / sqrt(G)   (eps = 0)
# step 1: G = [0.25, 1];  g / sqrt(G) = [1, -1]                     p = [0.9, -1.9]
# step 2: G = [0.3125, 5];  g / sqrt(G) = [0.25 / sqrt(0.3125), 2 / sqrt(5)] = [1, 2] / sqrt(5)
#         p = [0.9 - 0.1 / sqrt(5), -1.9 - 0.2 / sqrt(5)]
HAND["adagrad"] = (dict(lr=0.1, eps=0.0),
                   [[0.9, -1.9], [0.9 - 0.1 / math.sqrt(5), -1.9 - 0.2 / math.sqrt(5)]])

# v <- 0.5 v + 0.5 g^2;  p <- p - 0.1 g / sqrt(v)   (rho = 0.5, eps = 0)
# step 1: v = [0.125, 0.5];  g / sqrt(v) = [sqrt(2), -sqrt(2)]       p = [1 - 0.1 sqrt2, -2 + 0.1 sqrt2]
# step 2: v = [0.0625 + 0.03125, 0.25 + 2] = [0.09375, 2.25]
#         g / sqrt(v) = [0.25 / sqrt(0.09375), 2 / 1.5] = [sqrt(2/3), 4/3]
HAND["rmsprop"] = (dict(lr=0.1, rho=0.5, eps=0.0),
                   [[1 - 0.1 * S2, -2 + 0.1 * S2],
                    [1 - 0.1 * S2 - 0.1 * math.sqrt(2 / 3), -2 + 0.1 * S2 - 0.1 * 4 / 3]])

# Adam with betas (0.5, 0.5), eps = 0, lr = 0.1
# step 1: m = 0.5 g = [0.25, -0.5], v = 0.5 g^2 = [0.125, 0.5]; 1 - b^1 = 0.5 for both
#         m_hat = g, v_hat = g^2, step = 0.1 g / |g| = [0.1, -0.1]            p = [0.9, -1.9]
# step 2: m = [0.125 + 0.125, -0.25 + 1] = [0.25, 0.75]; v = [0.0625 + 0.03125, 0.25 + 2] = [0.09375, 2.25]
#         1 - b^2 = 0.75 for both: m_hat = [1/3, 1], v_hat = [0.125, 3]
#         m_hat / sqrt(v_hat) = [(1/3) / sqrt(1/8), 1 / sqrt(3)] = [sqrt(8/9), 1/sqrt(3)]
ADAM = dict(lr=0.1, betas=(0.5, 0.5), eps=0.0)
HAND["adam"] = (ADAM, [[0.9, -1.9], [0.9 - 0.1 * math.sqrt(8 / 9), -1.9 - 0.1 / S3]])

# AdamW, same Adam step, weight_decay 0.5: first p <- p (1 - 0.1 * 0.5) = 0.95 p, the gradient untouched
# step 1: 0.95 p = [0.95, -1.9];  minus [0.1, -0.1]                       p = [0.85, -1.8]
# step 2: 0.95 p = [0.8075, -1.71];  minus [0.1 sqrt(8/9), 0.1 / sqrt(3)]
HAND["adamw"] = (dict(ADAM, weight_decay=0.5),
                 [[0.85, -1.8], [0.8075 - 0.1 * math.sqrt(8 / 9), -1.71 - 0.1 / S3]])

# AMSGrad: as Adam, with v replaced by its running maximum
# step 1: vmax = v = [0.125, 0.5]                                          p = [0.9, -1.9]
# step 2: v = [0.09375, 2.25], vmax = [0.125, 2.25]; v_hat = vmax / 0.75 = [1/6, 3]
#         m_hat / sqrt(v_hat) = [(1/3) / sqrt(1/6), 1/sqrt(3)] = [sqrt(2/3), 1/sqrt(3)]
HAND["amsgrad"] = (ADAM, [[0.9, -1.9], [0.9 - 0.1 * math.sqrt(2 / 3), -1.9 - 0.1 / S3]])

# NAdam with betas (0.8, 0.5), eps = 0, lr = 0.1 and momentum_decay psi chosen so that
# 0.96^psi = 0.5: mu_t = 0.8 (1 - 0.5 * 0.5^t) gives mu_1 = 0.6, mu_2 = 0.7, mu_3 = 0.75
# step 1: prod = mu_1 = 0.6; m = 0.2 g = [0.1, -0.2]; v = 0.5 g^2; denom = sqrt(v / 0.5) = |g| = [0.5, 1]
#         p -= 0.1 (1 - 0.6) / (1 - 0.6) g / denom           = 0.1 sign(g)
#         p -= 0.1 * 0.7 / (1 - 0.6 * 0.7) m / denom          = (0.07 / 0.58) * 0.2 sign(g)
# step 2: prod = 0.42; m = 0.8 [0.1, -0.2] + 0.2 [0.25, 2] = [0.13, 0.24]
#         v = [0.09375, 2.25]; denom = sqrt(v / 0.75) = [sqrt(0.125), sqrt(3)]
#         p -= 0.1 (1 - 0.7) / (1 - 0.42) g / denom           = (0.03 / 0.58) [0.25 / sqrt(0.125), 2 / sqrt(3)]
#         p -= 0.1 * 0.75 / (1 - 0.42 * 0.75) m / denom       = (0.075 / 0.685) [0.13 / sqrt(0.125), 0.24 / sqrt(3)]
_n1 = 0.1 + 0.014 / 0.58
_n2 = [(0.03 / 0.58) * 0.25 / math.sqrt(0.125) + (0.075 / 0.685) * 0.13 / math.sqrt(0.125),
       (0.03 / 0.58) * 2 / S3 + (0.075 / 0.685) * 0.24 / S3]
HAND["nadam"] = (dict(lr=0.1, betas=(0.8, 0.5), eps=0.0, momentum_decay=math.log(0.5) / math.log(0.96)),
                 [[1 - _n1, -2 + _n1], [1 - _n1 - _n2[0], -2 + _n1 - _n2[1]]])

# RAdam with betas (0.5, 0.9): rho_1 = 1 and rho_2 = (1 + 3 * 0.9) / (1 + 0.9) < 5, so both steps
# are the un-rectified p <- p - lr m_hat
# step 1: m = 0.5 g, m_hat = g = [0.5, -1]                                p = [0.95, -1.9]
# step 2: m = [0.25, 0.75], m_hat = m / 0.75 = [1/3, 1]                   p = [0.95 - 0.1/3, -2.0]
# (the rectified branch is checked in test_radam_rectified_step)
HAND["radam"] = (dict(lr=0.1, betas=(0.5, 0.9), eps=0.0), [[0.95, -1.9], [0.95 - 0.1 / 3, -2.0]])

# AdaBound with betas (0.5, 0.5), eps = 0, lr = 0.1, final_lr = 0.15, gamma = 1
# step 1: bounds [0.15 (1 - 1/2), 0.15 (1 + 1)] = [0.075, 0.3]
#         step_size = 0.1 sqrt(0.5) / 0.5 = 0.1 sqrt2; / sqrt(v) = / [sqrt(0.125), sqrt(0.5)] = [0.4, 0.2]
#         clipped [0.3, 0.2]; times m = [0.25, -0.5]: [0.075, -0.1]         p = [0.925, -1.9]
# step 2: bounds [0.15 (1 - 1/3), 0.15 (1 + 1/2)] = [0.1, 0.225]
#         step_size = 0.1 sqrt(0.75) / 0.75 = 0.11547; / sqrt([0.09375, 2.25]) = [0.37712, 0.07698]
#         clipped [0.225, 0.1]; times m = [0.25, 0.75]: [0.05625, 0.075]   p = [0.86875, -1.975]
ADABOUND = dict(lr=0.1, betas=(0.5, 0.5), eps=0.0, final_lr=0.15, gamma=1.0)
HAND["adabound"] = (ADABOUND, [[0.925, -1.9], [0.86875, -1.975]])

# SWATS in its Adam phase is the paper's Adam step (eps after the root, without PyTorch's
# rescaling; with eps = 0 the two agree): the same two steps as adam. The switch test does not
# pass at step 2 (see test_swats_switches_to_sgd_with_the_learned_rate for the numbers).
HAND["swats"] = (ADAM, HAND["adam"][1])


def test_every_optimizer_has_a_hand_worked_test():
    assert set(HAND) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(HAND))
def test_optimizer_steps_by_hand(name):
    hyper, expected = HAND[name]
    got = run(name, [G1, G2][:len(expected)], **hyper)
    for step, (g, e) in enumerate(zip(got, expected), 1):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15, err_msg=f"step {step}")


def test_sgd_momentum_and_nesterov_are_the_momentum_optimizers():
    # sgd takes PyTorch's momentum and nesterov; "momentum" and "nesterov" are sgd with momentum 0.9
    for name, hyper in (("momentum", dict(momentum=0.9)), ("nesterov", dict(momentum=0.9, nesterov=True))):
        got = run("sgd", [G1, G2], lr=0.1, **hyper)
        for step, (g, e) in enumerate(zip(got, HAND[name][1]), 1):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15, err_msg=f"{name} step {step}")
        close(run(name, [G1, G2], lr=0.1)[1], HAND[name][1][1])  # 0.9 is their default
    p, g = np.array(P0), np.zeros(2)
    with pytest.raises(ValueError, match="momentum"):
        OPTIMIZERS["sgd"]((p, g), lr=0.1, nesterov=True)  # nesterov without momentum


# name -> {hyper-parameter: default}: PyTorch's defaults where PyTorch has the knob
DEFAULTS = {
    "sgd": dict(lr=1e-3, momentum=0.0, nesterov=False, weight_decay=0.0),
    "momentum": dict(lr=1e-3, momentum=0.9, nesterov=False, weight_decay=0.0),
    "nesterov": dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.0),
    "adagrad": dict(lr=1e-2, eps=1e-10, weight_decay=0.0),
    "rmsprop": dict(lr=1e-2, rho=0.99, eps=1e-8, weight_decay=0.0),
    "adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "adamw": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2),
    "amsgrad": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "nadam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3),
    "radam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "adabound": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, final_lr=0.1, gamma=1e-3),
    "swats": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-9, weight_decay=0.0, switch_tol=1e-3),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_defaults(name):
    assert set(DEFAULTS) == set(OPTIMIZERS)
    opt = OPTIMIZERS[name]((np.array(P0), np.zeros(2)))
    for key, value in DEFAULTS[name].items():
        assert getattr(opt, key) == value, key


def test_adam_eps_is_added_after_the_square_root():
    # eps = 1, betas (0.5, 0.5): step 1 denominator = sqrt(v_hat) + 1 = |g| + 1 = [1.5, 2]
    # p = [1 - 0.1 * 0.5 / 1.5, -2 + 0.1 * 1 / 2] = [1 - 1/30, -1.95]
    (p1,) = run("adam", [G1], lr=0.1, betas=(0.5, 0.5), eps=1.0)
    close(p1, [1 - 1 / 30, -1.95])


def test_radam_rectified_step():
    # b1 = 0.5, b2 = 0.9, eps = 0, lr = 0.1, starting at t = 5 with m = g and v = g^2, so that
    # with g = [0.2, -0.4] step 6 keeps m = g and v = g^2.
    # t = 6: 0.9^6 = 0.531441, 1 - 0.9^6 = 0.468559; 1 - 0.5^6 = 0.984375
    # rho_inf = 2 / 0.1 - 1 = 19;  rho_6 = 19 - 2 * 6 * 0.531441 / 0.468559 = 5.3895 > 5
    # rect = sqrt((rho_6 - 4)(rho_6 - 2) 19 / ((19 - 4)(19 - 2) rho_6))
    # p -= 0.1 * (m / 0.984375) * rect * sqrt(0.468559) / sqrt(v) = 0.1 sign(g) rect sqrt(0.468559) / 0.984375
    rho6 = 19 - 12 * 0.531441 / 0.468559
    rect = math.sqrt((rho6 - 4) * (rho6 - 2) * 19 / (15 * 17 * rho6))
    step = 0.1 * rect * math.sqrt(0.468559) / 0.984375
    p = np.array(P0)
    g = np.array([0.2, -0.4])
    opt = OPTIMIZERS["radam"]((p, g), lr=0.1, betas=(0.5, 0.9), eps=0.0)
    opt.t = 5
    opt.state["m"][...] = g
    opt.state["v"][...] = g * g
    opt.step()
    close(p, [1 - step, -2 + step])


def test_adabound_final_lr_follows_the_learning_rate():
    # continuing the hand example above with lr halved to 0.05 before step 3 and G3 = [0.25, 2]:
    # final_lr = 0.15 * 0.05 / 0.1 = 0.075; bounds [0.075 (1 - 1/4), 0.075 (1 + 1/3)] = [0.05625, 0.1]
    # m = 0.5 [0.25, 0.75] + 0.5 [0.25, 2] = [0.25, 1.375]; v = 0.5 [0.09375, 2.25] + 0.5 [0.0625, 4]
    #   = [0.078125, 3.125]; 1 - 0.5^3 = 0.875
    # step_size = 0.05 sqrt(0.875) / 0.875 = 0.053452; / sqrt(v) = [0.19124, 0.03024] -> [0.1, 0.05625]
    # p = [0.86875 - 0.1 * 0.25, -1.975 - 0.05625 * 1.375] = [0.84375, -2.05234375]
    p = np.array(P0)
    g = np.zeros(2)
    opt = OPTIMIZERS["adabound"]((p, g), **ADABOUND)
    for grad, lr in [(G1, 0.1), (G2, 0.1), (G2, 0.05)]:
        opt.lr = lr
        g[...] = grad
        opt.step()
    close(p, [0.84375, -2.05234375])


def test_weight_decay_coupled_versus_decoupled():
    # coupled (sgd): g <- g + 0.5 p = [0.5 + 0.5, -1 - 1] = [1, -2];  p = [1 - 0.1, -2 + 0.2] = [0.9, -1.8]
    (p1,) = run("sgd", [G1], lr=0.1, weight_decay=0.5)
    close(p1, [0.9, -1.8])
    # coupled (adam, betas 0.5, eps 0): g' = [1, -2] only changes the magnitude, step 1 is 0.1 sign(g')
    # = [0.9, -1.9]; step 2: g' = G2 + 0.5 [0.9, -1.9] = [0.7, 1.05]
    #   m = 0.5 * 0.5 [1, -2] + 0.5 [0.7, 1.05] = [0.6, 0.025]; v = 0.25 [1, 4] + 0.5 [0.49, 1.1025] = [0.495, 1.55125]
    #   p -= 0.1 (m / 0.75) / sqrt(v / 0.75)
    got = run("adam", [G1, G2], weight_decay=0.5, **ADAM)
    close(got[0], [0.9, -1.9])
    close(got[1], [0.9 - 0.1 * (0.6 / 0.75) / math.sqrt(0.495 / 0.75),
                   -1.9 - 0.1 * (0.025 / 0.75) / math.sqrt(1.55125 / 0.75)])
    # decoupled (adamw): the same hyper-parameters give the HAND["adamw"] numbers, not these
    adamw = run("adamw", [G1, G2], weight_decay=0.5, **ADAM)
    assert not np.allclose(adamw[1], got[1])
    close(adamw[1], HAND["adamw"][1][1])


def test_weight_decay_leaves_the_gradient_alone_when_decoupled():
    p, g = np.array(P0), np.array(G1)
    OPTIMIZERS["adamw"]((p, g), weight_decay=0.5, **ADAM).step()
    assert np.array_equal(g, G1)


def test_lookahead_k2_over_sgd():
    # fast: SGD lr 0.1 from slow = [1, -2]; every 2 steps slow += 0.5 (fast - slow), fast <- slow
    # step 1: fast = [0.95, -1.9]
    # step 2: fast = [0.925, -2.1] -> slow = [1 - 0.5 * 0.075, -2 - 0.5 * 0.1] = [0.9625, -2.05] = fast
    # step 3 (G1): fast = [0.9625 - 0.05, -2.05 + 0.1] = [0.9125, -1.95]
    # step 4 (G2): fast = [0.8875, -2.15] -> slow = [0.9625 - 0.5 * 0.075, -2.05 - 0.5 * 0.1] = [0.925, -2.1]
    p, g = np.array(P0), np.zeros(2)
    opt = Lookahead(OPTIMIZERS["sgd"]((p, g), lr=0.1), k=2, alpha=0.5)
    expected = [[0.95, -1.9], [0.9625, -2.05], [0.9125, -1.95], [0.925, -2.1]]
    for grad, e in zip([G1, G2, G1, G2], expected):
        g[...] = grad
        opt.step()
        close(p, e)
    close(opt.slow, [0.925, -2.1])
    opt.lr = 0.5
    assert opt.inner.lr == 0.5


def test_make_optimizer_refuses_hyper_parameters_the_optimizer_does_not_take():
    p, g = np.array(P0), np.zeros(2)
    opt = make_optimizer("rmsprop", (p, g), lr=0.1, rho=0.5)
    assert (opt.rho, opt.lr) == (0.5, 0.1)
    assert not hasattr(opt, "momentum")
    # nothing is dropped silently: a knob of another optimizer is a TypeError
    with pytest.raises(TypeError, match="momentum"):
        make_optimizer("rmsprop", (p, g), lr=0.1, rho=0.5, momentum=0.3)
    with pytest.raises(TypeError, match="betas"):
        make_optimizer("rmsprop", (p, g), lr=0.1, betas=(0.1, 0.2))
    with pytest.raises(TypeError, match="betas"):
        OPTIMIZERS["sgd"]((p, g), lr=0.1, momentum=0.9, betas=(0.1, 0.2))
    la = make_optimizer("sgd", (p, g), lr=0.1, lookahead={"k": 3, "alpha": 0.2})
    assert isinstance(la, Lookahead) and (la.k, la.alpha) == (3, 0.2)
    with pytest.raises(TypeError):
        make_optimizer("sgd", (p, g), lr=0.1, lookahead={"k": 3, "beta": 0.2})
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'.*did you mean 'adam'"):
        make_optimizer("adamm", (p, g))


def test_optimizer_takes_the_network_and_refuses_a_changed_layout():
    from nncli.nn import build_mlp

    net = build_mlp(3, [4], 2, seed=0)
    opt = make_optimizer("sgd", net, lr=0.1)
    net.grad[...] = 1.0
    before = net.theta.copy()
    opt.step()
    np.testing.assert_allclose(net.theta, before - np.float32(0.1), rtol=1e-6)
    net.freeze_blocks(1)  # the trainable slice moves: the optimizer's state no longer fits
    with pytest.raises(RuntimeError, match="freez"):
        opt.step()


# ---------------------------------------------------------------- state round trip

def _build(name, p, g, lookahead=False):
    opt = make_optimizer(name, (p, g), lr=0.05, weight_decay=0.01)
    return Lookahead(opt, k=3) if lookahead else opt


# one parameter vector, so the state's keys carry no parameter index
STATE_KEYS = {"sgd": set(), "momentum": {"v"}, "nesterov": {"v"}, "adagrad": {"sum"}, "rmsprop": {"v"},
              "adam": {"m", "v"}, "adamw": {"m", "v"}, "amsgrad": {"m", "v", "vmax"},
              "nadam": {"m", "v", "mu_product"}, "radam": {"m", "v"}, "adabound": {"m", "v"},
              "swats": {"m", "a", "v", "lam", "sgd_lr", "switch_step"}}


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_dict_round_trip(name, lookahead):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(7, 5))
    p, g = rng.normal(size=5), np.zeros(5)
    opt = _build(name, p, g, lookahead)
    for grad in grads[:3]:
        g[...] = grad
        opt.step()
    state = {k: v.copy() for k, v in opt.state_dict().items()}
    keys = {"t", "lr"} | STATE_KEYS[name]
    assert set(state) == ({f"inner.{k}" for k in keys} | {"lookahead.count", "lookahead.slow"}
                          if lookahead else keys)
    saved_p = p.copy()
    for grad in grads[3:]:
        g[...] = grad
        opt.step()
    # a fresh optimizer on a copy of the saved parameters, with the saved state
    p2, g2 = saved_p.copy(), np.zeros(5)
    opt2 = _build(name, p2, g2, lookahead)
    opt2.load_state_dict(state)
    for grad in grads[3:]:
        g2[...] = grad
        opt2.step()
    assert np.array_equal(p, p2)


# ---------------------------------------------------------------- schedules, by hand
# name -> (params, epochs, [(epoch, metric, expected lr), ...]) with lr0 = 0.1
SCHED = {
    "constant": ({}, 5, [(0, None, 0.1), (3, None, 0.1)]),
    # 0.1 * 0.5 ** (epoch // 2)
    "step": ({"step_size": 2, "gamma": 0.5}, 5,
             [(0, None, 0.1), (1, None, 0.1), (2, None, 0.05), (3, None, 0.05), (4, None, 0.025)]),
    # 0.1 * 0.5 ** epoch
    "exponential": ({"gamma": 0.5}, 5, [(0, None, 0.1), (1, None, 0.05), (2, None, 0.025)]),
    # 0.1 / (epoch + 1) ** 0.5
    "invscaling": ({"power_t": 0.5}, 5,
                   [(0, None, 0.1), (1, None, 0.1 / S2), (2, None, 0.1 / S3), (3, None, 0.05)]),
    # warm-up 0.1 * (epoch + 1) / 2 for epochs 0, 1; then over span 6 - 2 = 4 epochs
    # 0.01 + 0.5 * 0.09 * (1 + cos(pi * (epoch - 2) / 4)): epoch 2 -> 0.1, 3 -> 0.01 + 0.045 (1 + sqrt(1/2)),
    # 4 -> 0.055, 6 and beyond -> 0.01
    "cosine": ({"warmup": 2, "min_lr": 0.01}, 6,
               [(0, None, 0.05), (1, None, 0.1), (2, None, 0.1), (3, None, 0.01 + 0.045 * (1 + math.sqrt(0.5))),
                (4, None, 0.055), (6, None, 0.01), (9, None, 0.01)]),
    # patience 1, factor 0.5, threshold 0.01, called in order (it keeps state):
    # epoch 0: no metric -> 0.1; epoch 1: best = 1.0 -> 0.1; epoch 2: 0.995 not < 1.0 - 0.01 -> bad 1, 0.1
    # epoch 3: 0.999 -> bad 2 > 1 -> lr 0.05, bad 0; epoch 4: 0.5 improves -> 0.05
    # epoch 5, 6: 0.5, 0.5 -> bad 1, then 2 > 1 -> 0.025; floor min_lr 0.03 -> 0.03
    "plateau": ({"patience": 1, "factor": 0.5, "threshold": 0.01, "min_lr": 0.03}, 9,
                [(0, None, 0.1), (1, 1.0, 0.1), (2, 0.995, 0.1), (3, 0.999, 0.05), (4, 0.5, 0.05),
                 (5, 0.5, 0.05), (6, 0.5, 0.03)]),
}


def test_every_schedule_has_a_hand_worked_test():
    assert set(SCHED) == set(SCHEDULES)


@pytest.mark.parametrize("name", sorted(SCHED))
def test_schedule_by_hand(name):
    params, epochs, points = SCHED[name]
    sched = make_schedule(name, 0.1, epochs, **params)
    for epoch, metric, expected in points:
        assert sched.rate(epoch, metric) == pytest.approx(expected, rel=1e-12), epoch


@pytest.mark.parametrize("name", sorted(SCHED))
def test_schedule_refuses_an_unknown_parameter(name):
    params, epochs, _ = SCHED[name]
    with pytest.raises(TypeError, match="unrelated"):
        make_schedule(name, 0.1, epochs, **params, unrelated=123)


def test_schedule_defaults():
    # exponential: gamma 0.95 by default;  step: gamma 0.1 every epoch
    assert make_schedule("exponential", 0.1, 5).rate(2) == pytest.approx(0.1 * 0.95 ** 2, rel=1e-12)
    assert make_schedule("step", 0.1, 5).rate(2) == pytest.approx(0.1 * 0.1 ** 2, rel=1e-12)
    assert make_schedule("invscaling", 0.1, 5).rate(3) == pytest.approx(0.05, rel=1e-12)
    with pytest.raises(ValueError, match="unknown schedule 'cosin'.*did you mean 'cosine'"):
        make_schedule("cosin", 0.1, 5)


def test_plateau_state_round_trip():
    a = make_schedule("plateau", 0.1, 10, patience=1, factor=0.5)
    for epoch, metric in enumerate([None, 1.0, 1.0]):
        a.rate(epoch, metric)
    b = make_schedule("plateau", 0.1, 10, patience=1, factor=0.5)
    b.load_state_dict(a.state_dict())
    assert [a.rate(3, 1.0), a.rate(4, 1.0), a.rate(5, 1.0)] == [b.rate(3, 1.0), b.rate(4, 1.0), b.rate(5, 1.0)]
    assert a.lr == 0.025


# ---------------------------------------------------------------- against torch.optim
# name -> (our hyper-parameters, torch class name, torch keyword arguments)
TORCH = {
    "sgd": ({}, "SGD", {}),
    "momentum": ({"momentum": 0.8}, "SGD", {"momentum": 0.8}),
    "nesterov": ({"momentum": 0.8}, "SGD", {"momentum": 0.8, "nesterov": True}),
    "adagrad": ({"eps": 1e-10}, "Adagrad", {"eps": 1e-10}),
    "rmsprop": ({"rho": 0.9, "eps": 1e-8}, "RMSprop", {"alpha": 0.9, "eps": 1e-8}),
    "adam": ({"betas": (0.8, 0.95), "eps": 1e-8}, "Adam", {"betas": (0.8, 0.95), "eps": 1e-8}),
    "adamw": ({"betas": (0.8, 0.95), "eps": 1e-8}, "AdamW", {"betas": (0.8, 0.95), "eps": 1e-8}),
    "amsgrad": ({"betas": (0.8, 0.95)}, "Adam", {"betas": (0.8, 0.95), "amsgrad": True}),
    "nadam": ({"betas": (0.8, 0.95)}, "NAdam", {"betas": (0.8, 0.95), "momentum_decay": 4e-3}),
    # b2 = 0.9 makes rho_t exceed 5 from step 6 on, so both RAdam branches are compared
    "radam": ({"betas": (0.8, 0.9)}, "RAdam", {"betas": (0.8, 0.9)}),
}


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name", sorted(TORCH))
def test_matches_torch(name, weight_decay):
    torch = pytest.importorskip("torch")
    ours_hyper, cls_name, theirs = TORCH[name]
    rng = np.random.default_rng(sorted(TORCH).index(name))
    steps = 8
    p0 = rng.normal(size=9)
    grads = rng.normal(size=(steps, 9))
    grads[3] *= 10  # a spike, so running maxima and moments matter
    lr = 0.01

    p, g = p0.copy(), np.zeros(9)
    opt = OPTIMIZERS[name]((p, g), lr=lr, weight_decay=weight_decay, **ours_hyper)
    # torch keeps scalar state such as NAdam's mu_product in the default dtype: make it float64
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        tp = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
        topt = getattr(torch.optim, cls_name)([tp], lr=lr, weight_decay=weight_decay, **theirs)
        for t in range(steps):
            g[...] = grads[t]
            opt.step()
            tp.grad = torch.tensor(grads[t], dtype=torch.float64)
            topt.step()
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-14, err_msg=f"step {t + 1}")
    finally:
        torch.set_default_dtype(default)
    assert not np.allclose(p, p0)
