"""One exception family. Each message is written for the person at the terminal.

Only ``cli.py`` catches these; it prints the message on one line and exits with
``exit_code``. Anything that is not an ``NncliError`` is a bug and keeps its traceback.
"""

import shlex

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_IO = 4
EXIT_CHECK = 5
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class NncliError(Exception):
    """Base of every error the user can fix.

    ``reason`` names the kind of problem for scripts (``--json``); ``run_dir`` and ``summary``
    are set when the error ends a run that has a directory.
    """

    exit_code = EXIT_BUG
    reason = "error"
    run_dir = None
    summary = None


class ConfigError(NncliError):
    """The experiment file or an override is wrong (every problem in one message)."""

    exit_code = EXIT_USAGE
    reason = "config"

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


class UsageError(NncliError):
    """A command-line argument is wrong."""

    exit_code = EXIT_USAGE
    reason = "usage"


class DataError(NncliError):
    """A dataset or data file cannot be used."""

    exit_code = EXIT_IO
    reason = "data"


class RunError(NncliError):
    """The runs directory or a run in it cannot be read or written."""

    exit_code = EXIT_IO
    reason = "run"


class FormatError(RunError):
    """A run file was written in a format this version does not read."""

    reason = "format"


class DivergedError(NncliError):
    """Training produced a non-finite loss or weight."""

    exit_code = EXIT_DIVERGED
    reason = "non_finite_loss"

    def __init__(self, message: str, epoch: int, batch: int):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch


class CheckFailed(NncliError):
    """A check the user asked for found a fault (``nncli gradcheck``: a wrong derivative)."""

    exit_code = EXIT_CHECK
    reason = "check_failed"


class Interrupted(NncliError):
    """Training was stopped by SIGINT or SIGTERM: what the user asked for, not an error.

    The message says where the run was saved and, on a line of its own so that it can be
    copied, the command that resumes it.
    """

    def __init__(self, signame: str, run_dir=None, where: str = ""):
        by = "Ctrl-C (SIGINT)" if signame == "sigint" else signame.upper()
        if run_dir is None:
            message = f"stopped by {by} before training started; no run was created"
        else:
            message = (f"stopped by {by}: run {run_dir} saved {where}; resume it with:\n"
                       f"nncli train --resume {shlex.quote(str(run_dir))}")
        super().__init__(message)
        self.signame = self.reason = signame
        self.run_dir = run_dir
        self.exit_code = EXIT_SIGTERM if signame == "sigterm" else EXIT_SIGINT


def lookup(registry: dict, name: str, what: str):
    """The one lookup helper: the entry, or a ConfigError naming the choices."""
    if name in registry:
        return registry[name]
    import difflib

    close = difflib.get_close_matches(name, list(registry), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown {what} '{name}': expected one of {', '.join(sorted(registry))}{hint}")
