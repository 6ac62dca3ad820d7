"""One exception family. Each message is written for the person at the terminal.

Only ``cli.py`` catches these; it prints the message on one line and exits with
``exit_code``. Anything that is not an ``NncliError`` is a bug and keeps its traceback.
"""

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_IO = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class NncliError(Exception):
    """Base of every error the user can fix."""

    exit_code = EXIT_BUG


class ConfigError(NncliError):
    """The experiment file or an override is wrong (every problem in one message)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


class UsageError(NncliError):
    """A command-line argument is wrong."""

    exit_code = EXIT_USAGE


class DataError(NncliError):
    """A dataset or data file cannot be used."""

    exit_code = EXIT_IO


class RunError(NncliError):
    """The runs directory or a run in it cannot be read or written."""

    exit_code = EXIT_IO


class FormatError(RunError):
    """A run file was written in a format this version does not read."""


class DivergedError(NncliError):
    """Training produced a non-finite loss or weight."""

    exit_code = EXIT_DIVERGED

    def __init__(self, message: str, epoch: int, batch: int):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch


class Interrupted(NncliError):
    """Training was stopped by SIGINT or SIGTERM."""

    def __init__(self, signame: str, detail: str = ""):
        super().__init__(f"interrupted by {signame.upper()}" + (f"; {detail}" if detail else ""))
        self.signame = signame
        self.exit_code = EXIT_SIGTERM if signame == "sigterm" else EXIT_SIGINT


def lookup(registry: dict, name: str, what: str):
    """The one lookup helper: the entry, or a ConfigError naming the choices."""
    if name in registry:
        return registry[name]
    import difflib

    close = difflib.get_close_matches(name, list(registry), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown {what} '{name}': expected one of {', '.join(sorted(registry))}{hint}")
