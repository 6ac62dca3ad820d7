"""The learning-curve picture of a trained run, drawn after the command has answered.

Importing matplotlib and drawing one picture takes about a second, more than training a small
network. The installed command (``entry``) therefore prints its result, then hands the
pictures to one detached child process (``python -m nncli.plots RUN...``) and exits: the
picture lands in the run directory a moment later, written atomically, and the user does not
wait for it. ``main()`` called in-process (tests, scripts) draws before returning, so that
the picture is there when it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path

detach = False  # set by ``entry``: the process ends right after the command
_pending: list[str] = []


def learning_curves_picture(run_dir, console, quiet: bool, wanted: bool = True) -> None:
    """The run's learning curves as a picture in its directory (see ``plots:`` in the config;
    ``wanted`` is False when the caller already knows it says no). A picture is never worth
    failing a trained run: any failure here is one note (``console`` is None under --quiet)."""
    if run_dir is None or not wanted:
        return
    if detach:
        from nncli import canvas

        if canvas.available():
            _pending.append(str(Path(run_dir).resolve()))
        return
    from nncli import plots

    try:
        plots.learning_curve_after_training(run_dir)
    except Exception as e:  # noqa: BLE001
        if not quiet:
            console.print(f"note: no learning curve picture ({type(e).__name__}: {e})")


def start_pending() -> None:
    """Start one detached process that draws every picture left to draw (none: nothing)."""
    if not _pending:
        return
    import subprocess

    try:
        subprocess.Popen([sys.executable, "-m", "nncli.plots", *_pending], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         close_fds=True)
    except OSError:
        pass  # no picture: the run itself is complete
    _pending.clear()

