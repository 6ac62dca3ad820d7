"""YAML read safely: no tags beyond the core ones, no anchors or aliases (so no alias bombs),
no duplicate keys, a depth limit, and ``1e-3`` read as the number it looks like.

``load_yaml`` also reports the line of every key, so that config errors can point at them.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import yaml

from nncli.errors import ConfigError

MAX_YAML_DEPTH = 64


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


class Dumper(yaml.SafeDumper):
    """SafeDumper that quotes strings the loader would read as exponent floats."""


_Loader.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))
Dumper.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":timestamp", ":merge", ":value"))]
    for ch, resolvers in _Loader.yaml_implicit_resolvers.items()}


def _walk(loader: _Loader, node: Any, path: tuple, lines: dict) -> None:
    """Record the line of every key and list item; reject duplicate and non-scalar keys."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Rejected(f"{dotted(path) or 'top level'}: expected plain keys, "
                                "got a list or mapping as a key", key_node.start_mark)
            key = loader.construct_object(key_node)
            if key in seen:
                raise _Rejected(f"duplicate key {dotted(path + (key,))!r} "
                                f"(first on line {seen[key]}, again on line {line})",
                                key_node.start_mark)
            seen[key] = lines[path + (key,)] = line
            _walk(loader, value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(loader, item, path + (i,), lines)


def load_yaml(text: str, where: str, empty: Any = None) -> tuple[Any, dict[tuple, int]]:
    """Parse one YAML document safely (``empty`` when there is none).

    Errors are prefixed with ``where`` (a file name or an override).
    """
    lines: dict[tuple, int] = {}
    try:
        loader = _Loader(text)  # the reader checks characters here already
    except yaml.reader.ReaderError as exc:
        raise ConfigError(_bad_character(exc, text, where)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return empty, lines
        _walk(loader, node, (), lines)
        return loader.construct_document(node), lines
    except _Rejected as exc:
        raise ConfigError(f"{where}:{exc.line}: {exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, found while reading on
        raise ConfigError(_bad_character(exc, text, where)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            problem = f"{exc.context} {exc.problem}"
        raise ConfigError(f"{where}{pos}: invalid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _bad_character(exc: yaml.reader.ReaderError, text: str, where: str) -> str:
    """``file:line:column: ...`` for a character YAML forbids (a control character, a lone
    surrogate), with how to write it instead."""
    pos = exc.position if isinstance(exc.position, int) and 0 <= exc.position <= len(text) else 0
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    head = f"{where}:{line}:{column}: invalid YAML: character U+{code:04X}"
    if code <= 0xFF:  # a control character: double-quoted YAML strings can spell it
        return f'{head} (a control character); write it as "\\x{code:02x}" inside double quotes or remove it'
    return f"{head} is not allowed in YAML; remove it"


def dotted(path: Sequence[Any]) -> str:
    """('optimizer', 'lr') -> 'optimizer.lr'"""
    return ".".join(str(p) for p in path)
