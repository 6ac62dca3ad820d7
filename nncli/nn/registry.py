"""The one lookup helper of the numeric core's name -> implementation dicts."""

from __future__ import annotations

import difflib


def lookup(registry: dict, name: str, what: str):
    """``registry[name]``, or a ValueError naming the bad name, the sorted choices and a close match.

    The tool validates names against the same dicts before they reach the core, so this
    message is for people using the core from Python.
    """
    if name in registry:
        return registry[name]
    close = difflib.get_close_matches(str(name), list(registry), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ValueError(f"unknown {what} '{name}': expected one of {', '.join(sorted(registry))}{hint}")
