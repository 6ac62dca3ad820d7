"""Tests of the experiment schema: loading, defaults, sections chosen by name, shorthands,
overrides, dumping and the JSON Schema. Error reports are in test_config_errors.py."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
import yaml
from helpers import FULL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncli.config import (
    ACTIVATION_NAMES,
    DATASET_NAMES,
    INIT_NAMES,
    LOSS_NAMES,
    OPTIMIZER_MODELS,
    OPTIMIZER_NAMES,
    OUTPUT_NAMES,
    SCHEDULE_MODELS,
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
from nncli.config.data import DataConfig
from nncli.config.model import ModelConfig
from nncli.config.schema import LossConfig
from nncli.config.validate import _section_model
from nncli.errors import ConfigError


def _write(tmp_path, text: str, name: str = "cfg.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(text: str, overrides=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config("-", overrides, text=text)
    return info.value.problems


# ------------------------------------------------------------------ loading
@pytest.mark.parametrize("text", ["", "# all defaults\n", "\n\n# nothing\n", "---\n"])
def test_an_empty_config_is_an_error(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: the config is empty")
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError, match="^<stdin>: the config is empty"):
        load_config("-", text=text)


def test_defaults_load_from_a_one_key_file(tmp_path):
    cfg = load_config(_write(tmp_path, "name: run  # all defaults\n"))
    assert cfg == Config()
    assert cfg.name == "run" and cfg.seed == 0
    assert cfg.data.dataset == "digits" and cfg.data.validation == 0.1 and cfg.data.test == 0.2
    assert cfg.model.hidden == [128] and cfg.model.activation == "relu"
    assert cfg.optimizer.name == "adam" and cfg.optimizer.lr == 0.001
    assert cfg.optimizer.betas == (0.9, 0.999)
    assert cfg.optimizer.schedule.name == "constant" and cfg.optimizer.lookahead is None
    # a budget of epochs that early stopping ends when the model stops improving; batches of
    # up to 200 samples, as scikit-learn's MLP defaults
    assert cfg.training.batch_size == 200 and cfg.training.epochs == 1000
    es = cfg.training.early_stopping
    assert es is not None and (es.monitor, es.patience, es.restore_best) == ("auto", "auto", True)
    assert cfg.loss.name == "auto" and cfg.model.init == "auto"


def test_full_example_loads(tmp_path):
    cfg = load_config(_write(tmp_path, FULL))
    assert cfg.name == "digits-mlp.v2" and cfg.seed == 7
    assert cfg.model.activation == ["prelu", "maxout"] and cfg.model.dropout == [0.1, 0.2]
    assert (cfg.model.leaky_slope, cfg.model.maxout_pieces, cfg.model.init_scale) == (0.02, 3, 0.05)
    assert cfg.optimizer.name == "adabound" and type(cfg.optimizer) is OPTIMIZER_MODELS["adabound"]
    assert cfg.optimizer.lr == pytest.approx(3e-4) and isinstance(cfg.optimizer.lr, float)
    assert cfg.optimizer.eps == pytest.approx(1e-7)
    assert cfg.optimizer.betas == (0.85, 0.99)
    assert (cfg.optimizer.final_lr, cfg.optimizer.gamma) == (0.05, 0.002)
    assert cfg.optimizer.lookahead.k == 6 and cfg.optimizer.lookahead.alpha == 0.6
    assert cfg.optimizer.schedule.name == "plateau" and type(cfg.optimizer.schedule) is SCHEDULE_MODELS["plateau"]
    assert cfg.optimizer.schedule.min_lr == pytest.approx(1e-6) and cfg.optimizer.schedule.patience == 4
    assert cfg.training.batch_size == "full" and cfg.training.dtype == "float64"
    assert cfg.training.early_stopping.monitor == "val_accuracy"  # enabled: true is still read
    assert cfg.loss.class_weight == "balanced" and cfg.loss.huber_delta == 2.0
    assert cfg.model.freeze == 1 and cfg.model.bias is False


def test_full_example_sets_every_key():
    """Every key of every section, the optimizer and schedule sections being those of the
    names FULL chooses (the other names' keys are in OPTIMIZER_EXAMPLES / SCHEDULE_EXAMPLES)."""
    data, _ = parse_yaml(FULL, "full.yaml")

    def keys(model, prefix=()):
        for key in model.model_fields:
            yield prefix + (key,)
            sub = _section_model(prefix + (key,), data)
            if sub is not None:
                yield from keys(sub, prefix + (key,))

    seen = list(keys(Config))
    assert ("optimizer", "final_lr") in seen and ("optimizer", "schedule", "factor") in seen
    assert ("optimizer", "lookahead", "alpha") in seen and ("training", "early_stopping", "min_delta") in seen
    for path in seen:
        if path in (("data", "path"), ("data", "id"), ("data", "weight")):
            continue        # exclusive with dataset; a dataset has no ID or weight column
        if path[:2] == ("model", "layers"):
            continue        # exclusive with model.hidden (tests/test_layer_list.py sets every kind)
        node = data
        for key in path:
            assert key in node, f"FULL lacks {'.'.join(path)}"
            node = node[key]


# every key of every optimizer and schedule, set away from its default
OPTIMIZER_EXAMPLES = {
    "sgd": dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.001),
    "momentum": dict(lr=0.05, momentum=0.8, weight_decay=0.001),
    "nesterov": dict(lr=0.05, momentum=0.8, weight_decay=0.001),
    "adagrad": dict(lr=0.05, eps=1e-9, weight_decay=0.001),
    "rmsprop": dict(lr=0.05, rho=0.9, eps=1e-7, weight_decay=0.001),
    "adam": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001),
    "adamw": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001),
    "amsgrad": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001),
    "nadam": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001, momentum_decay=0.01),
    "radam": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001),
    "adabound": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001, final_lr=0.2, gamma=0.01),
    "swats": dict(lr=0.05, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.001, switch_tol=0.01),
}
SCHEDULE_EXAMPLES = {
    "constant": {},
    "step": dict(step_size=3, gamma=0.5),
    "exponential": dict(gamma=0.9),
    "invscaling": dict(power_t=0.25),
    "cosine": dict(warmup=2, min_lr=1e-6),
    "plateau": dict(patience=4, factor=0.5, threshold=0.001, min_lr=1e-6),
}
_SHARED = {"name", "lookahead", "clip_norm", "schedule"}


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_optimizer_key_loads(name):
    example = OPTIMIZER_EXAMPLES[name]
    model = OPTIMIZER_MODELS[name]
    assert set(example) == set(model.model_fields) - _SHARED
    cfg = validate({"optimizer": {"name": name, **example}})
    assert type(cfg.optimizer) is model
    got = config_to_dict(cfg)["optimizer"]
    assert list(got)[0] == "name" and list(got)[-3:] == ["lookahead", "clip_norm", "schedule"]
    for key, value in example.items():
        assert got[key] == value and got[key] != model.model_fields[key].default, key


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_every_schedule_key_loads(name):
    example = SCHEDULE_EXAMPLES[name]
    model = SCHEDULE_MODELS[name]
    assert set(example) == set(model.model_fields) - {"name"}
    cfg = validate({"optimizer": {"schedule": {"name": name, **example}}})
    assert type(cfg.optimizer.schedule) is model
    got = config_to_dict(cfg)["optimizer"]["schedule"]
    assert got == {"name": name, **example}


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
    assert cfg.data.path == str(Path.cwd() / "data" / "train.csv") and cfg.data.dataset is None
    cfg = load_config("-", text="data: {path: x.npz, dataset: null}\n")
    assert cfg.data.dataset is None


def test_class_weight_labels_become_strings():
    cfg = load_config("-", text="loss:\n  class_weight: {0: 1.0, 1: 3.5, cat: 2}\n")
    assert cfg.loss.class_weight == {"0": 1.0, "1": 3.5, "cat": 2.0}


# ------------------------------------------- sections chosen by name, shorthands, no-ops
def test_shorthands_equal_their_long_forms():
    short = load_config("-", text="optimizer: sgd\nloss: mse\n")
    long = load_config("-", text="optimizer: {name: sgd}\nloss: {name: mse}\n")
    assert short == long
    assert type(short.optimizer) is OPTIMIZER_MODELS["sgd"] and short.optimizer.momentum == 0.0
    assert short.optimizer.lr == 1e-3 and short.loss.name == "mse"
    sched = load_config("-", text="optimizer: {name: momentum, schedule: step}\n")
    assert sched.optimizer.schedule == SCHEDULE_MODELS["step"]() and sched.optimizer.momentum == 0.9
    assert sched == load_config("-", text="optimizer: {name: momentum, schedule: {name: step}}\n")


@pytest.mark.parametrize("value,on", [
    ("true", True), ("{}", True), ("{patience: 3}", True), ("{enabled: true, patience: 3}", True),
    ("false", False), ("null", False), ("{enabled: false}", False),
])
def test_early_stopping_is_on_when_its_section_is_a_mapping(value, on):
    cfg = load_config("-", text=f"training: {{early_stopping: {value}}}\n")
    es = cfg.training.early_stopping
    assert (es is not None) == on
    if on:
        assert es.monitor == "auto" and es.restore_best is True
        assert es.patience == (3 if "patience" in value else "auto")
        assert "enabled" not in config_to_dict(cfg)["training"]["early_stopping"]
    else:
        assert config_to_dict(cfg)["training"]["early_stopping"] is None


@pytest.mark.parametrize("text,problem", [
    ("loss: {name: mse, huber_delta: 2.0}\n",
     "<stdin>:1: loss.huber_delta: 2.0 has no effect: only the huber loss uses it (set loss.name: huber)"),
    ("model: {leaky_slope: 0.2}\n",
     "<stdin>:1: model.leaky_slope: 0.2 has no effect: only leaky_relu and prelu use it (set model.activation)"),
    ("model: {activation: maxout, init_scale: 0.2}\n",
     "<stdin>:1: model.init_scale: 0.2 has no effect: only the plain normal init uses it (set model.init: normal)"),
    ("model: {maxout_pieces: 3}\n",
     "<stdin>:1: model.maxout_pieces: 3 has no effect: only maxout uses it (set model.activation: maxout)"),
    ("optimizer: {name: adam, momentum: 0.9}\n",
     "<stdin>:1: optimizer.momentum: 'momentum' does nothing with optimizer.name adam (adam's own keys are "
     "betas, eps); it belongs to momentum, nesterov, sgd: set optimizer.name to use it"),
    ("optimizer: {name: sgd, schedule: {name: step, warmup: 2}}\n",
     "<stdin>:1: optimizer.schedule.warmup: 'warmup' does nothing with optimizer.schedule.name step (step's "
     "own keys are step_size, gamma); it belongs to cosine: set optimizer.schedule.name to use it"),
    ("training: {early_stopping: {enabled: false, patience: 3}}\n",
     "<stdin>:1: training.early_stopping: enabled: false turns early stopping off, yet patience is set: "
     "remove enabled: false to use them, or write early_stopping: false"),
    ("optimizer: {name: sgd, nesterov: true}\n",
     "<stdin>:1: optimizer.nesterov: expected momentum > 0 with nesterov: true, got momentum 0"),
])
def test_a_key_that_would_do_nothing_is_an_error(text, problem):
    assert _problems(text) == [problem]


def test_a_no_op_key_at_its_default_value_is_accepted():
    # the value a key has anyway changes nothing, so it is no silent no-op
    cfg = load_config("-", text="loss: {name: mse, huber_delta: 1.0}\nmodel: {leaky_slope: 0.01}\n")
    assert cfg.loss.huber_delta == 1.0 and cfg.model.leaky_slope == 0.01


def test_overrides_create_or_select_sections():
    cfg = load_config("-", ["training.early_stopping.patience=3"], text="training: {early_stopping: false}\n")
    assert cfg.training.early_stopping.patience == 3  # setting a key inside turns it on
    cfg = load_config("-", ["training.early_stopping.patience=3"], text="seed: 1\n")
    assert cfg.training.early_stopping.patience == 3
    cfg = load_config("-", ["optimizer.lr=0.5"], text="optimizer: sgd\n")
    assert type(cfg.optimizer) is OPTIMIZER_MODELS["sgd"] and cfg.optimizer.lr == 0.5
    # a section set to a name is that name with its defaults
    cfg = load_config("-", ["optimizer=sgd"], text="optimizer: {name: adam, lr: 0.1, betas: [0.8, 0.9]}\n")
    assert cfg.optimizer == OPTIMIZER_MODELS["sgd"]()
    cfg = load_config("-", ["optimizer.schedule=cosine", "optimizer.schedule.warmup=2"], text="seed: 1\n")
    assert cfg.optimizer.schedule == SCHEDULE_MODELS["cosine"](warmup=2)


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


def test_schema_offers_exactly_one_section_per_optimizer_and_schedule_name():
    """An editor validating with the schema must find one matching branch for a valid section
    (JSON Schema's oneOf fails when two match), so each branch is one name with only its keys."""
    schema = config_schema()
    defs = schema["$defs"]
    for prop, names in ((schema["properties"]["optimizer"], OPTIMIZER_NAMES),
                        (defs["AdamConfig"]["properties"]["schedule"], SCHEDULE_NAMES)):
        branches = [defs[b["$ref"].split("/")[-1]] for b in prop["oneOf"]]
        assert [b["properties"]["name"].get("const") for b in branches] == list(names)
        assert all(b.get("additionalProperties") is False for b in branches)


def _literal_args(annotation) -> set:
    found = set()
    for arg in typing.get_args(annotation):
        found |= {arg} if isinstance(arg, str) else _literal_args(arg)
    return found


@pytest.mark.parametrize("model,key,names", [
    (ModelConfig, "activation", ACTIVATION_NAMES), (ModelConfig, "output", OUTPUT_NAMES),
    (ModelConfig, "init", ("auto",) + INIT_NAMES), (LossConfig, "name", ("auto",) + LOSS_NAMES),
    (DataConfig, "dataset", DATASET_NAMES),
])
def test_choice_fields_use_the_name_tuples(model, key, names):
    assert _literal_args(model.model_fields[key].annotation) == set(names)


@pytest.mark.parametrize("models,names", [(OPTIMIZER_MODELS, OPTIMIZER_NAMES), (SCHEDULE_MODELS, SCHEDULE_NAMES)],
                         ids=["optimizer", "schedule"])
def test_named_sections_have_one_model_per_name(models, names):
    assert tuple(models) == names
    for name, model in models.items():
        assert _literal_args(model.model_fields["name"].annotation) == {name}
        assert model.model_fields["name"].default == name


def test_import_does_not_load_numpy():
    code = "import sys, nncli.config; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------- property tests
BASE = {"name": "prop", "optimizer": {"lr": 0.01, "name": "adam"},
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
