"""`nncli train` and `nncli sweep`: the commands that write runs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import JsonOpt, RunsDirOpt, SetOpt, _console, _load, _read_stdin, _stop_on_signals, app
from nncli.errors import UsageError
from nncli.views import SORT_KEYS, metric_name, val_metric


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


@app.command()
def sweep(
    config: Annotated[str, typer.Argument(help="Experiment YAML file, or - to read it from stdin.")],
    grid: Annotated[list[str], typer.Option(
        "--grid", "-g", metavar="KEY=[V1,V2,...]",
        help="A key and the values to try, e.g. optimizer.lr=[0.1,0.01] (repeatable: every combination runs).")],
    set_: SetOpt = [],
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but the results and errors.")] = False,
):
    """Train every combination of --grid values; prints each run directory as it finishes.

    All combinations are validated before the first one trains. A run that diverges is marked
    failed and the sweep goes on (exit 3 at the end); Ctrl-C stops the sweep.
    """
    from nncli import runner

    runner.preload()
    stop = _stop_on_signals(runner.StopFlag())
    text = _read_stdin() if config == "-" else None
    from nncli import sweep as sweeps

    configs = sweeps.sweep_configs(config, set_, grid, text=text)
    console = _console()
    command = " ".join(["nncli"] + sys.argv[1:])
    results = []
    for i, (combo, run_dir, summary) in enumerate(sweeps.sweep(configs, runs_dir=runs_dir, stop=stop,
                                                              command=command), 1):
        results.append({"overrides": combo, "dir": str(run_dir), **summary})
        if not quiet:
            val = val_metric(summary)
            score = "" if val is None else f"  val {metric_name(summary)} {val:.4f}"
            console.print(f"[{i}/{len(configs)}] {' '.join(combo)}: {summary['status']}{score}")
        if not as_json:
            typer.echo(str(run_dir))
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if not quiet and results:
        best = max(results, key=lambda r: SORT_KEYS["val"](r))
        console.print(f"best: {' '.join(best['overrides'])} -> {best['dir']}")
    if any(r["status"] != "finished" for r in results):
        raise typer.Exit(3)


# ---------------------------------------------------------------- using runs
