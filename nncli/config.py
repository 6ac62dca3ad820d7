"""Experiment files: loading (through ``safeyaml``), ``key=value`` overrides, validation, dumping.

Every problem in a file is reported at once as ``file:line: dotted.key: expected ..., got ...``.
This module imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from nncli.errors import ConfigError
from nncli.safeyaml import MAX_YAML_DEPTH, Dumper, dotted, load_yaml  # noqa: F401  (MAX_YAML_DEPTH: re-exported)
from nncli.schema import _UNION_TAGS, _show
from nncli.schema import (  # noqa: F401  (re-exported: the schema is part of this module's API)
    ACTIVATION_NAMES,
    OUTPUT_NAMES,
    LOSS_NAMES,
    OPTIMIZER_NAMES,
    SCHEDULE_NAMES,
    INIT_NAMES,
    DATASET_NAMES,
    DataConfig,
    ModelConfig,
    LossConfig,
    LookaheadConfig,
    ScheduleConfig,
    OptimizerConfig,
    RegularizationConfig,
    EarlyStoppingConfig,
    TrainingConfig,
    Config,
)

MAX_CONFIG_BYTES = 1024 * 1024


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    """Parse a config file's text; return the mapping and {key path: 1-based line}.

    An empty document is an empty mapping (every key has a default).
    """
    data, lines = load_yaml(text, filename, empty={})
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}:1: expected a mapping of keys at the top level, "
                     f"got {_show(data)}")
    return data, lines


# ----------------------------------------------------------------- overrides
def _split_override(item: str) -> tuple[tuple[str, ...], str]:
    key, eq, value = item.partition("=")
    keys = tuple(k.strip() for k in key.split("."))
    if not eq or not all(keys):
        raise ConfigError(f"override {item!r}: expected key.path=value, e.g. optimizer.lr=0.01")
    return keys, value


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Return a copy of ``data`` with each ``a.b.c=value`` applied (value parsed as YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        keys, text = _split_override(item)
        value, _ = load_yaml(text, f"override {item!r}", empty=None)
        node = data
        for depth, key in enumerate(keys[:-1]):
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                msg = (f"override {item!r}: {dotted(keys[:depth + 1])} is {_show(node)}, "
                       "not a mapping, so it has no keys")
                raise ConfigError(msg)
        node[keys[-1]] = value
    return data


# ---------------------------------------------------------------- validation
_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false", "string_type": "a string",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "invalid_key": "a string key",
    "missing": "a value",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


def _section_model(path: Sequence[Any]) -> type[BaseModel] | None:
    """The schema class of the section at ``path`` (None if it is not a section)."""
    model: Any = Config
    for key in path:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        model = _find_model(field.annotation) if field else None
        if model is None:
            return None
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _find_model(arg)
        if found:
            return found
    return None


def _all_keys(model: type[BaseModel], path: tuple = ()) -> list[tuple]:
    out = []
    for key, field in model.model_fields.items():
        out.append(path + (key,))
        sub = _find_model(field.annotation)
        if sub:
            out += _all_keys(sub, path + (key,))
    return out


def _unknown_key(path: tuple) -> str:
    key = path[-1]
    allowed = list(getattr(_section_model(path[:-1]), "model_fields", ()))
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    elsewhere = [dotted(p) for p in _all_keys(Config) if p[-1] == key]
    if elsewhere:
        return f"unknown key {key!r} here (did you mean {elsewhere[0]!r}?)"
    return f"unknown key {key!r}; expected one of {', '.join(sorted(allowed))}"


_NO_KEY = object()


def _clean_loc(loc: Sequence[Any], data: Any) -> tuple:
    """Pydantic's error location as a key path into ``data`` (union tags dropped)."""
    out: list[Any] = []
    node = data
    for elem in loc:
        if isinstance(node, dict):
            match = elem if elem in node else next(
                (k for k in node if str(k) == str(elem)), _NO_KEY)
            if match is not _NO_KEY:
                out.append(match)
                node = node[match]
                continue
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            out.append(elem)
            node = node[elem]
            continue
        if elem in _UNION_TAGS:
            continue
        out.append(elem)
        node = None
    return tuple(out)


def _describe(err: dict, path: tuple) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "config":
        return err["msg"]
    if kind in ("extra_forbidden", "invalid_key"):
        return _unknown_key(path)
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        expected = f"a value {op} {bound}"
    elif kind in ("too_short", "too_long"):
        expected = (f"at least {ctx.get('min_length')} items" if kind == "too_short"
                    else f"at most {ctx.get('max_length')} items")
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected')}"
    else:
        expected = _EXPECTED.get(kind, err["msg"])
    if kind in ("model_type", "dict_type") and not path:
        expected += " of keys at the top level"
    return f"expected {expected}, got {_show(err.get('input'))}"


def _where(filename: str, lines: dict, path: tuple) -> str:
    """``file:line`` of the nearest recorded key at or above ``path``, or an override label."""
    for key, label in lines.items():
        if isinstance(label, str) and key[:len(path)] == path and path:
            return label
    for n in range(len(path), 0, -1):
        line = lines.get(path[:n])
        if line is not None:
            return f"{filename}:{line}" if isinstance(line, int) else str(line)
    return filename


def validate(data: Any, filename: str = "<config>", lines: dict | None = None) -> Config:
    """Build a Config from parsed YAML; report every problem in one ConfigError.

    ``lines`` maps key paths to 1-based line numbers (or to a label such as an override).
    """
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors(include_url=False):
            path = _clean_loc(err["loc"], data)
            head = _where(filename, lines or {}, path) + (f": {dotted(path)}" if path else "")
            problem = f"{head}: {_describe(err, path)}"
            if problem not in problems:
                problems.append(problem)
        n = len(problems)
        headline = f"{filename}: {n} problem{'s' if n != 1 else ''} in the config"
        error = ConfigError(headline + "\n" + "\n".join(problems), problems)
        error.headline = headline
        raise error from None


# ------------------------------------------------------------------- loading
def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, expected a YAML config file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: config file has {size} bytes, more than the limit of "
                              f"{MAX_CONFIG_BYTES} (1 MiB)")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file is larger than the limit of "
                          f"{MAX_CONFIG_BYTES} bytes (1 MiB)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: expected UTF-8 text, got byte 0x{raw[exc.start]:02x} "
                          f"at offset {exc.start}") from None


def load_config(path: str | Path, overrides: Sequence[str] = (), text: str | None = None) -> Config:
    """Read, parse, override and validate an experiment file.

    ``path == "-"`` means ``text`` holds what was read from stdin (shown as ``<stdin>``).
    """
    filename = "<stdin>" if str(path) == "-" else str(path)
    if text is None:
        if str(path) == "-":
            raise ConfigError("<stdin>: no config text was given")
        text = _read_text(Path(path))
    elif len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{filename}: config text is larger than the limit of "
                          f"{MAX_CONFIG_BYTES} bytes (1 MiB)")
    data, lines = parse_yaml(text, filename)
    data = apply_overrides(data, overrides)
    for item in overrides:
        keys = _split_override(item)[0]
        lines = {k: v for k, v in lines.items() if k[:len(keys)] != keys}
        lines[keys] = f"override {item!r}"
    return validate(data, filename, lines)


def read_config_text(path: str | Path) -> str:
    """The text of an experiment file (size-capped), for callers that load it several times."""
    return _read_text(Path(path))


def expand_grid(grid: Sequence[str]) -> list[list[str]]:
    """Each ``key=[v1, v2, ...]`` is one axis; returns the cartesian product as override lists.

    ``["optimizer.lr=[0.1, 0.01]", "model.hidden=[[64], [128]]"]`` gives four lists such as
    ``["optimizer.lr=0.1", "model.hidden=[64]"]``.
    """
    axes = []
    for item in grid:
        keys, text = _split_override(item)
        key = dotted(keys)
        values, _ = load_yaml(text, f"--grid {item!r}", empty=None)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--grid {item!r}: expected a non-empty list of values, "
                         f"e.g. {key}=[0.1, 0.01], got {_show(values)}")
        axes.append([f"{key}={json.dumps(v)}" for v in values])
    return [list(combo) for combo in itertools.product(*axes)]


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain JSON-able data, keys in schema order."""
    return cfg.model_dump(mode="json")


def dump_config(cfg: Config) -> str:
    """The resolved config as block-style YAML that ``load_config`` reads back equal."""
    return yaml.dump(config_to_dict(cfg), Dumper=Dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True)


def config_schema() -> dict:
    """The JSON Schema of an experiment file, with descriptions for editor completion."""
    schema = Config.model_json_schema()
    schema["title"] = "nncli experiment"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
