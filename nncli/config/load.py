"""Experiment files: reading (size-capped, through the safe YAML loader), overrides and
validation in one call, and dumping the resolved config back to YAML.

This package imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from nncli.config.overrides import apply_overrides, split_override
from nncli.config.safeyaml import Dumper, load_yaml
from nncli.config.schema import Config, _show
from nncli.config.validate import validate
from nncli.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[tuple, int]]:
    """Parse a config file's text; return the mapping and {key path: 1-based line}."""
    data, lines = load_yaml(text, filename, empty=None)
    if data is None:
        raise ConfigError(f"{filename}: the config is empty; expected a mapping of keys such as "
                          "data.dataset (nncli config show prints every key with its default)")
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}:1: expected a mapping of keys at the top level, "
                          f"got {_show(data)}")
    return data, lines


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
        keys = split_override(item)[0]
        lines = {k: v for k, v in lines.items() if k[:len(keys)] != keys}
        lines[keys] = f"override {item!r}"
    return validate(data, filename, lines)


def read_config_text(path: str | Path) -> str:
    """The text of an experiment file (size-capped), for callers that load it several times."""
    return _read_text(Path(path))


_LAST = ("lookahead", "clip_norm", "schedule")  # the optimizer keys every optimizer shares


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain JSON-able data, keys in schema order (a named section's
    ``name`` first, the optimizer's shared keys after its own)."""
    def order(node):
        if not isinstance(node, dict):
            return node
        keys = sorted(node, key=lambda k: (k != "name", k in _LAST))  # stable: schema order otherwise
        return {k: order(node[k]) for k in keys}
    data = order(cfg.model_dump(mode="json"))
    if data.get("sweep") is None:  # only configs that describe a sweep show the section
        data.pop("sweep", None)
    return data


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
