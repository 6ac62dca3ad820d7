"""Validation of parsed YAML against the schema, with every problem reported at once as
``file:line: dotted.key: expected ..., got ...`` and a "did you mean" for unknown keys."""

from __future__ import annotations

import difflib
from typing import Any, Sequence

from pydantic import BaseModel, ValidationError

from nncli.config.aliases import foreign_key
from nncli.config.fields import _UNION_TAGS, ByName, _show
from nncli.config.safeyaml import dotted
from nncli.config.schema import Config
from nncli.errors import ConfigError

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


def _section_model(path: Sequence[Any], data: Any = None) -> type[BaseModel] | None:
    """The schema class of the section at ``path`` in ``data`` (None if it is not a section).

    A section chosen by its name (the optimizer, the schedule) is the model of that name.
    """
    model: Any = Config
    node = data
    for key in path:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        node = node.get(key) if isinstance(node, dict) else None
        model = _field_model(field, node) if field else None
        if model is None:
            return None
    return model


def _field_model(field, value: Any = None) -> type[BaseModel] | None:
    for meta in field.metadata:
        if isinstance(meta, ByName):
            return meta.model_for(_expanded(value))
    return _find_model(field.annotation)


def _expanded(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _find_model(arg)
        if found:
            return found
    return None


def _all_keys(model: type[BaseModel], path: tuple = ()) -> list[tuple]:
    """Every key path of the schema; sections chosen by name contribute every choice's keys."""
    out = []
    for key, field in model.model_fields.items():
        out.append(path + (key,))
        subs = next((list(m.models.values()) for m in field.metadata if isinstance(m, ByName)), None)
        for sub in subs or [s for s in [_find_model(field.annotation)] if s]:
            out += [p for p in _all_keys(sub, path + (key,)) if p not in out]
    return out


def _unknown_key(path: tuple, data: Any) -> str:
    key = path[-1]
    foreign = foreign_key(key)
    if foreign:
        return foreign
    section = _section_model(path[:-1], data)
    allowed = [k for k in getattr(section, "model_fields", ()) if k != "name"]
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    named = getattr(section, "model_fields", {}).get("name")
    if named is not None and section is not None:
        # a knob of another optimizer or schedule: say which ones take it
        parent = _section_model(path[:-2], data)
        field = parent.model_fields.get(path[-2]) if parent and path[-2:-1] else None
        byname = next((m for m in getattr(field, "metadata", ()) if isinstance(m, ByName)), None)
        if byname:
            takers = sorted(n for n, m in byname.models.items() if key in m.model_fields)
            shared = set.intersection(*(set(m.model_fields) for m in byname.models.values()))
            own = [k for k in allowed if k not in shared]
            this, where = named.default, dotted(path[:-1])
            takes = f"{this}'s own keys are {', '.join(own)}" if own else f"{this} has no settings"
            if takers:
                return (f"{key!r} does nothing with {where}.name {this} ({takes}); it belongs to "
                        f"{', '.join(takers)}: set {where}.name to use it")
            return f"unknown key {key!r}: {this} takes {', '.join(allowed)}"
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


def _describe(err: dict, path: tuple, data: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "config":
        return err["msg"]
    if kind in ("extra_forbidden", "invalid_key"):
        return _unknown_key(path, data)
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
            problem = f"{head}: {_describe(err, path, data)}"
            if problem not in problems:
                problems.append(problem)
        n = len(problems)
        headline = f"{filename}: {n} problem{'s' if n != 1 else ''} in the config"
        error = ConfigError(headline + "\n" + "\n".join(problems), problems)
        error.headline = headline
        raise error from None


