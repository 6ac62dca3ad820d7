"""Experiment files: reading (size-capped, through the safe YAML loader), overrides and
validation in one call, and dumping the resolved config back to YAML.

This package imports neither numpy nor anything else heavy so the CLI starts fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Any, Sequence

import yaml

from nncli.config.fields import _show
from nncli.config.overrides import apply_overrides, label, split_override
from nncli.config.safeyaml import Dumper, load_yaml
from nncli.config.schema import Config
from nncli.config.validate import validate
from nncli.errors import ConfigError
from nncli.paths import check_path

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
    check_path(path, "config file", ConfigError)
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
    escaped = re.search("[\udc80-\udcff]", text) if text is not None else None
    if escaped:  # bytes that were not UTF-8, kept by the surrogateescape error handler of stdin
        raise ConfigError(f"{filename}: expected UTF-8 text, got byte 0x{ord(escaped.group()) - 0xDC00:02x} "
                          f"at character {escaped.start()}")
    if text is None:
        if str(path) == "-":
            raise ConfigError("<stdin>: no config text was given")
        text = _read_text(Path(path))
    elif len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{filename}: config text is larger than the limit of "
                          f"{MAX_CONFIG_BYTES} bytes (1 MiB)")
    data, lines = parse_yaml(text, filename)
    base = Path(path).parent if str(path) != "-" else Path.cwd()
    data = _absolute_data_path(data, base)  # as the file meant it: beside the config
    data = apply_overrides(data, overrides)
    if "name" not in data:  # runs of configs/iris.yaml are called iris, as the file is
        data["name"] = default_name(path)
    data = _absolute_data_path(data, Path.cwd())  # an override: where the command was typed
    for item in overrides:
        keys = split_override(item)[0]
        lines = {k: v for k, v in lines.items() if k[:len(keys)] != keys}
        lines[keys] = label(item)
    return validate(data, filename, lines)


def default_name(path: str | Path) -> str:
    """The run name of a config that sets none: the file's stem (``iris`` for configs/iris.yaml),
    made fit for a directory name; ``run`` for a config read from stdin."""
    if str(path) == "-":
        return "run"
    ascii_stem = unicodedata.normalize("NFKD", Path(path).stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem)
    stem = re.sub(r"\.{2,}", ".", stem).lstrip("._-")[:64].rstrip("._-")
    return stem or "run"


def _absolute_data_path(data: Any, base: Path) -> Any:
    """``data.path`` made absolute against ``base``, so a run's saved config works from any
    directory (a value that is not a string is left for validation to report)."""
    section = data.get("data") if isinstance(data, dict) else None
    value = section.get("path") if isinstance(section, dict) else None
    if not isinstance(value, str) or not value or "\0" in value:
        return data
    p = Path(value).expanduser()
    if p.is_absolute() and p == Path(value):
        return data
    return {**data, "data": {**section, "path": os.path.normpath(os.path.join(os.path.abspath(base), p))}}


def load_saved_config(path: str | Path, run_format: int = 2) -> Config:
    """A run's saved config, read as the version that wrote it meant it (see migrate.py)."""
    from nncli.config.migrate import migrate

    data, lines = parse_yaml(_read_text(Path(path)), str(path))
    return validate(migrate(data, run_format), str(path), lines)


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


# keys that describe a run rather than define its model and training: editing them in a run's
# config.yaml changes nothing the saved weights depend on
_DESCRIPTIVE = ("name", "description")


def config_hash(cfg: Config) -> str:
    """SHA-256 of the resolved config (descriptive keys left out), saved beside the weights."""
    data = {k: v for k, v in config_to_dict(cfg).items() if k not in _DESCRIPTIVE}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_differences(saved: Any, cfg: Config) -> list[str]:
    """The dotted keys where ``cfg`` differs from ``saved`` (a config_to_dict saved with the
    weights), as ``key: saved -> now``. Keys the saved copy lacks (added to the schema since,
    with their defaults) do not count."""
    def walk(a, b, prefix):
        out = []
        for k in a:
            if prefix == "" and k in _DESCRIPTIVE:
                continue
            if isinstance(a[k], dict) and isinstance(b.get(k), dict):
                out += walk(a[k], b[k], f"{prefix}{k}.")
            elif k not in b or a[k] != b[k]:
                out.append(f"{prefix}{k}: {_show(a[k])} -> {_show(b.get(k))}")
        return out
    if not isinstance(saved, dict):
        return ["(the saved config is not a mapping)"]
    return walk(saved, config_to_dict(cfg), "")


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
