"""model.layers: the list form of a network, its validation, and the network build makes of it."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write

from nncli.build import network
from nncli.config import load_config, validate
from nncli.config.load import dump_config
from nncli.errors import ConfigError
from nncli.nn import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from nncli.transfer import frozen_layers

EVERY_KIND = """\
model:
  layers:
    - conv2d: {filters: 4, kernel: 3, stride: 1, padding: same, bias: false}
    - batch_norm: {momentum: 0.2, eps: 0.001}
    - activation: leaky_relu
    - maxpool2d: {pool: 2, stride: 2, padding: 0}
    - conv2d: 6
    - avgpool2d: 2
    - flatten
    - dense: {units: 5, bias: true}
    - activation: linear
    - dropout: 0.25
  leaky_slope: 0.1
"""


def _cfg(tmp_path, text=EVERY_KIND, overrides=()):
    return load_config(write(tmp_path / "cfg.yaml", text), list(overrides))


def _problems(layers, **model) -> str:
    with pytest.raises(ConfigError) as info:
        validate({"model": {"layers": layers, **model}})
    return str(info.value)


def test_every_kind_builds_in_order_with_its_settings(tmp_path):
    cfg = _cfg(tmp_path)
    assert cfg.model.images and cfg.model.weighted == 4  # conv2d, conv2d, dense and the output
    net = network(cfg, (1, 8, 8), 3, "identity", seed=0)
    kinds = [type(layer) for layer in net.layers]
    assert kinds[:2] == [Conv2D, BatchNorm] and kinds[3:9] == [MaxPool2D, Conv2D, AvgPool2D, Flatten, Dense,
                                                               type(net.layers[8])]
    assert kinds[9:] == [Dropout, Dense]  # the output layer follows the list
    conv, bn, act = net.layers[:3]
    assert (conv.filters, conv.kernel, conv.padding, conv.bias) == (4, (3, 3), "same", False)
    assert (bn.momentum, bn.eps) == (0.2, 0.001) and act.kind == "leaky_relu" and act.slope == 0.1
    assert net.layers[4].kernel == (3, 3) and net.layers[4].padding == "valid"  # {conv2d: 6}: the defaults
    assert net.layers[8].kind == "identity" and net.layers[9].rate == 0.25
    # shapes: 1x8x8 -same-> 4x8x8 -pool-> 4x4x4 -conv 3x3 valid-> 6x2x2 -avg-> 6x1x1 -> 6 -> 5 -> 3
    assert net.shapes[1] == (4, 8, 8) and net.shapes[4] == (4, 4, 4) and net.shapes[5] == (6, 2, 2)
    assert net.shapes[7] == (6,) and net.output_shape == (3,)
    assert net.blocks == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]


def test_the_resolved_config_reads_back_equal(tmp_path):
    cfg = _cfg(tmp_path)
    again = load_config(write(tmp_path / "again.yaml", dump_config(cfg)))
    assert again == cfg


def test_shorthands_mean_their_mappings():
    short = validate({"model": {"layers": [{"conv2d": 8}, {"maxpool2d": 2}, "flatten", {"dense": 16},
                                           {"activation": "logistic"}, {"dropout": 0.5}, "batch_norm",
                                           {"flatten": None}]}})
    full = validate({"model": {"layers": [
        {"conv2d": {"filters": 8}}, {"maxpool2d": {"pool": 2}}, {"flatten": {}}, {"dense": {"units": 16}},
        {"activation": {"name": "sigmoid"}}, {"dropout": {"rate": 0.5}}, {"batch_norm": {}}, {"flatten": {}}]}})
    assert short == full


def test_other_tools_names_for_kinds_are_read_as_nncli_s():
    cfg = validate({"model": {"layers": [{"conv": 8}, {"max_pooling2d": 2}, {"batchnorm": {}}, "flatten"]}})
    assert [next(iter(e.model_dump())) for e in cfg.model.layers] == ["conv2d", "maxpool2d", "batch_norm", "flatten"]


@pytest.mark.parametrize("layers, expected", [
    ([{"conv3d": 8}], "model.layers.0: unknown layer kind 'conv3d' (did you mean 'conv2d'?)"),
    ([{"dense": 4}, "flaten"], "model.layers.1: unknown layer kind 'flaten' (did you mean 'flatten'?)"),
    ([{"conv2d": {"filtres": 8}}], "model.layers.0: unknown key 'filtres' of conv2d (did you mean 'filters'?)"),
    ([{"maxpool2d": {"pool": 2, "strides": 2}}], "unknown key 'strides' of maxpool2d (did you mean 'stride'?)"),
    ([{"dense": 64, "activation": "relu"}], "expected one layer as a mapping {kind: settings}"),
    ([{"flatten": 3}], "flatten takes no settings as a mapping, got 3"),
    ([{"dense": 0}], "model.layers.0.dense.units: expected a value >= 1, got 0"),
    ([{"dropout": 1.5}], "model.layers.0.dropout.rate: expected a value < 1, got 1.5"),
    ([{"activation": "rleu"}], "model.layers.0.activation.name: expected one of"),
    ([{"conv2d": {"filters": 2, "padding": "full"}}], "model.layers.0.conv2d.padding: expected valid, same"),
    ([{"conv2d": {"kernel": 3}}], "model.layers.0.conv2d.filters: expected a value"),
])
def test_a_wrong_layer_is_named_with_what_was_expected(layers, expected):
    assert expected in _problems(layers)


def test_hidden_and_the_hidden_layer_keys_are_refused_beside_layers():
    text = _problems([{"dense": 8}], hidden=[16], dropout=0.1, activation="tanh")
    assert "model.layers: model.layers and model.hidden both describe the hidden layers; keep one" in text
    assert "model.dropout: 0.1 has no effect with model.layers" in text
    assert "model.activation: 'tanh' has no effect with model.layers" in text
    # their defaults (as a saved config writes them) are fine
    validate({"model": {"layers": [{"dense": 8}], "hidden": [128], "activation": "relu", "dropout": 0.0}})


def test_leaky_slope_counts_as_used_by_a_listed_activation():
    validate({"model": {"layers": [{"dense": 4}, {"activation": "prelu"}], "leaky_slope": 0.2}})
    assert "model.leaky_slope: 0.2 has no effect" in _problems([{"dense": 4}, {"activation": "relu"}], leaky_slope=0.2)


def test_freeze_by_count_name_or_index(tmp_path):
    cfg = _cfg(tmp_path)
    net = network(cfg, (1, 8, 8), 3, "identity", seed=0)
    assert frozen_layers(net, 1) == [0, 1, 2, 3]
    assert frozen_layers(net, ["conv2d1", 0, -1]) == [0, 4, 10]
    with pytest.raises(ConfigError, match="model.freeze: no layer named 'conv2d9': the layers are conv2d0, "):
        frozen_layers(net, ["conv2d9"])
    with pytest.raises(ConfigError, match="model.freeze: no layer 11: the network has 11 layers"):
        frozen_layers(net, [11])
    assert "model.freeze: expected at most 4 (the number of conv2d and dense layers" in _problems(
        [{"conv2d": 2}, "flatten", {"dense": 3}, {"dense": 3}], freeze=5)


@pytest.mark.parametrize("layers, message", [
    ([{"conv2d": 2}, {"dense": 4}], "model.layers.1: dense cannot take inputs of shape (2, 6, 6): dense expects "
                                    "flat samples, got shape (2, 6, 6) (add a flatten layer)"),
    ([{"conv2d": 2}], "model.layers: the output layer needs flat inputs, got shape (2, 6, 6): end the list with flatten"),
    ([{"conv2d": {"filters": 2, "kernel": 9}}], "model.layers.0: conv2d cannot take inputs of shape (1, 8, 8)"),
])
def test_shapes_that_do_not_fit_name_the_layer(layers, message):
    cfg = validate({"model": {"layers": layers}})
    with pytest.raises(ConfigError) as info:
        network(cfg, (1, 8, 8), 10, "identity")
    assert message in str(info.value)


def test_a_dense_list_is_the_same_network_as_hidden():
    """hidden: [16, 8] with relu and dropout 0.1 is the list dense/relu/dropout twice: same
    layers, same names, same initial weights from the same seed."""
    mlp = network(validate({"model": {"hidden": [16, 8], "dropout": 0.1}}), 64, 10, "identity", seed=3)
    listed = network(validate({"model": {"layers": [
        {"dense": 16}, {"activation": "relu"}, {"dropout": 0.1},
        {"dense": 8}, {"activation": "relu"}, {"dropout": 0.1}]}}), 64, 10, "identity", seed=3)
    assert listed.names == mlp.names and listed.blocks == mlp.blocks
    np.testing.assert_array_equal(listed.theta, mlp.theta)


def test_maxout_after_a_listed_dense_gets_its_pieces():
    net = network(validate({"model": {"layers": [{"dense": 6}, {"activation": "maxout"}], "maxout_pieces": 3}}),
                  4, 2, "identity")
    assert net.layers[0].units == 18 and net.shapes[2] == (6,)


def test_the_json_schema_takes_every_spelling_and_refuses_an_unknown_kind():
    import jsonschema  # in the test extra

    from nncli.config.load import config_schema

    schema = config_schema()
    listed = {"model": {"layers": [{"conv2d": 8}, {"conv2d": {"filters": 8, "padding": "same"}}, "batch_norm",
                                   {"batch_norm": {}}, {"activation": "relu"}, {"maxpool2d": 2}, "flatten",
                                   {"dense": 16}, {"dropout": 0.1}], "freeze": ["conv2d0", 1]}}
    jsonschema.validate(listed, schema)
    validate(listed)  # and nncli reads the same
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"model": {"layers": [{"conv3d": 8}]}}, schema)
