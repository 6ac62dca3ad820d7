"""`nncli train`: the command that writes a run."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import JsonOpt, RunsDirOpt, SetOpt, _console, _load, _stop_on_signals, app
from nncli.errors import UsageError


def _progress_callback(console, mode: str):
    """A training callback that reports progress: a live bar on a terminal, lines otherwise."""
    from nncli.nn import Callback
    from nncli.views import describe

    if mode == "lines":
        class Lines(Callback):
            """About twenty lines for a whole run, and at least one every ten seconds."""

            last, pending = 0.0, None

            def on_epoch_end(self, trainer, epoch, logs):
                now, every = time.monotonic(), max(1, trainer.epochs // 20)
                self.pending = f"epoch {epoch + 1}/{trainer.epochs}  {describe(logs)}  {logs['seconds']:.2f}s"
                if (epoch + 1) % every == 0 or epoch + 1 == trainer.epochs or now - self.last > 10:
                    self.last = now
                    console.print(self.pending)
                    self.pending = None

            def on_train_end(self, trainer):
                if self.pending:  # stopped early: show where
                    console.print(self.pending)
        return Lines(), None

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console,
                        transient=False)

    class Bar(Callback):
        def on_train_begin(self, trainer):
            self.task = progress.add_task("train", total=trainer.epochs, completed=trainer.epoch, info="")
            self.last = 0.0

        def on_batch_end(self, trainer, epoch, batch):
            now = time.monotonic()
            if now - self.last > 0.1:  # refreshing is costly; a few times a second is enough
                self.last = now
                progress.update(self.task, completed=epoch + trainer.batch / trainer.n_batches)

        def on_epoch_end(self, trainer, epoch, logs):
            progress.update(self.task, completed=epoch + 1, info=describe(logs))

    return Bar(), progress


@app.command()
def train(
    config: Annotated[Optional[str], typer.Argument(
        help="Experiment YAML file, or - to read it from stdin. Optional with --resume.")] = None,
    set_: SetOpt = [],
    resume: Annotated[Optional[str], typer.Option(
        "--resume", help="Continue an interrupted run in its own directory; with --set training.epochs=N, "
                         "train a finished run longer (only keys that do not change the model may change).")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but the result and errors.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress output; final table only.")] = False,
):
    """Train an experiment; prints the run directory (or the summary with --json)."""
    if config is None and resume is None:
        raise UsageError("train: give a config file (or - for stdin), or --resume RUN")
    t0 = time.perf_counter()
    from nncli import runner

    runner.preload()
    timings = {"imports": time.perf_counter() - t0}
    stop = _stop_on_signals(runner.StopFlag())
    cfg = _load(config, set_) if config is not None else None
    if cfg is not None and cfg.sweep is not None and not quiet:
        _console().print("note: train ignores the config's sweep section (nncli sweep runs it); "
                         "the run's saved config has none")
    console = _console()
    # a live bar redraws itself with cursor codes: on terminals only, and not under NO_COLOR
    live = console.is_terminal and not os.environ.get("NO_COLOR")
    mode = "none" if quiet or no_progress else ("bar" if live else "lines")
    callbacks, progress = [], None
    if mode != "none":
        cb, progress = _progress_callback(console, mode)
        callbacks.append(cb)
    command = " ".join(["nncli"] + sys.argv[1:])
    try:
        if progress is not None:
            progress.start()
        run_dir, summary = runner.train(cfg, runs_dir=runs_dir, resume=resume, callbacks=callbacks,
                                        stop=stop, command=command, timings=timings,
                                        overrides=set_ if cfg is None else ())
    finally:
        if progress is not None:
            progress.stop()
    if not quiet:
        from nncli.views import final_table

        table = final_table(summary)
        if table is not None:
            console.print(table)
        if summary.get("diagnosis"):
            console.print(f"diagnosis: {summary['diagnosis']}")
        if summary.get("reason"):
            console.print(f"stopped: {summary['reason']}")
        note = (summary.get("resumed") or [{}])[-1].get("note") if resume is not None else None
        if note:
            console.print(f"note: {note}")
    typer.echo(json.dumps(summary, indent=2) if as_json else str(run_dir))


# ---------------------------------------------------------------- using runs
