"""The Typer apps every command module registers on, and the options they share."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from nncli import __version__

app = typer.Typer(
    name="nncli", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Train NumPy neural networks from YAML experiment files.\n\n"
         "Exit codes: 0 ok, 1 unexpected error, 2 bad usage or config, 3 training diverged, "
         "4 data or I/O error, 130 interrupted (SIGINT), 143 terminated (SIGTERM).")
config_app = typer.Typer(help="Show, check and describe experiment files.", no_args_is_help=True)
app.add_typer(config_app, name="config")

SetOpt = Annotated[list[str], typer.Option(
    "--set", "-s", metavar="KEY=VALUE", help="Override a config key, e.g. optimizer.lr=0.01 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
RunsDirOpt = Annotated[Path, typer.Option("--runs-dir", help="Where runs are stored.")]
RunArg = Annotated[str, typer.Argument(help="A run directory, or a run's name inside --runs-dir.")]


def _console(stderr: bool = True):
    """Messages and progress go to stderr; tables that are the command's result to stdout."""
    from rich.console import Console

    # NO_COLOR asks for plain text: no colours, no styles
    console = Console(stderr=stderr, highlight=False,
                      color_system=None if os.environ.get("NO_COLOR") else "auto")
    if not console.is_terminal:  # a pipe or a file has no width: do not squeeze tables into 80 columns
        console.width = 160
    return console


def _read_stdin() -> str:
    """Config text from stdin, read only just past the size limit: a pipe may never end."""
    from nncli.config import MAX_CONFIG_BYTES

    return sys.stdin.read(MAX_CONFIG_BYTES + 1)


def _load(config: str, overrides: list[str]):
    from nncli.config import load_config

    text = _read_stdin() if config == "-" else None
    return load_config(config, overrides, text=text)


# ---------------------------------------------------------------- train
def _stop_on_signals(stop):
    """SIGINT and SIGTERM only raise a flag: training stops cleanly after the current batch,
    and a second signal during clean-up changes nothing."""
    import signal

    def on_signal(signum, frame):
        stop.signame = stop.signame or ("sigterm" if signum == signal.SIGTERM else "sigint")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _version(value: bool):
    if value:
        typer.echo(f"nncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False):
    pass
