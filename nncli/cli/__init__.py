"""The command line: declares options, calls one function, prints with rich.

The only module that prints, reads argv, installs signal handlers or exits. Results go to
stdout (a run directory or JSON) and everything for people to stderr, so
``run=$(nncli train cfg.yaml)`` works. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import os
import sys

from nncli.cli import config, runs, see, sweep, train, use  # noqa: F401  (each module registers its commands)
from nncli.cli.app import _console, app
from nncli.errors import EXIT_SIGINT, EXIT_USAGE, NncliError

__all__ = ["app", "main", "entry"]


def main() -> None:
    """Run the app; user errors become one red line and their exit code, bugs keep tracebacks."""
    try:
        rc = app(standalone_mode=False)
    except NncliError as e:
        _report(e)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_SIGINT)
    except Exception as e:  # click's own usage errors
        click_exception, usage_error, abort = _click_errors()
        if isinstance(e, abort):
            sys.exit(EXIT_SIGINT)
        if isinstance(e, click_exception):
            e.show()
            sys.exit(EXIT_USAGE if isinstance(e, usage_error) else e.exit_code)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


def entry() -> None:
    """The installed ``nncli`` command: ``main``, then leave without tearing the interpreter
    down. Unloading numpy, scipy and scikit-learn module by module takes about 0.2 s and does
    nothing useful once every file is written and every stream flushed."""
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _click_errors() -> tuple[type, type, type]:
    """(ClickException, UsageError, Abort) of the click that typer runs on: recent typer
    versions carry their own copy of click, whose exceptions are not click's."""
    try:
        from typer import Abort
        from typer._click.exceptions import ClickException, UsageError
    except ImportError:
        from click.exceptions import Abort, ClickException, UsageError
    return ClickException, UsageError, Abort


def _report(e: NncliError) -> None:
    lines = str(e).splitlines() or [type(e).__name__]
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        print(f"error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        return
    from rich.text import Text

    console = _console()
    console.print(Text("error: ", style="bold red") + Text(lines[0]))
    for line in lines[1:]:
        console.print(Text(f"  {line}"))
