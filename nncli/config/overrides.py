"""``key.path=value`` overrides, applied to the parsed YAML before validation.

Values are YAML (``[128,64]``, ``0.01``, ``1e-3``, ``true``, ``null``). Setting a key under a
section that is off or absent creates the section (``training.early_stopping.patience=3`` turns
early stopping on, as passing EarlyStopping(patience=3) does in Keras); setting a section to a
name selects it with its defaults (``optimizer=sgd``, as Hydra's group override).
"""

from __future__ import annotations

import copy
from typing import Sequence

from nncli.config.fields import _show
from nncli.config.safeyaml import dotted, load_yaml
from nncli.errors import ConfigError
from nncli.paths import shown


def label(item: str) -> str:
    """How messages name an override: quoted, and shortened when it is very long."""
    return f"override {item!r}" if len(item) <= 100 else f"override '{shown(item, 100)}'"


def split_override(item: str) -> tuple[tuple[str, ...], str]:
    key, eq, value = item.partition("=")
    keys = tuple(k.strip() for k in key.split("."))
    if not eq or not all(keys):
        raise ConfigError(f"{label(item)}: expected key.path=value, e.g. optimizer.lr=0.01")
    return keys, value


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Return a copy of ``data`` with each ``a.b.c=value`` applied (value parsed as YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        keys, text = split_override(item)
        value, _ = load_yaml(text, f"{label(item)}", empty=None)
        node = data
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None or child is False or child is True:
                child = {}  # absent or off: setting a key inside turns the section on
            elif isinstance(child, str):
                child = {"name": child}  # a section given by its name alone
            node[key] = child
            node = child
            if not isinstance(node, dict):
                raise ConfigError(f"{label(item)}: {dotted(keys[:depth + 1])} is {_show(node)}, "
                                  "not a mapping, so it has no keys")
        node[keys[-1]] = value
    return data
