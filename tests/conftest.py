"""Fixtures shared by the CLI and reliability tests."""

from __future__ import annotations

import io
import signal
import sys
from dataclasses import dataclass

import pytest

from nncli.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _dataset_cache(tmp_path_factory, monkeypatch):
    """The dataset cache in a directory of this test session, never the user's own."""
    monkeypatch.setenv("NNCLI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "nncli-cache"))


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """`train` installs SIGINT/SIGTERM handlers; give pytest its own back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.fixture
def nncli(capsys, monkeypatch):
    """Run ``main()`` with these arguments; returns its exit code, stdout and stderr."""

    def run(*args, stdin: str | None = None) -> Result:
        monkeypatch.setattr(sys, "argv", ["nncli", *map(str, args)])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run
