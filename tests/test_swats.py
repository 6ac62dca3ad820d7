"""SWATS (Keskar & Socher 2017, Algorithm 1) step by step, with the arithmetic written out.

p0 = [1, -2]; gradients G1 = [0.5, -1], G2 = [0.25, 2], G3 = [1, 1]; betas (0.5, 0.5),
eps = 0, lr = 0.1.
Step 1 (Adam): m = [0.25, -0.5], a = [0.125, 0.5]; sqrt(1 - 0.5)/(1 - 0.5) = sqrt2;
    m / sqrt(a) = [sqrt(1/2), -sqrt(1/2)]; s = -0.1 sqrt2 [sqrt(1/2), -sqrt(1/2)] = [-0.1, 0.1]
    p = [0.9, -1.9];  s.s = 0.02, -s.g = 0.05 + 0.1 = 0.15;  gamma_1 = 2/15
    lam_1 = 0.5 * 2/15 = 1/15  (k = 1: no switch test)
Step 2 (Adam): m = [0.25, 0.75], a = [0.09375, 2.25]; sqrt(0.75)/0.75 = 1/sqrt(0.75)
    m / sqrt(a) = [sqrt(2/3), 1/2];  s = -0.1 [sqrt(8/9), 1/sqrt3] =: -0.1 [A, B]
    gamma_2 = 0.01 (A^2 + B^2) / (0.1 (0.25 A + 2 B)) = 0.1 (11/9) / (0.25 A + 2 B)
    lam_2 = 0.5/15 + 0.5 gamma_2;  Lambda = lam_2 / (1 - 0.25) = lam_2 / 0.75
    |Lambda - gamma_2| / Lambda = 0.147: switches when switch_tol > 0.147
Step 3 (SGD, after a switch at step 2): v = 0.5 * 0 + G3 = [1, 1];  p -= (1 - 0.5) Lambda v
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nncli.nn.optim import OPTIMIZERS, Lookahead

A, B = math.sqrt(8 / 9), 1 / math.sqrt(3)
GAMMA2 = 0.1 * (11 / 9) / (0.25 * A + 2 * B)
LAMBDA = (0.5 / 15 + 0.5 * GAMMA2) / 0.75
P2 = [0.9 - 0.1 * A, -1.9 - 0.1 * B]


def steps(switch_tol, grads=([0.5, -1.0], [0.25, 2.0], [1.0, 1.0])):
    p, g = np.array([1.0, -2.0]), np.zeros(2)
    opt = OPTIMIZERS["swats"]((p, g), lr=0.1, betas=(0.5, 0.5), eps=0.0, switch_tol=switch_tol)
    out = []
    for grad in grads:
        g[...] = grad
        opt.step()
        out.append(p.copy())
    return opt, out


def test_the_relative_gap_at_step_two_is_as_worked_out():
    assert abs(LAMBDA - GAMMA2) / LAMBDA == pytest.approx(0.147, abs=1e-3)


def test_swats_switches_to_sgd_with_the_learned_rate():
    opt, (p1, p2, p3) = steps(switch_tol=0.2)
    np.testing.assert_allclose(p1, [0.9, -1.9], rtol=1e-12)
    np.testing.assert_allclose(p2, P2, rtol=1e-12)
    assert opt.switched and opt.state["switch_step"][0] == 2
    assert opt.sgd_lr == pytest.approx(LAMBDA, rel=1e-12)
    np.testing.assert_allclose(p3, [P2[0] - 0.5 * LAMBDA, P2[1] - 0.5 * LAMBDA], rtol=1e-12)
    assert opt.logs() == {"sgd_lr": pytest.approx(LAMBDA, rel=1e-12), "switch_step": 2}


def test_swats_momentum_accumulates_after_the_switch():
    # step 4 with G4 = [2, 0]: v = 0.5 [1, 1] + [2, 0] = [2.5, 0.5];  p -= 0.5 Lambda v
    opt, out = steps(0.2, ([0.5, -1.0], [0.25, 2.0], [1.0, 1.0], [2.0, 0.0]))
    np.testing.assert_allclose(out[3], out[2] - 0.5 * LAMBDA * np.array([2.5, 0.5]), rtol=1e-12)


def test_swats_stays_adam_below_the_tolerance():
    # step 3 is Adam: m = 0.5 [0.25, 0.75] + 0.5 [1, 1] = [0.625, 0.875]
    # a = 0.5 [0.09375, 2.25] + 0.5 [1, 1] = [0.546875, 1.625]; sqrt(1 - 0.125)/(1 - 0.125) = 1/sqrt(0.875)
    # (the switch test then runs on step 3's own gamma; whatever it says, step 3 moved as Adam)
    opt, (_, _, p3) = steps(switch_tol=0.1)
    assert opt.state["switch_step"][0] != 2
    opt2, _ = steps(0.1, ([0.5, -1.0], [0.25, 2.0]))
    assert not opt2.switched and opt2.logs() == {"sgd_lr": None, "switch_step": None}
    step = 0.1 / math.sqrt(0.875) * np.array([0.625 / math.sqrt(0.546875), 0.875 / math.sqrt(1.625)])
    np.testing.assert_allclose(p3, np.array(P2) - step, rtol=1e-12)


def test_swats_zero_tolerance_never_switches():
    opt, _ = steps(switch_tol=0.0)
    assert not opt.switched


def test_a_schedule_scales_the_learned_rate():
    opt, _ = steps(0.2)
    opt.lr = 0.05  # a schedule halved the rate
    assert opt.sgd_lr == pytest.approx(LAMBDA / 2, rel=1e-12)


def test_lookahead_passes_the_history_entries_on():
    p, g = np.array([1.0, -2.0]), np.zeros(2)
    opt = Lookahead(OPTIMIZERS["swats"]((p, g), lr=0.1, betas=(0.5, 0.5), eps=0.0, switch_tol=0.2), k=5)
    for grad in ([0.5, -1.0], [0.25, 2.0]):
        g[...] = grad
        opt.step()
    assert opt.logs()["switch_step"] == 2
