"""Paths from the command line or a config, checked before any file system call sees them.

A NUL byte or a name longer than file systems allow makes ``open`` and ``stat`` raise
ValueError or OSError from deep inside; ``path_problem`` says so up front, and ``shown``
renders any text for a one-line message (control characters escaped, long text shortened).
"""

from __future__ import annotations

import os

from nncli.errors import UsageError

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
PATH_MAX = 4096  # bytes in a whole path on Linux, counting the final NUL


def shown(text, limit: int = 80) -> str:
    """``text`` for a message: control characters escaped, at most ``limit`` characters."""
    text = str(text)
    out = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    if len(out) > limit:
        keep = limit - 20
        out = f"{out[:keep]}...{out[-17:]}"
    return out


def path_problem(path) -> str | None:
    """Why ``path`` cannot name a file on any file system nncli runs on, or None."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\x00" in text:
        return "contains a NUL byte, which no file name can hold"
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:
        return "is not valid text for a file name"
    if len(raw) >= PATH_MAX:
        return f"is {len(raw)} bytes long; paths are at most {PATH_MAX - 1}"
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > NAME_MAX:
        return f"has a name of {len(longest)} bytes; file names are at most {NAME_MAX}"
    return None


def check_path(path, what: str, error: type[Exception] = UsageError):
    """``path`` unchanged, or ``error`` naming ``what`` (e.g. "runs directory") and the problem."""
    problem = path_problem(path)
    if problem is not None:
        raise error(f"{what} {shown(os.fspath(path))}: the path {problem}")
    return path
