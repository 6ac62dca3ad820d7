"""`nncli train`: the command that writes a run."""

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import (
    JsonOpt,
    RunsDirOpt,
    SetOpt,
    _console,
    _load,
    _stop_on_signals,
    app,
    examples,
    imports_done,
)
from nncli.cli.later import learning_curves_picture
from nncli.errors import NncliError, UsageError


def _progress_callback(console, mode: str):
    """A training callback that reports progress: one line per finished epoch (a sample of
    them in long runs, always the first and the last), and on a terminal a live bar below the
    lines with the elapsed and remaining time."""
    from nncli.nn import Callback
    from nncli.views import epoch_line, shows_epoch

    progress = None
    if mode == "bar":
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        # the counter first and never wrapped or squeezed: a narrow terminal loses the bar first
        progress = Progress(
            TextColumn("epoch {task.fields[current]}/{task.total}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=5)),
            TextColumn("elapsed", table_column=Column(no_wrap=True)), TimeElapsedColumn(),
            TextColumn("remaining", table_column=Column(no_wrap=True)), TimeRemainingColumn(),
            console=console, transient=True, expand=True)

    class EpochLines(Callback):
        """Lines above the bar; off a terminal the lines alone, and then at least one every ten
        seconds."""

        pending, task, printed_at, refreshed_at = None, None, 0.0, 0.0

        def on_train_begin(self, trainer):
            self.printed_at = time.monotonic()
            if progress is not None:
                self.task = progress.add_task("train", total=trainer.epochs, completed=trainer.epoch,
                                              current=min(trainer.epoch + 1, trainer.epochs))

        def on_batch_end(self, trainer, epoch, batch):
            now = time.monotonic()
            if progress is not None and now - self.refreshed_at > 0.1:  # a few times a second is enough
                self.refreshed_at = now
                progress.update(self.task, completed=epoch + trainer.batch / trainer.n_batches)

        def on_epoch_end(self, trainer, epoch, logs):
            self.pending = epoch_line(logs, trainer.epochs, console.width)
            show = shows_epoch(epoch + 1, trainer.epochs)
            if progress is not None:  # redrawn now when a line goes above it: it would show stale
                progress.update(self.task, completed=epoch + 1, current=min(epoch + 2, trainer.epochs),
                                refresh=show)
            if show or (progress is None and time.monotonic() - self.printed_at > 10):
                self.flush()

        def on_train_end(self, trainer):
            self.flush()  # stopped early: the epoch it stopped at

        def flush(self):
            """Print the last finished epoch if it was not printed yet."""
            if self.pending:
                console.print(self.pending, highlight=False, soft_wrap=True)
                self.pending = None
                self.printed_at = time.monotonic()

    return EpochLines(), progress


def _say_how_it_starts(console):
    """Before the first batch: what a transfer loaded and froze, where a resume picks up."""
    from nncli.views import start_lines

    def say(run_dir, summary):
        for line in start_lines(summary):
            console.print(line, soft_wrap=True)
    return say


@app.command(epilog=examples(
    "nncli train configs/digits.yaml --set optimizer.lr=0.01",
    "run=$(nncli train configs/iris.yaml --quiet)   # the run directory",
    "cat configs/iris.yaml | nncli train -",
    "nncli train --resume digits                   # continue a stopped run",
    "nncli train configs/iris.yaml --folds 5       # 5-fold cross-validation"))
def train(
    config: Annotated[Optional[str], typer.Argument(
        metavar="CONFIG", help="Experiment YAML file, or - to read it from stdin. Optional with --resume.")] = None,
    set_: SetOpt = [],
    resume: Annotated[Optional[str], typer.Option(
        "--resume", metavar="RUN", help="Continue an interrupted run in its own directory; with --set "
                                        "training.epochs=N, train a finished run longer (only keys that do "
                                        "not change the model may change).")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but the result and errors.")] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress output; final table only.")] = False,
    folds: Annotated[Optional[int], typer.Option(
        "--folds", metavar="K", min=2,
        help="k-fold cross-validation: K runs grouped in one directory (stratified for classification); "
             "reports each fold's scores, their mean and standard deviation.")] = None,
):
    """Train an experiment; prints the run directory (or the summary with --json)."""
    if config is None and resume is None:
        raise UsageError("train: give a config file (or - for stdin), or --resume RUN")
    if folds is not None:
        if resume is not None:
            raise UsageError("train: --folds starts new runs; it cannot be combined with --resume")
        return _train_folds(_load(config, set_), folds, runs_dir, as_json, quiet)
    t0 = time.perf_counter()
    from nncli import proctime, runner

    started = proctime.started()  # the run's wall time counts the whole process
    runner.preload()
    imports_done()
    timings = {"imports": time.perf_counter() - t0}
    if started is not None:
        timings["startup"] = t0 - started  # interpreter and command-line start-up, before the above
    stop = _stop_on_signals(runner.StopFlag())
    cfg = _load(config, set_) if config is not None else None
    if cfg is not None and cfg.sweep is not None and not quiet:
        _console().print("note: train ignores the config's sweep section (nncli sweep runs it); "
                         "the run's saved config has none")
    console = None if quiet else _console()  # --quiet prints nothing for people: rich is not imported
    # a live bar redraws itself with cursor codes: on terminals only, and not under NO_COLOR
    live = console is not None and console.is_terminal and not os.environ.get("NO_COLOR")
    mode = "none" if quiet or no_progress else ("bar" if live else "lines")
    callbacks, progress = [], None
    if mode != "none":
        cb, progress = _progress_callback(console, mode)
        callbacks.append(cb)
    command = " ".join(["nncli"] + sys.argv[1:])
    run_dir = None
    try:
        if progress is not None:
            progress.start()
        say = None if quiet else (lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
        run_dir, summary = runner.train(cfg, runs_dir=runs_dir, resume=resume, callbacks=callbacks,
                                        stop=stop, command=command, timings=timings, say=say, started=started,
                                        on_start=None if quiet else _say_how_it_starts(console),
                                        overrides=set_ if cfg is None else ())
    except NncliError as e:  # diverged or interrupted: the run keeps its history so far
        run_dir = getattr(e, "run_dir", None)
        raise
    finally:
        for cb in callbacks:
            cb.flush()  # the last epoch's line, also when the run stopped early
        if progress is not None:
            progress.stop()
        learning_curves_picture(run_dir, console, quiet, wanted=cfg is None or cfg.plots)
    if not quiet:
        from nncli.views import final_table

        table = final_table(summary)
        if table is not None:
            console.print(table)
        if summary.get("diagnosis"):
            console.print(f"diagnosis: {summary['diagnosis']}", markup=False)
            v = summary.get("verdict") or {}
            for line in v.get("findings", []) + v.get("advice", []):
                console.print(f"  {line}", markup=False)
        if summary.get("reason"):
            console.print(f"stopped: {summary['reason']}")
        note = (summary.get("resumed") or [{}])[-1].get("note") if resume is not None else None
        if note:
            console.print(f"note: {note}")
    typer.echo(json.dumps(summary, indent=2) if as_json else str(run_dir))


def _train_folds(cfg, k: int, runs_dir, as_json: bool, quiet: bool) -> None:
    from nncli import folds, runner
    from nncli.teachviews import folds_table

    runner.preload()
    imports_done()
    stop = _stop_on_signals(runner.StopFlag())
    console = _console()

    def on_fold(i, run_dir, summary):
        learning_curves_picture(run_dir, console, quiet)
        if not quiet:
            console.print(f"[fold {i + 1}/{k}] {summary['status']}: {run_dir}", markup=False)

    group, result = folds.cross_validate(cfg, k, runs_dir=runs_dir, command=" ".join(["nncli"] + sys.argv[1:]),
                                         stop=stop, on_fold=on_fold)
    if not quiet:
        console.print(folds_table(result))
    typer.echo(json.dumps(result, indent=2) if as_json else str(group))


# ---------------------------------------------------------------- using runs
