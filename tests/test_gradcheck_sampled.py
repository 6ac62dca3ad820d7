"""Sampled gradient checks: a large array checked on a seeded sample of its entries and along
random directions over all of it (``nncli.nn.gradcheck.check_array``), and ``nncli gradcheck
--entries``. A wrong entry outside the sample must still fail, through the directions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nncli.nn import Dense, Network
from nncli.nn.activations import Tanh
from nncli.nn.gradcheck import DIRECTIONS, TOL, check_layers, check_network
from nncli.nn.losses import make_loss

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = 32
SHAPE = (40, 50)  # dense0.W: 2,000 entries, of which ENTRIES are compared one by one


def _net() -> Network:
    return Network([Dense(50), Tanh(), Dense(3)], (40,), dtype=np.float64, seed=0)


def _x(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(4, 40))


def _dense0_w(checks):
    (c,) = [c for c in checks if (c.layer, c.param) == ("dense0", "W")]
    return c


def _plant(monkeypatch, choose, shape=SHAPE):
    """Dense.backward with one entry of the weight gradient of this shape off by a relative 1e-3:
    the flat index ``choose(gradient)`` returns. Returns the list the chosen indices go to."""
    backward, planted = Dense.backward, []

    def wrong(self, dout):
        dx = backward(self, dout)
        g = self.grads["W"]
        if g.shape == shape:
            k = choose(g.reshape(-1))
            g.reshape(-1)[k] *= 1 + 1e-3
            planted.append(k)
        return dx

    monkeypatch.setattr(Dense, "backward", wrong)
    return planted


def test_a_sampled_check_passes_on_correct_layers_and_says_what_it_checked():
    x, y = _x(), np.array([0, 1, 2, 0])
    net = _net()
    layers = check_layers(net, x, np.random.default_rng(0), entries=ENTRIES)
    checks = layers + check_network(net, make_loss("cross_entropy"), x, y, entries=ENTRIES)
    assert all(c.passed(TOL) for c in checks), [c for c in checks if not c.passed(TOL)]
    big = [c for c in checks if c.size > ENTRIES]
    assert {(c.layer, c.param) for c in big} >= {("dense0", "W"), ("dense0", "x"), ("input", "x"), ("dense1", "W")}
    for c in big:
        assert c.checked == len(set(c.sample)) == ENTRIES and c.directions == DIRECTIONS
        assert 0 < c.direction_error < TOL
    w = _dense0_w(layers)  # the worst entry is named by its index in the array, one of the sample
    assert len(w.worst_index) == 2 and int(np.ravel_multi_index(w.worst_index, SHAPE)) in w.sample
    small = [c for c in checks if c.size <= ENTRIES]
    assert {(c.layer, c.param) for c in small} >= {("dense1", "b")}
    assert all(c.checked == c.size and c.directions == 0 and c.sample == () for c in small)
    again = check_layers(_net(), x, np.random.default_rng(0), entries=ENTRIES)
    assert _dense0_w(again).sample == w.sample  # seeded: the same entries again


def test_the_library_checks_every_entry_unless_asked_to_sample():
    checks = check_layers(_net(), _x(), np.random.default_rng(0))
    assert all(c.checked == c.size and c.directions == 0 for c in checks)
    assert _dense0_w(checks).size == 2000
    with pytest.raises(ValueError, match="entries >= 1"):
        check_layers(_net(), _x(), np.random.default_rng(0), entries=0)


@pytest.mark.parametrize("seed", range(5))
def test_a_wrong_entry_outside_the_sample_fails_along_the_directions(monkeypatch, seed):
    # the sample this seed draws, from a check of the correct layer
    sample = set(_dense0_w(check_layers(_net(), _x(seed), np.random.default_rng(seed), entries=ENTRIES)).sample)

    def largest_outside_the_sample(g):  # the largest gradient: an error a check of every entry fails
        outside = np.array(sorted(set(range(g.size)) - sample))
        return int(outside[np.abs(g[outside]).argmax()])

    planted = _plant(monkeypatch, largest_outside_the_sample)
    c = _dense0_w(check_layers(_net(), _x(seed), np.random.default_rng(seed), entries=ENTRIES))
    assert planted and planted[0] not in c.sample and set(c.sample) == sample
    assert c.error < TOL  # the sampled entries are all right...
    assert c.direction_error > 3 * TOL and not c.passed(TOL)  # ...and the directions see the wrong one
    full = _dense0_w(check_layers(_net(), _x(seed), np.random.default_rng(seed)))
    assert not full.passed(TOL) and full.worst_index == np.unravel_index(planted[-1], SHAPE)
    # the projections estimate the whole array's relative error
    assert full.error / 3 < c.direction_error < 3 * full.error


def test_a_wrong_entry_in_the_sample_is_named_with_both_values(monkeypatch):
    sample = _dense0_w(check_layers(_net(), _x(), np.random.default_rng(0), entries=ENTRIES)).sample
    planted = _plant(monkeypatch, lambda g: sample[int(np.abs(g[list(sample)]).argmax())])
    c = _dense0_w(check_layers(_net(), _x(), np.random.default_rng(0), entries=ENTRIES))
    assert not c.passed(TOL) and c.error > TOL
    assert c.worst_index == tuple(int(i) for i in np.unravel_index(planted[0], SHAPE))
    assert c.analytic == pytest.approx(c.numeric * (1 + 1e-3), rel=1e-7)


# ---------------------------------------------------------------- the command
def _rows(report: dict) -> dict:
    return {(part, r["layer"], r["param"]): r for part in ("layers", "network") for r in report[part]}


def test_the_json_report_says_how_much_of_each_array_was_checked(nncli, tmp_path):
    r = nncli("gradcheck", ROOT / "configs" / "digits.yaml", "--batch", "4", "--json", "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert (report["entries"], report["directions"], report["passed"]) == (256, DIRECTIONS, True)
    rows = _rows(report)
    w = rows["network", "dense0", "W"]  # 64 x 128
    assert (w["size"], w["checked"], w["directions"]) == (8192, 256, DIRECTIONS)
    assert 0 < w["direction_rel_error"] < TOL and w["rel_error"] < TOL and w["passed"]
    assert set(w["worst"]) == {"index", "backprop", "numeric"} and len(w["worst"]["index"]) == 2
    b = rows["network", "dense1", "b"]
    assert (b["size"], b["checked"], b["directions"], b["direction_rel_error"]) == (10, 10, 0, None)
    assert all(row["checked"] == min(row["size"], 256) for row in rows.values())
    r = nncli("gradcheck", ROOT / "configs" / "digits.yaml", "--batch", "4", "--entries", "100", "--json",
              "--runs-dir", tmp_path)
    assert _rows(json.loads(r.out))["network", "dense0", "W"]["checked"] == 100


def test_entries_0_checks_every_entry_of_every_array(nncli, tmp_path):
    r = nncli("gradcheck", ROOT / "configs" / "digits.yaml", "--batch", "4", "--entries", "0", "--json",
              "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["passed"] and (report["entries"], report["directions"]) == (None, 0)
    rows = _rows(report)
    assert rows["network", "dense0", "W"]["checked"] == 8192
    assert all(row["checked"] == row["size"] and row["directions"] == 0 for row in rows.values())
    assert sum(row["checked"] for (part, layer, _), row in rows.items()
               if part == "network" and layer != "input") == report["n_params"]


def test_the_table_says_what_was_sampled(nncli, tmp_path):
    r = nncli("gradcheck", ROOT / "configs" / "digits.yaml", "--batch", "4", "--runs-dir", tmp_path)
    assert r.code == 0, r.err
    assert "256 of 8,192" in r.out and "directions" in r.out
    assert f"{DIRECTIONS} random directions each (--entries 0 checks every entry)" in r.out
    assert f"{DIRECTIONS} random" in nncli("gradcheck", "-h").out
    r = nncli("gradcheck", ROOT / "configs" / "iris.yaml", "--runs-dir", tmp_path)  # nothing larger than 256
    assert r.code == 0 and "directions" not in r.out and " of " not in r.out
    assert nncli("gradcheck", ROOT / "configs" / "iris.yaml", "--entries", "-1").code == 2


def test_a_sampled_command_still_exits_5_naming_the_layer(nncli, monkeypatch, tmp_path):
    planted = _plant(monkeypatch, lambda g: int(np.abs(g).argmax()), shape=(64, 128))  # digits' dense0.W
    r = nncli("gradcheck", ROOT / "configs" / "digits.yaml", "--batch", "4", "--runs-dir", tmp_path)
    assert planted and r.code == 5
    assert "gradient check failed in dense0" in r.err and "FAIL" in r.out and "Traceback" not in r.err
