"""Search spaces, trial names and the strategies' plans, without training anything."""

from __future__ import annotations

import numpy as np
import pytest

from nncli.errors import ConfigError, UsageError
from nncli.sweep import space, strategies
from nncli.sweep.space import IntRange, Uniform, Values


@pytest.mark.parametrize("text, expected", [
    ("0.1,0.01,0.001", Values((0.1, 0.01, 0.001))),
    ("[64],[128,64]", Values(([64], [128, 64]))),
    ("relu, tanh", Values(("relu", "tanh"))),
    ("choice(relu,tanh)", Values(("relu", "tanh"))),
    ("choice([64], [128])", Values(([64], [128]))),
    ("choice(0.5)", Values((0.5,))),
    ("range(10, 40, 10)", Values((10, 20, 30))),
    ("uniform(0.1, 0.5)", Uniform(0.1, 0.5)),
    ("loguniform(1e-4,1e-1)", Uniform(1e-4, 0.1, log=True)),
    ("int(16, 128)", IntRange(16, 128)),
    ("'a, b','c'", Values(("a, b", "c"))),
    ("{n_samples: 100, noise: 0.1},{n_samples: 200, noise: 0.1}",
     Values(({"n_samples": 100, "noise": 0.1}, {"n_samples": 200, "noise": 0.1}))),
])
def test_expressions(text, expected):
    assert space.parse(text, "test") == expected


@pytest.mark.parametrize("text", ["0.1", "[128, 64]", "{n_samples: 100, noise: 0.1}", "'a, b'", "relu"])
def test_one_value_is_a_fixed_override(text):
    assert space.parse(text, "test") is None


@pytest.mark.parametrize("text, says", [
    ("loguniform(0, 1)", "0 < low"),
    ("uniform(2, 1)", "low < high"),
    ("uniform(a, 1)", "with numbers"),
    ("int(1.5, 3)", "integers low <= high"),
    ("int(1)", "expected int(low, high)"),
    ("choice()", "at least one value"),
    ("range(5, 5)", "is empty"),
    ("0.1,,0.01", "empty value"),
    ("0.1,[1,", "invalid YAML"),
])
def test_bad_expressions_say_what_was_expected(text, says):
    with pytest.raises(ConfigError) as info:
        space.parse(text, "optimizer.lr")
    assert says in str(info.value) and "optimizer.lr" in str(info.value)


def test_yaml_lists_are_values_and_round_trip_through_their_text():
    dims = [space.from_yaml([[64], [128, 64]], "k"), space.parse("choice(relu, 'null', 1e-05, '1e-3')", "k"),
            space.parse("loguniform(0.0001, 0.1)", "k"), space.parse("int(1, 5)", "k")]
    for d in dims:
        assert space.parse(d.text(), "k") == d
    assert dims[1].values == ("relu", "null", 1e-05, "1e-3")


def test_sampling_stays_in_range_and_follows_the_seed():
    dims = {"lr": Uniform(1e-4, 1e-1, log=True), "n": IntRange(2, 4), "h": Values(([8], [16]))}
    a = strategies.sample(dims, 200, seed=3)
    assert a == strategies.sample(dims, 200, seed=3) != strategies.sample(dims, 200, seed=4)
    lrs = np.array([t["lr"] for t in a])
    assert lrs.min() >= 1e-4 and lrs.max() <= 0.1
    assert np.mean(lrs < 1e-2) == pytest.approx(2 / 3, abs=0.1)  # log-uniform: each decade alike
    assert {t["n"] for t in a} == {2, 3, 4} and {str(t["h"]) for t in a} == {"[8]", "[16]"}


def test_random_over_a_grid_draws_distinct_combinations():
    dims = {"a": Values((1, 2, 3)), "b": Values((4, 5))}
    picks = strategies.sample(dims, 4, seed=0)
    assert len({(t["a"], t["b"]) for t in picks}) == 4
    with pytest.raises(UsageError, match="only 6 combinations"):
        strategies.sample(dims, 7, seed=0)


def test_grid_order_and_continuous_ranges_have_no_grid():
    g = strategies.grid({"a": Values((1, 2)), "b": Values(("x", "y"))})
    assert g == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    with pytest.raises(UsageError, match="has no grid"):
        strategies.grid({"lr": Uniform(0.1, 0.2)})


def test_trial_names_say_what_varied_and_directories_stay_safe():
    keys = ["optimizer.lr", "model.hidden", "optimizer.schedule.gamma", "optimizer.gamma"]
    short = space.short_keys(keys)
    assert short == {"optimizer.lr": "lr", "model.hidden": "hidden", "optimizer.schedule.gamma": "schedule.gamma",
                     "optimizer.gamma": "optimizer.gamma"}
    params = {"optimizer.lr": 0.0123456, "model.hidden": [128, 64], "optimizer.schedule.gamma": 0.5,
              "optimizer.gamma": 0.1}
    assert space.label(params, short) == "lr=0.01235,hidden=[128,64],schedule.gamma=0.5,optimizer.gamma=0.1"
    slug = space.slug({"model.activation": "../../etc", "optimizer.lr": 0.01}, space.short_keys(["model.activation", "optimizer.lr"]))
    assert slug == "activationetc_lr0.01"
    assert ".." not in slug and "/" not in slug


def test_halving_rungs_and_their_cost():
    plan = strategies.rungs(27, epochs=30, eta=3, min_epochs=None)
    assert [(r.epochs, r.keep) for r in plan] == [(3, 27), (10, 9), (30, 3)]
    # each trial trains up to the last rung it reaches: 18 x 3 + 6 x 10 + 3 x 30
    assert strategies.halving_cost(plan) == 18 * 3 + 6 * 10 + 3 * 30 <= 0.4 * 27 * 30
    plan = strategies.rungs(81, epochs=81, eta=3, min_epochs=None)
    assert [(r.epochs, r.keep) for r in plan] == [(3, 81), (9, 27), (27, 9), (81, 3)]
    plan = strategies.rungs(27, epochs=30, eta=3, min_epochs=5)  # a first rung of at least 5 epochs
    assert [(r.epochs, r.keep) for r in plan] == [(10, 27), (30, 9)]
    assert [(r.epochs, r.keep) for r in strategies.rungs(2, 30, 3, None)] == [(30, 2)]
    with pytest.raises(UsageError, match="more than training.epochs"):
        strategies.rungs(9, 5, 3, 6)
