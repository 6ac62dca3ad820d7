"""The Typer apps every command module registers on, and the options they share."""

import gc
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from nncli import __version__


class _Help:
    """Help as clig.dev and click write it: arguments as RUN and [CONFIG] in the usage line, and
    flags without a type (``--json``, not ``--json <bool>``: a flag takes no value)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name != "argument":
                pieces += param.get_usage_pieces(ctx)
                continue
            name = param.metavar or param.name.upper()
            if param.nargs != 1 and not name.endswith("..."):
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
        return pieces


class _Command(_Help, TyperCommand):
    pass


class _Group(_Help, TyperGroup):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return TyperGroup.collect_usage_pieces(self, ctx)


class _App(typer.Typer):
    """Every command of the app gets the help above."""

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


def examples(*lines: str) -> str:
    """A command's epilog: its examples, one per line (clig.dev: lead with examples)."""
    return "Examples:\n\n" + "\n".join(f"  {line}" for line in lines)


_CONTEXT = {"help_option_names": ["-h", "--help"]}
app = _App(
    name="nncli", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    cls=_Group, context_settings=_CONTEXT,
    help="Train NumPy neural networks from YAML experiment files.\n\n"
         "Exit codes: 0 ok, 1 unexpected error, 2 bad usage or config, 3 training diverged, "
         "4 data or I/O error, 5 a check failed (gradcheck), 130 interrupted (SIGINT), 143 terminated (SIGTERM).",
    epilog=examples("nncli train configs/digits.yaml", "nncli evaluate digits",
                    "nncli COMMAND -h              # a command's options and examples"))
config_app = _App(help="Show, check and describe experiment files.", no_args_is_help=True, cls=_Group,
                  context_settings=_CONTEXT)
app.add_typer(config_app, name="config")

SetOpt = Annotated[list[str], typer.Option(
    "--set", "-s", metavar="KEY=VALUE", help="Override a config key, e.g. optimizer.lr=0.01 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
RunsDirOpt = Annotated[Path, typer.Option("--runs-dir", metavar="DIR", help="Where runs are stored.")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="A run directory, or a run's name inside --runs-dir.")]


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


# ---------------------------------------------------------------- the collector at start-up
_gc_paused = False
_COLLECT_AFTER_IMPORTS = {"train"}  # commands that call imports_done() once their imports are done


def pause_gc() -> None:
    """Start-up makes a few hundred thousand objects that live as long as the process (modules,
    typer's commands, numpy, pydantic's schemas). Collecting while they are made walks them
    again and again and frees nothing: a tenth of a second of `nncli train`. The installed
    command (``entry``) turns the collector off until ``imports_done``."""
    global _gc_paused
    gc.disable()
    _gc_paused = True


def imports_done() -> None:
    """The command's imports are done: what start-up made moves out of the collector's sight
    for good (``gc.freeze``), and collecting resumes as usual for what the command makes. In a
    process that did not pause the collector (tests, scripts calling ``main``) nothing changes."""
    global _gc_paused
    if _gc_paused:
        gc.freeze()
        gc.enable()
        _gc_paused = False


def _version(value: bool):
    if value:
        typer.echo(f"nncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(ctx: typer.Context,
          version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False):
    if ctx.invoked_subcommand not in _COLLECT_AFTER_IMPORTS:
        imports_done()  # every other command collects from its start
