"""Config error reports: every problem at once, at its key and line, for mistyped, hostile
or broken experiment files (table-driven over the schema)."""

from __future__ import annotations

import copy
import textwrap
import time

import pytest
from helpers import FULL

from nncli.config import MAX_CONFIG_BYTES, load_config, parse_yaml, validate
from nncli.errors import ConfigError


def _write(tmp_path, text: str, name: str = "cfg.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


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
    ("data:\n  path: x.json\n", ["data.path: expected a .csv"]),
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
          name: sgd
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
                                      ("just text\n", "'just text'")])
def test_top_level_must_be_a_mapping(text, got):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "top.yaml")
    assert str(info.value) == f"top.yaml:1: expected a mapping of keys at the top level, got {got}"


@pytest.mark.parametrize("text", ["null\n", "~\n", "", "# only a comment\n"])
def test_a_null_or_empty_document_is_an_empty_config(text):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "top.yaml")
    assert str(info.value) == ("top.yaml: the config is empty; expected a mapping of keys such as "
                               "data.dataset (nncli config show prints every key with its default)")


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
    ("rename", ("optimizer", "schedule", "factor"), "factr", "optimizer.schedule.factr"),
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
    ("set", ("optimizer",), {"name": "sgd", "momentum": 1.0}, "optimizer.momentum"),
    ("set", ("optimizer", "schedule", "factor"), 1.0, "optimizer.schedule.factor"),
    ("set", ("optimizer", "schedule"), {"name": "step", "gamma": 0}, "optimizer.schedule.gamma"),
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
    # keys that would do nothing with the other choices made
    ("set", ("optimizer", "momentum"), 0.9, "optimizer.momentum"),
    ("set", ("optimizer", "schedule", "gamma"), 0.5, "optimizer.schedule.gamma"),
    ("set", ("loss", "name"), "mse", "loss.huber_delta"),
    ("set", ("model", "activation"), ["relu", "tanh"], "model.leaky_slope"),
    ("set", ("model", "activation"), ["prelu", "tanh"], "model.maxout_pieces"),
    ("set", ("model", "init"), "he_uniform", "model.init_scale"),
    ("set", ("training", "early_stopping", "enabled"), False, "training.early_stopping"),
]


@pytest.mark.parametrize("path", DROPS, ids=".".join)
def test_dropped_keys_fall_back_to_defaults(path):
    """A dropped key takes the default of its own section (the chosen optimizer's, say)."""
    base, _ = parse_yaml(FULL, "full.yaml")
    cfg = validate(_mutate(base, "drop", path), "full.yaml")
    section = cfg
    for key in path[:-1]:
        section = getattr(section, key)
    field = type(section).model_fields[path[-1]]
    assert getattr(section, path[-1]) == field.get_default(call_default_factory=True)
    assert path[-1] not in section.model_fields_set
    full = validate(base, "full.yaml")
    for key in path:
        full = getattr(full, key)
    if path != ("data", "params"):  # FULL gives digits no params: {} is all it can say
        assert full != getattr(section, path[-1])  # FULL set it to something else


@pytest.mark.parametrize("op,path,arg,dotted", BREAKS, ids=[b[3] + "-" + b[0] for b in BREAKS])
def test_broken_configs_name_the_key_path(op, path, arg, dotted):
    base, lines = parse_yaml(FULL, "full.yaml")
    with pytest.raises(ConfigError) as info:
        validate(_mutate(base, op, path, arg), "full.yaml", lines)
    problems = info.value.problems
    assert any(p.split(": ", 2)[1] == dotted for p in problems), problems
    assert f": {dotted}: " in str(info.value)
    assert all(p.startswith("full.yaml") for p in problems)
