"""Tests of the experiment schema, safe YAML loading, overrides and error reports."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import time
import typing

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli import config as C
from nncli.config import (
    ACTIVATION_NAMES,
    DATASET_NAMES,
    INIT_NAMES,
    LOSS_NAMES,
    MAX_CONFIG_BYTES,
    OPTIMIZER_NAMES,
    OUTPUT_NAMES,
    SCHEDULE_NAMES,
    Config,
    apply_overrides,
    config_schema,
    config_to_dict,
    dump_config,
    load_config,
    parse_yaml,
    validate,
)
from nncli.errors import ConfigError

FULL = textwrap.dedent("""\
    name: digits-mlp.v2
    seed: 7
    description: "Two hidden layers on the digits dataset: a baseline."
    data:
      dataset: digits
      label: null
      params: {}
      task: classification
      validation: 0.15
      test: 0.25
      scaling: minmax
      polynomial: 2
      subset: 500
    model:
      hidden: [64, 32]
      activation: [relu, tanh]
      leaky_slope: 0.02
      maxout_pieces: 3
      init: he_uniform
      init_scale: 0.05
      dropout: [0.1, 0.2]
      batch_norm: true
      bias: false
      output: softmax
      init_from: null
      freeze: 1
    loss:
      name: cross_entropy
      class_weight: balanced
      huber_delta: 2.0
    optimizer:
      name: adamw
      lr: 3e-4
      momentum: 0.8
      betas: [0.85, 0.99]
      eps: 1e-7
      weight_decay: 0.01
      rho: 0.95
      final_lr: 0.05
      lookahead: {k: 6, alpha: 0.6}
      clip_norm: 5.0
      schedule:
        name: cosine
        step_size: 3
        gamma: 0.5
        power_t: 0.25
        warmup: 2
        min_lr: 1e-6
        patience: 4
        factor: 0.5
        threshold: 0.001
    regularization:
      l1: 0.0001
      l2: 0.001
    training:
      epochs: 12
      batch_size: full
      shuffle: false
      dtype: float64
      early_stopping:
        enabled: true
        monitor: val_accuracy
        patience: 3
        min_delta: 0.001
      checkpoint_every: 50
    plots: false
    """)


def _write(tmp_path, text: str, name: str = "cfg.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(text: str, overrides=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config("-", overrides, text=text)
    return info.value.problems


# ------------------------------------------------------------------ loading
def test_defaults_load_from_an_empty_file(tmp_path):
    cfg = load_config(_write(tmp_path, "# all defaults\n"))
    assert cfg == Config()
    assert cfg.name == "run" and cfg.seed == 0
    assert cfg.data.dataset == "digits" and cfg.data.validation == 0.1 and cfg.data.test == 0.2
    assert cfg.model.hidden == [128] and cfg.model.activation == "relu"
    assert cfg.optimizer.name == "adam" and cfg.optimizer.lr == 0.001
    assert cfg.optimizer.betas == (0.9, 0.999)
    assert cfg.optimizer.schedule.name == "constant" and cfg.optimizer.lookahead is None
    assert cfg.training.batch_size == 64 and cfg.training.epochs == 30
    assert cfg.training.early_stopping.patience == 10


def test_full_example_loads(tmp_path):
    cfg = load_config(_write(tmp_path, FULL))
    assert cfg.name == "digits-mlp.v2" and cfg.seed == 7
    assert cfg.model.activation == ["relu", "tanh"] and cfg.model.dropout == [0.1, 0.2]
    assert cfg.optimizer.lr == pytest.approx(3e-4) and isinstance(cfg.optimizer.lr, float)
    assert cfg.optimizer.eps == pytest.approx(1e-7)
    assert cfg.optimizer.betas == (0.85, 0.99)
    assert cfg.optimizer.lookahead.k == 6 and cfg.optimizer.lookahead.alpha == 0.6
    assert cfg.optimizer.schedule.min_lr == pytest.approx(1e-6)
    assert cfg.training.batch_size == "full" and cfg.training.dtype == "float64"
    assert cfg.training.early_stopping.monitor == "val_accuracy"
    assert cfg.loss.class_weight == "balanced"
    assert cfg.model.freeze == 1 and cfg.model.bias is False


def test_full_example_sets_every_key():
    data, _ = parse_yaml(FULL, "full.yaml")

    def keys(model, prefix=()):
        for key, field in model.model_fields.items():
            yield prefix + (key,)
            sub = C._find_model(field.annotation)
            if sub is not None and key != "lookahead":
                yield from keys(sub, prefix + (key,))

    for path in keys(Config):
        if path == ("data", "path"):
            continue        # exclusive with dataset
        node = data
        for key in path:
            assert key in node, f"FULL lacks {'.'.join(path)}"
            node = node[key]


def test_stdin_text_is_named_stdin():
    cfg = load_config("-", text="seed: 3\n")
    assert cfg.seed == 3
    with pytest.raises(ConfigError, match=r"^<stdin>: 1 problem"):
        load_config("-", text="seed: -3\n")
    with pytest.raises(ConfigError, match="<stdin>"):
        load_config("-")


@pytest.mark.parametrize("text,expected", [
    ("1e-3", 0.001), ("1E5", 100000.0), ("-2e-4", -0.0002), ("+3e2", 300.0),
    ("1.5e-3", 0.0015), ("0.25", 0.25), (".5", 0.5),
])
def test_exponent_numbers_are_floats(text, expected):
    data, _ = parse_yaml(f"x: {text}\n", "f.yaml")
    assert type(data["x"]) is float and data["x"] == pytest.approx(expected)


def test_other_scalars_keep_their_types():
    data, _ = parse_yaml("a: 12\nb: '1e-3'\nc: 2024-01-02\nd: true\ne: null\nf: e5\n", "f.yaml")
    assert data == {"a": 12, "b": "1e-3", "c": "2024-01-02", "d": True, "e": None, "f": "e5"}
    assert type(data["a"]) is int


def test_lr_given_as_exponent_is_a_float():
    cfg = load_config("-", text="optimizer:\n  lr: 1e-3\n")
    assert cfg.optimizer.lr == 0.001 and type(cfg.optimizer.lr) is float


def test_path_replaces_the_default_dataset():
    cfg = load_config("-", text="data:\n  path: data/train.csv\n  label: y\n")
    assert cfg.data.path == "data/train.csv" and cfg.data.dataset is None
    cfg = load_config("-", text="data: {path: x.npz, dataset: null}\n")
    assert cfg.data.dataset is None


def test_class_weight_labels_become_strings():
    cfg = load_config("-", text="loss:\n  class_weight: {0: 1.0, 1: 3.5, cat: 2}\n")
    assert cfg.loss.class_weight == {"0": 1.0, "1": 3.5, "cat": 2.0}


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("text,fragments", [
    # unknown key with a suggestion
    ("optimizer:\n  lrr: 0.1\n", ["<stdin>:2: optimizer.lrr: unknown key 'lrr'",
                                 "(did you mean 'lr'?)"]),
    ("modle: {}\n", ["modle: unknown key 'modle' (did you mean 'model'?)"]),
    ("lr: 0.1\n", ["lr: unknown key 'lr'", "'optimizer.lr'"]),
    # wrong types
    ("optimizer:\n  lr: abc\n", ["optimizer.lr: expected a number, got 'abc'"]),
    ("optimizer:\n  lr: '0.01'\n", ["optimizer.lr: expected a number, got '0.01'"]),
    ("training:\n  epochs: 2.5\n", ["training.epochs: expected an integer, got 2.5"]),
    ("training:\n  epochs: true\n", ["training.epochs: expected an integer, got true"]),
    ("model:\n  hidden: [64, true]\n", ["model.hidden.1: expected an integer, got true"]),
    ("training:\n  shuffle: 'no'\n", ["training.shuffle: expected true or false, got 'no'"]),
    ("model: 3\n", ["model: expected a mapping, got 3"]),
    # out of range
    ("optimizer:\n  lr: -0.1\n", ["optimizer.lr: expected a value > 0, got -0.1"]),
    ("optimizer:\n  betas: [0.9, 1.0]\n", ["optimizer.betas.1: expected a value < 1, got 1.0"]),
    ("data:\n  polynomial: 11\n", ["data.polynomial: expected a value <= 10, got 11"]),
    ("optimizer:\n  lr: .inf\n", ["optimizer.lr: expected a finite number"]),
    # bad choices with a suggestion
    ("optimizer:\n  name: adamm\n", ["optimizer.name: expected one of adabound, adagrad, adam,",
                                     "(did you mean 'adam'?), got 'adamm'"]),
    ("model:\n  activation: [relu, tanhh]\n  hidden: [4, 4]\n",
     ["model.activation.1: expected one of", "(did you mean 'tanh'?)"]),
    ("training:\n  batch_size: fulll\n",
     ["training.batch_size: expected an integer >= 1 or 'full'"]),
    # list lengths against hidden
    ("model:\n  hidden: [8, 4]\n  activation: [relu]\n",
     ["model.activation: expected one entry per hidden layer (2), got 1"]),
    ("model:\n  hidden: [8]\n  dropout: [0.1, 0.2]\n",
     ["model.dropout: expected one entry per hidden layer (1), got 2"]),
    ("model:\n  hidden: [8]\n  freeze: 3\n", ["model.freeze: expected at most 2"]),
    # path and dataset
    ("data:\n  dataset: iris\n  path: x.csv\n", ["data.path: expected either `path` or `dataset`"]),
    ("data:\n  validation: 0.5\n  test: 0.5\n", ["data.test: expected validation + test < 1"]),
    ("data:\n  path: x.json\n", ["data.path: expected a .csv or .npz file"]),
    # names that become directories
    ("name: ../escape\n", ["<stdin>:1: name: expected 1..64 letters"]),
    ("name: a/b\n", ["name: expected"]),
    (f"name: {'a' * 65}\n", ["name: expected"]),
])
def test_each_kind_of_error_names_its_key(text, fragments):
    with pytest.raises(ConfigError) as info:
        load_config("-", text=text)
    err = info.value
    assert err.exit_code == 2
    assert len(err.problems) == 1, err.problems
    for fragment in fragments:
        assert fragment in err.problems[0]
        assert fragment in str(err)


def test_every_problem_is_reported_with_its_line(tmp_path):
    text = textwrap.dedent("""\
        seed: 1
        optimizer:
          name: adam
          lr: 0
          momentum: 2
        training:
          epochs: 0
        """)
    path = _write(tmp_path, text, "many.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert str(err).splitlines()[0] == f"{path}: 3 problems in the config"
    assert err.headline == f"{path}: 3 problems in the config"
    assert sorted(err.problems) == sorted([
        f"{path}:4: optimizer.lr: expected a value > 0, got 0",
        f"{path}:5: optimizer.momentum: expected a value < 1, got 2",
        f"{path}:7: training.epochs: expected a value >= 1, got 0",
    ])
    assert str(err) == err.headline + "\n" + "\n".join(err.problems)


def test_validate_works_on_plain_data():
    assert validate({"seed": 5}).seed == 5
    with pytest.raises(ConfigError) as info:
        validate({"seed": "5"}, "x.yaml", {("seed",): 9})
    assert info.value.problems == ["x.yaml:9: seed: expected an integer, got '5'"]
    with pytest.raises(ConfigError, match="expected a mapping of keys at the top level"):
        validate([1, 2])


def test_duplicate_keys_name_the_key_and_both_lines():
    text = "seed: 1\noptimizer:\n  lr: 0.1\n  eps: 1e-8\n  lr: 0.2\n"
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "d.yaml")
    msg = str(info.value)
    assert msg.startswith("d.yaml:5:")
    assert "duplicate key 'optimizer.lr'" in msg and "line 3" in msg and "line 5" in msg


@pytest.mark.parametrize("text,fragment", [
    ("a: &x 1\nb: 2\n", "anchors (&x) are not allowed"),
    ("a: &x [1, 2]\nb: *x\n", "anchors (&x) are not allowed"),
    ("b: *x\n", "aliases (*x) are not allowed"),
    ('a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\n',
     "not allowed"),
])
def test_anchors_and_aliases_are_rejected(text, fragment):
    with pytest.raises(ConfigError, match=r"^a\.yaml:\d+: ") as info:
        parse_yaml(text, "a.yaml")
    assert fragment in str(info.value)


def test_python_tags_are_rejected_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    text = f"seed: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert "tag '!!python/object/apply:os.system' is not allowed" in str(info.value)
    assert ":1:" in str(info.value)
    assert not marker.exists()
    with pytest.raises(ConfigError, match="tag '!custom' is not allowed"):
        parse_yaml("a: !custom 3\n", "t.yaml")


def test_huge_file_is_rejected_quickly(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "w") as f:
        f.write("description: '" + "x" * (10 * 1024 * 1024) + "'\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - start < 1.0
    assert str(path) in str(info.value) and "1 MiB" in str(info.value)
    assert str(path.stat().st_size) in str(info.value)
    with pytest.raises(ConfigError, match="1 MiB"):
        load_config("-", text="#" * (MAX_CONFIG_BYTES + 1))


def test_deep_nesting_is_rejected():
    with pytest.raises(ConfigError, match="nesting deeper than"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "n.yaml")


@pytest.mark.parametrize("text,got", [("- 1\n- 2\n", "[1, 2]"), ("42\n", "42"),
                                      ("null\n", "null"), ("just text\n", "'just text'")])
def test_top_level_must_be_a_mapping(text, got):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "top.yaml")
    assert str(info.value) == f"top.yaml:1: expected a mapping of keys at the top level, got {got}"


@pytest.mark.parametrize("text,where", [
    ("model:\n  hidden: [1, 2\nloss: {}\n", "s.yaml:3:5: invalid YAML"),
    ("optimizer:\n  lr: 0.1\n   eps: 2\n", "s.yaml:3:7: invalid YAML"),
    ("a: 1\n---\nb: 2\n", "s.yaml:2:1: invalid YAML: expected a single document"),
])
def test_yaml_syntax_errors_have_line_and_column(text, where):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "s.yaml")
    assert str(info.value).startswith(where)


def test_line_numbers_map_keys_and_items():
    _, lines = parse_yaml(FULL, "full.yaml")
    text_lines = FULL.splitlines()
    assert text_lines[lines[("optimizer", "lr")] - 1].strip() == "lr: 3e-4"
    assert text_lines[lines[("training", "early_stopping", "monitor")] - 1].strip() \
        == "monitor: val_accuracy"
    assert lines[("model", "hidden", 1)] == lines[("model", "hidden")]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"description: caf\xe9\n")
    with pytest.raises(ConfigError, match="latin1.yaml: expected UTF-8"):
        load_config(bad)


# ---------------------------------------------------------------- overrides
def test_overrides_nested_list_and_new_mappings(tmp_path):
    path = _write(tmp_path, "optimizer:\n  lr: 0.1\nmodel:\n  hidden: [8]\n")
    cfg = load_config(path, ["optimizer.lr=1e-3", "model.hidden=[128, 64]",
                             "model.activation=tanh", "optimizer.lookahead.k=3",
                             "data.params.noise=0.2", "data.dataset=make_moons",
                             "training.batch_size=full", "optimizer.clip_norm=null",
                             "model.batch_norm=true", "description= spaced out "])
    assert cfg.optimizer.lr == 0.001
    assert cfg.model.hidden == [128, 64] and cfg.model.activation == "tanh"
    assert cfg.optimizer.lookahead.k == 3 and cfg.optimizer.lookahead.alpha == 0.5
    assert cfg.data.params == {"noise": 0.2} and cfg.data.dataset == "make_moons"
    assert cfg.training.batch_size == "full" and cfg.model.batch_norm is True
    assert cfg.description == "spaced out"


def test_apply_overrides_returns_a_new_dict():
    data = {"optimizer": {"lr": 0.1}}
    out = apply_overrides(data, ["optimizer.lr=0.5", "a.b.c=[1, {d: 2}]"])
    assert out == {"optimizer": {"lr": 0.5}, "a": {"b": {"c": [1, {"d": 2}]}}}
    assert data == {"optimizer": {"lr": 0.1}}
    assert apply_overrides({"x": None}, ["x.y=1"]) == {"x": {"y": 1}}


@pytest.mark.parametrize("item,fragment", [
    ("optimizer.lr", "expected key.path=value"),
    ("=3", "expected key.path=value"),
    ("a..b=1", "expected key.path=value"),
    ("optimizer.lr.x=1", "optimizer.lr is 0.1, not a mapping"),
    ("optimizer.lr=[1", "invalid YAML"),
    ("optimizer.lr=&a 1", "anchors (&a) are not allowed"),
])
def test_bad_overrides(item, fragment):
    with pytest.raises(ConfigError) as info:
        apply_overrides({"optimizer": {"lr": 0.1}}, [item])
    assert fragment in str(info.value) and repr(item) in str(info.value)


def test_override_errors_point_at_the_override(tmp_path):
    path = _write(tmp_path, "optimizer:\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["optimizer.lr=fast", "training.epochs=0"])
    assert sorted(info.value.problems) == [
        "override 'optimizer.lr=fast': optimizer.lr: expected a number, got 'fast'",
        "override 'training.epochs=0': training.epochs: expected a value >= 1, got 0",
    ]


# --------------------------------------------------------------- round trip
def test_dump_then_load_is_equal(tmp_path):
    cfg = load_config(_write(tmp_path, FULL))
    text = dump_config(cfg)
    assert load_config(_write(tmp_path, text, "dumped.yaml")) == cfg
    assert "{" not in text.replace("{}", "") and "[" not in text.replace("[]", "")
    assert list(yaml.safe_load(text)) == list(Config.model_fields)

    odd = load_config("-", text=textwrap.dedent("""\
        name: '1e5'
        description: "line one\\nline: two # not a comment"
        data: {path: data/x.csv, label: target}
        model: {hidden: [], activation: [], dropout: [], init_from: runs/r1}
        loss: {class_weight: {0: 1.5, 1: 1}}
        """))
    assert load_config("-", text=dump_config(odd)) == odd
    assert odd.name == "1e5" and odd.model.hidden == []


def test_config_to_dict_is_plain_json():
    data = config_to_dict(load_config("-", text=FULL))
    assert json.loads(json.dumps(data)) == data
    assert data["optimizer"]["betas"] == [0.85, 0.99]
    assert data["optimizer"]["lookahead"] == {"k": 6, "alpha": 0.6}


def test_schema_has_title_descriptions_and_choices():
    schema = config_schema()
    assert schema["title"] == "nncli experiment"
    assert json.loads(json.dumps(schema)) == schema
    sections = [schema] + list(schema["$defs"].values())
    for section in sections:
        for key, prop in section["properties"].items():
            assert prop.get("description"), f"{section['title']}.{key} has no description"
    model = schema["$defs"]["ModelConfig"]["properties"]
    assert model["activation"]["oneOf"][0]["enum"] == list(ACTIVATION_NAMES)
    assert schema["$defs"]["OptimizerConfig"]["properties"]["name"]["enum"] == list(OPTIMIZER_NAMES)


def _literal_args(annotation) -> set:
    found = set()
    for arg in typing.get_args(annotation):
        found |= {arg} if isinstance(arg, str) else _literal_args(arg)
    return found


@pytest.mark.parametrize("model,key,names", [
    (C.ModelConfig, "activation", ACTIVATION_NAMES), (C.ModelConfig, "output", OUTPUT_NAMES),
    (C.ModelConfig, "init", ("auto",) + INIT_NAMES), (C.LossConfig, "name", ("auto",) + LOSS_NAMES),
    (C.OptimizerConfig, "name", OPTIMIZER_NAMES), (C.ScheduleConfig, "name", SCHEDULE_NAMES),
    (C.DataConfig, "dataset", DATASET_NAMES),
])
def test_choice_fields_use_the_name_tuples(model, key, names):
    assert _literal_args(model.model_fields[key].annotation) == set(names)


def test_import_does_not_load_numpy():
    code = "import sys, nncli.config; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------- property tests
BASE = {"name": "prop", "optimizer": {"lr": 0.01, "name": "sgd"},
        "model": {"hidden": [16]}, "training": {"epochs": 5}}

EDITS = {
    ("optimizer", "lr"): st.floats(1e-6, 1.0),
    ("optimizer", "name"): st.sampled_from(OPTIMIZER_NAMES),
    ("optimizer", "betas"): st.lists(st.floats(0.0, 0.999), min_size=2, max_size=2),
    ("optimizer", "lookahead", "k"): st.integers(1, 20),
    ("optimizer", "schedule", "name"): st.sampled_from(SCHEDULE_NAMES),
    ("model", "hidden"): st.lists(st.integers(1, 512), max_size=4),
    ("model", "batch_norm"): st.booleans(),
    ("data", "params", "noise"): st.floats(0.0, 1.0),
    ("training", "epochs"): st.integers(1, 1000),
    ("training", "batch_size"): st.one_of(st.integers(1, 4096), st.just("full")),
    ("description",): st.text("abc xyz:#-'\"019", max_size=12),
    ("seed",): st.integers(0, 2**31),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(EDITS)).flatmap(lambda k: st.tuples(st.just(k), EDITS[k])))
def test_override_equals_the_same_edit_in_the_file(edit):
    path, value = edit
    edited = copy.deepcopy(BASE)
    node = edited
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    from_file = load_config("-", text=yaml.safe_dump(edited))
    from_override = load_config("-", [f"{'.'.join(path)}={json.dumps(value)}"],
                                text=yaml.safe_dump(BASE))
    assert from_override == from_file


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([("optimizer.lr", -0.5), ("training.epochs", 0), ("seed", -1),
                        ("optimizer.name", "adamx"), ("model.hidden", [0])]))
def test_bad_override_reports_like_the_same_bad_file(edit):
    dotted, value = edit
    edited = apply_overrides(BASE, [f"{dotted}={json.dumps(value)}"])
    file_problems = _problems(yaml.safe_dump(edited))
    override_problems = _problems(yaml.safe_dump(BASE), [f"{dotted}={json.dumps(value)}"])
    strip = lambda ps: [p.split(": ", 1)[1] for p in ps]    # drop "file:line" / "override '..'"
    assert strip(override_problems) == strip(file_problems)
    assert all(p.split(": ", 2)[1].startswith(dotted) for p in file_problems)


# ------------------------------------------------------ table-driven fuzzing
def _mutate(data, op, path, arg=None):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    if op == "drop":
        del node[path[-1]]
    elif op == "rename":
        node[arg] = node.pop(path[-1])
    else:
        node[path[-1]] = arg
    return data


DROPS = [("optimizer", "lr"), ("model",), ("training", "early_stopping", "patience"),
         ("data", "params"), ("optimizer", "schedule"), ("optimizer", "lookahead"), ("seed",)]

BREAKS = [  # op, path, arg, dotted path that must be named
    ("rename", ("optimizer", "lr"), "learning_rate", "optimizer.learning_rate"),
    ("rename", ("model", "hidden"), "hiden", "model.hiden"),
    ("rename", ("training", "epochs"), "epoch", "training.epoch"),
    ("rename", ("optimizer", "schedule", "gamma"), "gama", "optimizer.schedule.gama"),
    ("rename", ("data",), "dataset", "dataset"),
    ("rename", ("training", "early_stopping", "min_delta"), "mindelta",
     "training.early_stopping.mindelta"),
    ("set", ("optimizer", "lr"), "fast", "optimizer.lr"),
    ("set", ("training", "epochs"), 2.5, "training.epochs"),
    ("set", ("seed",), "0", "seed"),
    ("set", ("model", "hidden"), "128", "model.hidden"),
    ("set", ("model", "hidden"), [64, "x"], "model.hidden.1"),
    ("set", ("training", "shuffle"), "yes", "training.shuffle"),
    ("set", ("optimizer", "betas"), 0.9, "optimizer.betas"),
    ("set", ("optimizer", "betas"), [0.9, "a"], "optimizer.betas.1"),
    ("set", ("data", "params"), [1], "data.params"),
    ("set", ("model",), "deep", "model"),
    ("set", ("optimizer", "lookahead"), 5, "optimizer.lookahead"),
    ("set", ("training", "batch_size"), -1, "training.batch_size"),
    ("set", ("training", "batch_size"), "all", "training.batch_size"),
    ("set", ("model", "dropout"), [0.1, 1.0], "model.dropout.1"),
    ("set", ("optimizer", "momentum"), 1.0, "optimizer.momentum"),
    ("set", ("optimizer", "schedule", "factor"), 1.0, "optimizer.schedule.factor"),
    ("set", ("optimizer", "schedule", "gamma"), 0, "optimizer.schedule.gamma"),
    ("set", ("data", "subset"), 1, "data.subset"),
    ("set", ("data", "validation"), -0.1, "data.validation"),
    ("set", ("optimizer", "eps"), 0, "optimizer.eps"),
    ("set", ("optimizer", "clip_norm"), 0.0, "optimizer.clip_norm"),
    ("set", ("optimizer", "lookahead", "alpha"), 1.5, "optimizer.lookahead.alpha"),
    ("set", ("regularization", "l2"), -1, "regularization.l2"),
    ("set", ("training", "early_stopping", "patience"), 0, "training.early_stopping.patience"),
    ("set", ("training", "checkpoint_every"), -1, "training.checkpoint_every"),
    ("set", ("model", "freeze"), -1, "model.freeze"),
    ("set", ("loss", "huber_delta"), 0, "loss.huber_delta"),
    ("set", ("loss", "class_weight"), {"0": -2}, "loss.class_weight.0"),
    ("set", ("name",), "a/b", "name"),
    ("set", ("data", "dataset"), "mnist", "data.dataset"),
    ("set", ("model", "activation"), "relux", "model.activation"),
    ("set", ("training", "early_stopping", "monitor"), "val_acc",
     "training.early_stopping.monitor"),
    ("set", ("training", "dtype"), "float16", "training.dtype"),
    ("set", ("model", "maxout_pieces"), 1, "model.maxout_pieces"),
]


@pytest.mark.parametrize("path", DROPS, ids=".".join)
def test_dropped_keys_fall_back_to_defaults(path):
    base, _ = parse_yaml(FULL, "full.yaml")
    cfg = validate(_mutate(base, "drop", path), "full.yaml")
    value, default = cfg, Config()
    for key in path:
        value, default = getattr(value, key), getattr(default, key)
    assert value == default


@pytest.mark.parametrize("op,path,arg,dotted", BREAKS, ids=[b[3] + "-" + b[0] for b in BREAKS])
def test_broken_configs_name_the_key_path(op, path, arg, dotted):
    base, lines = parse_yaml(FULL, "full.yaml")
    with pytest.raises(ConfigError) as info:
        validate(_mutate(base, op, path, arg), "full.yaml", lines)
    problems = info.value.problems
    assert any(p.split(": ", 2)[1] == dotted for p in problems), problems
    assert f": {dotted}: " in str(info.value)
    assert all(p.startswith("full.yaml") for p in problems)
