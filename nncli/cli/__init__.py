"""The command line: declares options, calls one function, prints with rich.

The only module that prints, reads argv, installs signal handlers or exits. Results go to
stdout (a run directory or JSON) and everything for people to stderr, so
``run=$(nncli train cfg.yaml)`` works. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import os
import sys

# each module registers its commands; the order here is the order of `nncli --help`
from nncli.cli import train, use, export, runs, sweep, see, teach, config  # noqa: F401, I001
from nncli.cli.app import _console, app, pause_gc
from nncli.errors import EXIT_BUG, EXIT_SIGINT, EXIT_USAGE, Interrupted, NncliError

__all__ = ["app", "main", "entry"]


def main() -> None:
    """Run the app; user errors become one red line and their exit code, bugs keep tracebacks.

    A run that ended badly (diverged, interrupted) still prints its directory on stdout; with
    --json every failure of a command that takes it is one JSON object on stdout instead.
    """
    as_json = _wants_json(sys.argv[1:])
    try:
        rc = app(standalone_mode=False)
    except NncliError as e:
        _report(e, as_json)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:  # Ctrl-C before the training loop's own handler was installed
        _report(Interrupted("sigint"), as_json)
        sys.exit(EXIT_SIGINT)
    except Exception as e:  # click's own usage errors
        click_exception, usage_error, abort = _click_errors()
        if isinstance(e, abort):
            _report(Interrupted("sigint"), as_json)
            sys.exit(EXIT_SIGINT)
        if isinstance(e, click_exception):
            code = EXIT_USAGE if isinstance(e, usage_error) else e.exit_code
            if as_json:
                _print_json({"status": "error", "reason": "usage", "exit_code": code,
                             "message": e.format_message(), "dir": None})
            e.show()
            sys.exit(code)
        if as_json:
            _print_json({"status": "error", "reason": "bug", "exit_code": EXIT_BUG,
                         "message": f"{type(e).__name__}: {e}", "dir": None})
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


# commands whose --json covers failures too, and the options of theirs that take a value
_JSON_COMMANDS = {"train", "sweep", "evaluate", "predict", "gradcheck", "summary", "lr-find", "learning-curve"}
_TAKES_VALUE = {"--set", "-s", "--grid", "-g", "--resume", "--runs-dir", "--data", "--input", "-i",
                "--output", "-o"}


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks a JSON-speaking command for --json (read before parsing,
    so that even a usage error can answer in JSON)."""
    command, skip = None, False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            return False
        elif arg in _TAKES_VALUE:
            skip = True
        elif arg == "--json":
            return command in _JSON_COMMANDS
        elif command is None and not arg.startswith("-"):
            command = arg
    return False


def entry() -> None:
    """The installed ``nncli`` command: ``main``, then leave without tearing the interpreter
    down. Unloading numpy, scipy and scikit-learn module by module takes about 0.2 s and does
    nothing useful once every file is written and every stream flushed. Pictures left to draw
    go to a detached process (``later.py``) once the result is out. The garbage collector
    waits until the command's imports are done (``app.pause_gc``)."""
    from nncli.cli import later

    pause_gc()  # until the command's imports are done
    later.detach = True
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    later.start_pending()
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


def _report(e: NncliError, as_json: bool = False) -> None:
    """The error on stderr (an interrupt is no error: it says "stopped"), and the run it ended,
    if any, on stdout: its directory, or with --json the run's summary with the exit code and
    message (without a run: status error, the kind of problem as the reason)."""
    if as_json:
        if e.summary is not None:
            _print_json({**e.summary, "exit_code": e.exit_code, "message": str(e)})
        else:
            _print_json({"status": "killed" if isinstance(e, Interrupted) else "error", "reason": e.reason,
                         "exit_code": e.exit_code, "message": str(e),
                         "dir": None if e.run_dir is None else str(e.run_dir)})
    elif e.run_dir is not None:
        print(e.run_dir, flush=True)
    from nncli.paths import shown

    # a control character from a file name or a value is shown escaped, never sent to the terminal
    text = str(e) or type(e).__name__
    lines = [shown(line, limit=1 << 20) for line in text.strip("\n").split("\n")]
    label = "" if isinstance(e, Interrupted) else "error: "
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        print(f"{label}{lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        return
    from rich.text import Text

    console = _console()
    # soft wrap: a long line (a path, the resume command) stays one line that can be copied
    console.print(Text(label, style="bold red") + Text(lines[0]), soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(f"  {line}"), soft_wrap=True)


def _print_json(obj: dict) -> None:
    print(json.dumps(obj, indent=2, default=str), flush=True)
