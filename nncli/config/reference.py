"""The config reference as Markdown, made from the schema (``nncli config keys``); the
repository's docs/config.md is this text, and a test keeps it so."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from nncli.config.fields import ByName
from nncli.config.layers import KIND_ALIASES, LAYER_KINDS, LayerList
from nncli.config.schema import Config
from nncli.config.validate import _find_model


def _default(field) -> str:
    if field.default_factory is not None:
        return ""
    value = field.default
    if isinstance(value, tuple):
        value = list(value)
    try:
        return f"`{json.dumps(value)}`"
    except TypeError:
        return ""


def _rows(model: type[BaseModel], prefix: str, out: list[str], named: list[tuple[str, Any]]) -> None:
    for key, field in model.model_fields.items():
        path = prefix + key
        byname = next((m for m in field.metadata if isinstance(m, ByName)), None)
        if any(isinstance(m, LayerList) for m in field.metadata):
            out.append(f"| `{path}` | {_default(field)} | {field.description} |")
            continue
        if byname is not None:
            out.append(f"| `{path}` | `{byname.default}` | {field.description} See [{path}](#{_anchor(path)}). |")
            named.append((path, byname))
            continue
        out.append(f"| `{path}` | {_default(field)} | {field.description} |")
        sub = _find_model(field.annotation)
        if sub is not None:
            _rows(sub, path + ".", out, named)


def _layer_kinds() -> list[str]:
    """The ``model.layers`` section: each kind with its settings."""
    out = ["", "## model.layers", "",
           "Each entry is `{kind: settings}`; a scalar stands for the setting marked *, and a bare kind "
           "(`flatten`, `batch_norm`) for its defaults. The output layer follows the list. A model "
           "whose first layer is conv2d, a pooling layer or flatten reads images (see `data.layout`).", ""]
    for kind, (model, main) in LAYER_KINDS.items():
        out += [f"### {kind}", "", (model.__doc__ or "").strip(), ""]
        if model.model_fields:
            out += ["| key | default | meaning |", "|---|---|---|"]
            out += [f"| `{key}`{' *' if key == main else ''} | {_default(f)} | {f.description} |"
                    for key, f in model.model_fields.items()]
            out.append("")
    aliases = ", ".join(f"{a} ({k})" for a, k in KIND_ALIASES.items())
    return out + [f"Other tools' names are read as these kinds: {aliases}.", ""]


def _anchor(path: str) -> str:
    return path.replace(".", "")


def reference() -> str:
    """Every key with its default and meaning; sections chosen by name get one table per name."""
    out = ["# Config reference", "",
           "Generated from the schema by `nncli config keys`; every key has a default and unknown keys "
           "are refused with a \"did you mean\".", "",
           "| key | default | meaning |", "|---|---|---|"]
    named: list[tuple[str, ByName]] = []
    _rows(Config, "", out, named)
    out += _layer_kinds()
    while named:
        path, byname = named.pop(0)
        out += ["", f"## {path}", "",
                f"`{path}` is chosen by its `name` (default `{byname.default}`); `{path}: NAME` is short "
                f"for `{{name: NAME}}` with that choice's defaults. Each choice takes its own keys:", ""]
        for name, model in byname.models.items():
            out += [f"### {path}.name: {name}", "", (model.__doc__ or "").strip().splitlines()[0], "",
                    "| key | default | meaning |", "|---|---|---|"]
            _rows(model, path + ".", out, named)
            out.append("")
        named = [(p, b) for p, b in named if p != path]
        seen = set()
        named = [x for x in named if not (x[0] in seen or seen.add(x[0]))]
    return "\n".join(out).rstrip() + "\n"
