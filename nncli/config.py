"""Experiment files: safe YAML loading, ``key=value`` overrides, validation and dumping.

Every problem in a file is reported at once as ``file:line: dotted.key: expected ..., got ...``.
This module imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import re
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from nncli.errors import ConfigError
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
MAX_YAML_DEPTH = 64


# ---------------------------------------------------------------------- YAML
_FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.2 floats with an exponent and no dot (1e-3, 1E5, -2e-4); YAML 1.1 needs the dot.
_EXP_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null",
                                                      "seq", "map")}


class _Rejected(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.line = mark.line + 1


class _Loader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases, merge keys, timestamps or non-core tags."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Rejected(f"aliases (*{event.anchor}) are not allowed", event.start_mark)
        if event.anchor is not None:
            raise _Rejected(f"anchors (&{event.anchor}) are not allowed", event.start_mark)
        tag = event.tag
        if tag not in (None, "!") and tag not in _ALLOWED_TAGS:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise _Rejected(f"tag {shown!r} is not allowed", event.start_mark)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _Rejected(f"nesting deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes strings the loader would read as exponent floats."""


_Loader.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))
_Dumper.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":timestamp", ":merge", ":value"))]
    for ch, resolvers in _Loader.yaml_implicit_resolvers.items()}


def _error(message: str) -> ConfigError:
    """A ConfigError with a single problem."""
    return ConfigError(message, [message])


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path)


def _walk(loader: _Loader, node: Any, path: tuple, lines: dict) -> None:
    """Record the line of every key and list item; reject duplicate and non-scalar keys."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Rejected(f"{_dotted(path) or 'top level'}: expected plain keys, "
                                "got a list or mapping as a key", key_node.start_mark)
            key = loader.construct_object(key_node)
            if key in seen:
                raise _Rejected(f"duplicate key {_dotted(path + (key,))!r} "
                                f"(first on line {seen[key]}, again on line {line})",
                                key_node.start_mark)
            seen[key] = lines[path + (key,)] = line
            _walk(loader, value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(loader, item, path + (i,), lines)


def _load(text: str, where: str, empty: Any) -> tuple[Any, dict[tuple, int]]:
    """Parse one YAML document safely (``empty`` when there is none).

    Errors are prefixed with ``where`` (a file name or an override).
    """
    loader = _Loader(text)
    lines: dict[tuple, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return empty, lines
        _walk(loader, node, (), lines)
        return loader.construct_document(node), lines
    except _Rejected as exc:
        raise _error(f"{where}:{exc.line}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            problem = f"{exc.context} {exc.problem}"
        raise _error(f"{where}{pos}: invalid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise _error(f"{where}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    """Parse a config file's text; return the mapping and {key path: 1-based line}.

    An empty document is an empty mapping (every key has a default).
    """
    data, lines = _load(text, filename, empty={})
    if not isinstance(data, dict):
        raise _error(f"{filename}:1: expected a mapping of keys at the top level, "
                     f"got {_show(data)}")
    return data, lines


# ----------------------------------------------------------------- overrides
def _split_override(item: str) -> tuple[tuple[str, ...], str]:
    key, eq, value = item.partition("=")
    keys = tuple(k.strip() for k in key.split("."))
    if not eq or not all(keys):
        raise _error(f"override {item!r}: expected key.path=value, e.g. optimizer.lr=0.01")
    return keys, value


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Return a copy of ``data`` with each ``a.b.c=value`` applied (value parsed as YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        keys, text = _split_override(item)
        value, _ = _load(text, f"override {item!r}", empty=None)
        node = data
        for depth, key in enumerate(keys[:-1]):
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                msg = (f"override {item!r}: {_dotted(keys[:depth + 1])} is {_show(node)}, "
                       "not a mapping, so it has no keys")
                raise _error(msg)
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
    elsewhere = [_dotted(p) for p in _all_keys(Config) if p[-1] == key]
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
            head = _where(filename, lines or {}, path) + (f": {_dotted(path)}" if path else "")
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
            raise _error(f"{path}: is a directory, expected a YAML config file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _error(f"{path}: config file has {size} bytes, more than the limit of "
                              f"{MAX_CONFIG_BYTES} (1 MiB)")
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise _error(f"{path}: config file not found") from None
    except OSError as exc:
        raise _error(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise _error(f"{path}: config file is larger than the limit of "
                          f"{MAX_CONFIG_BYTES} bytes (1 MiB)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(f"{path}: expected UTF-8 text, got byte 0x{raw[exc.start]:02x} "
                          f"at offset {exc.start}") from None


def load_config(path: str | Path, overrides: Sequence[str] = (), text: str | None = None) -> Config:
    """Read, parse, override and validate an experiment file.

    ``path == "-"`` means ``text`` holds what was read from stdin (shown as ``<stdin>``).
    """
    filename = "<stdin>" if str(path) == "-" else str(path)
    if text is None:
        if str(path) == "-":
            raise _error("<stdin>: no config text was given")
        text = _read_text(Path(path))
    elif len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise _error(f"{filename}: config text is larger than the limit of "
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
        key = _dotted(keys)
        values, _ = _load(text, f"--grid {item!r}", empty=None)
        if not isinstance(values, list) or not values:
            raise _error(f"--grid {item!r}: expected a non-empty list of values, "
                         f"e.g. {key}=[0.1, 0.01], got {_show(values)}")
        axes.append([f"{key}={json.dumps(v)}" for v in values])
    return [list(combo) for combo in itertools.product(*axes)]


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain JSON-able data, keys in schema order."""
    return cfg.model_dump(mode="json")


def dump_config(cfg: Config) -> str:
    """The resolved config as block-style YAML that ``load_config`` reads back equal."""
    return yaml.dump(config_to_dict(cfg), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True)


def config_schema() -> dict:
    """The JSON Schema of an experiment file, with descriptions for editor completion."""
    schema = Config.model_json_schema()
    schema["title"] = "nncli experiment"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
