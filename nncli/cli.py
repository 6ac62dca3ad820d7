"""The command line: declares options, calls one function, prints with rich.

The only module that prints, reads argv, installs signal handlers or exits. Results go to
stdout (a run directory or JSON) and everything for people to stderr, so
``run=$(nncli train cfg.yaml)`` works. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli import __version__
from nncli.errors import EXIT_SIGINT, EXIT_USAGE, NncliError, UsageError
from nncli.views import SORT_KEYS, val_metric, metric_name

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


def _progress_callback(console, mode: str):
    """A training callback that reports progress: one line per finished epoch (a sample of
    them in long runs, always the first and the last), and on a terminal a live bar below the
    lines with the elapsed and remaining time."""
    from nncli.train import Callback
    from nncli.views import epoch_line, shows_epoch

    progress = None
    if mode == "bar":
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
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


@app.command()
def train(
    config: Annotated[Optional[str], typer.Argument(
        help="Experiment YAML file, or - to read it from stdin. Optional with --resume.")] = None,
    set_: SetOpt = [],
    resume: Annotated[Optional[str], typer.Option(
        "--resume", help="Continue an interrupted run in its own directory.")] = None,
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
    if resume is not None and set_ and cfg is None:
        raise UsageError("train: --set needs a config file; a resumed run keeps its saved config")
    console = _console()
    # a live bar redraws itself with cursor codes: on terminals only, and not under NO_COLOR
    live = console.is_terminal and not os.environ.get("NO_COLOR")
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
        run_dir, summary = runner.train(cfg, runs_dir=runs_dir, resume=resume, callbacks=callbacks,
                                        stop=stop, command=command, timings=timings)
    except NncliError as e:  # diverged or interrupted: the run keeps its history so far
        run_dir = getattr(e, "run_dir", None)
        raise
    finally:
        for cb in callbacks:
            cb.flush()  # the last epoch's line, also when the run stopped early
        if progress is not None:
            progress.stop()
        _learning_curves_picture(run_dir, console, quiet)
    if not quiet:
        from nncli.views import final_table

        table = final_table(summary)
        if table is not None:
            console.print(table)
        if summary.get("diagnosis"):
            console.print(f"diagnosis: {summary['diagnosis']}")
        if summary.get("reason"):
            console.print(f"stopped: {summary['reason']}")
    typer.echo(json.dumps(summary, indent=2) if as_json else str(run_dir))


def _learning_curves_picture(run_dir, console, quiet: bool) -> None:
    """The run's learning curves as a picture in its directory (see ``plots:`` in the config).
    A picture is never worth failing a trained run: any failure here is one note."""
    if run_dir is None:
        return
    from nncli import plots

    try:
        plots.learning_curve_after_training(run_dir)
    except Exception as e:  # noqa: BLE001
        if not quiet:
            console.print(f"note: no learning curve picture ({type(e).__name__}: {e})")


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
    configs = runner.sweep_configs(config, set_, grid, text=text)
    console = _console()
    command = " ".join(["nncli"] + sys.argv[1:])
    results = []
    try:
        for i, (combo, run_dir, summary) in enumerate(runner.sweep(configs, runs_dir=runs_dir, stop=stop,
                                                                  command=command), 1):
            _learning_curves_picture(run_dir, console, quiet)
            results.append({"overrides": combo, "dir": str(run_dir), **summary})
            if not quiet:
                val = val_metric(summary)
                score = "" if val is None else f"  val {metric_name(summary)} {val:.4f}"
                console.print(f"[{i}/{len(configs)}] {' '.join(combo)}: {summary['status']}{score}")
            if not as_json:
                typer.echo(str(run_dir))
    except NncliError as e:  # interrupted: the run so far gets its picture too
        _learning_curves_picture(getattr(e, "run_dir", None), console, quiet)
        raise
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if not quiet and results:
        best = max(results, key=lambda r: SORT_KEYS["val"](r))
        console.print(f"best: {' '.join(best['overrides'])} -> {best['dir']}")
    if any(r["status"] != "finished" for r in results):
        raise typer.Exit(3)


# ---------------------------------------------------------------- using runs
@app.command()
def evaluate(
    run: RunArg,
    data: Annotated[Optional[str], typer.Option("--data", help="Score this CSV/.npz instead of the test split.")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Score a saved run on its test split (recreated from its seed) or on another file."""
    from nncli import runner

    result = runner.evaluate(run, data, runs_dir)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from nncli.views import evaluation_tables

    console = _console(stderr=False)
    console.print(f"{result['run']}\n{result['data']}, {result['samples']} samples")
    for table in evaluation_tables(result):
        console.print(table)


@app.command()
def predict(
    run: RunArg,
    input: Annotated[str, typer.Option("--input", "-i", help="CSV of features with a header row.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write predictions here (CSV) instead of stdout.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
    runs_dir: RunsDirOpt = Path("runs"),
):
    """Predict classes with probabilities, or values, for a CSV of features."""
    import csv
    import io

    from nncli import runner, runs

    if output is not None and output.exists() and not force:
        raise UsageError(f"--output {output}: the file exists; pass --force to overwrite it")
    header, rows = runner.predict(run, input, runs_dir)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[runs.safe_cell(v) for v in row] for row in rows])
    if output is None:
        sys.stdout.write(buf.getvalue())
    else:
        runs.atomic_write_text(output, buf.getvalue())
        _console().print(f"wrote {len(rows)} predictions to {output}")


@app.command("runs")
def runs_cmd(
    directory: Annotated[Path, typer.Argument(help="The runs directory.")] = Path("runs"),
    sort: Annotated[str, typer.Option("--sort", help=f"Sort by one of: {', '.join(SORT_KEYS)}.")] = "dir",
    as_json: JsonOpt = False,
):
    """List runs with their status, main hyper-parameters and scores."""
    from nncli import runs

    if sort not in SORT_KEYS:
        import difflib

        close = difflib.get_close_matches(sort, list(SORT_KEYS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"--sort: expected one of {', '.join(SORT_KEYS)}, got '{sort}'{hint}")
    rows = sorted(runs.list_runs(directory), key=SORT_KEYS[sort], reverse=sort in ("val", "test"))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from nncli.views import runs_table

    _console(stderr=False).print(runs_table(rows, directory))


# ---------------------------------------------------------------- pictures
RunsArg = Annotated[list[str], typer.Argument(
    metavar="RUN", help="Run directories, directories of runs, or run names or glob patterns "
                           "(quoted, e.g. 'digits-*') matched inside --runs-dir.")]


@app.command()
def plot(
    runs_: RunsArg,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write into DIR/<run directory name>/ instead of each run directory. "
                            "The overlaid curves of several runs go here (default: the current directory).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Image format: png or svg.")] = "png",
    runs_dir: RunsDirOpt = Path("runs"),
):
    """Draw each run's learning curves, learning rate and task pictures; prints the files.

    Needs matplotlib, the plot extra of nncli.
    """
    from nncli import plots

    result = plots.plot_runs(runs_, runs_dir, out, fmt)
    console = _console()
    for note in result.notes:
        console.print(f"note: {note}")
    for path in result.paths:
        typer.echo(str(path))


@app.command()
def report(
    runs_: RunsArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
    runs_dir: RunsDirOpt = Path("runs"),
):
    """Write one self-contained HTML page comparing runs; prints its path.

    The page holds a sortable table of what differs between the runs' configs and their final
    scores, their learning curves, and each run's confusion matrix or predicted-vs-actual
    picture. Needs matplotlib, the plot extra of nncli.
    """
    from nncli import report as report_mod

    if output.exists() and not force:
        raise UsageError(f"--output {output}: the file exists; pass --force to overwrite it")
    result = report_mod.write_report(runs_, output, runs_dir)
    console = _console()
    for note in result.notes:
        console.print(f"note: {note}")
    typer.echo(str(output))


@app.command()
def show(
    run: RunArg,
    runs_dir: RunsDirOpt = Path("runs"),
    rows: Annotated[int, typer.Option("--rows", min=3, help="Most epochs in the history table.")] = 15,
    ascii_: Annotated[bool, typer.Option("--ascii", help="Draw the curve with ASCII only.")] = False,
):
    """Print a run's status, scores, history and a text chart of its loss.

    A long history is sampled (first, best, last and evenly spaced epochs); everything fits a
    terminal of 80 columns.
    """
    from nncli import rundata, runs
    from nncli.views import final_table, history_chart, history_table, run_header

    run_data = rundata.read_run(runs.resolve_run(run, runs_dir))
    console = _console(stderr=False)
    for line in run_header(run_data):
        console.print(line, highlight=False, soft_wrap=True)
    table = final_table(run_data.summary)
    if table is not None:
        table.title = "final scores"
        console.print(table)
    if not run_data.history:
        console.print("no epoch recorded yet")
        return
    console.print(history_table(run_data.history, run_data.best_epoch, rows))
    unicode = not ascii_ and console.encoding.lower().replace("-", "").startswith("utf")
    for line in history_chart(run_data.history, console.width, unicode):
        console.print(line, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- config
@config_app.command("show")
def config_show(config: Annotated[str, typer.Argument(help="Experiment YAML file, or -.")], set_: SetOpt = []):
    """Print the fully resolved config (every default filled in)."""
    from nncli.config import dump_config

    typer.echo(dump_config(_load(config, set_)), nl=False)


@config_app.command("validate")
def config_validate(config: Annotated[str, typer.Argument(help="Experiment YAML file, or -.")], set_: SetOpt = []):
    """Check a config without training; exit 0 when it is valid."""
    _load(config, set_)
    _console().print(f"{config}: ok")


@config_app.command("schema")
def config_schema():
    """Print the JSON Schema of experiment files (for editors)."""
    from nncli.config import config_schema as schema

    typer.echo(json.dumps(schema(), indent=2))


def _version(value: bool):
    if value:
        typer.echo(f"nncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False):
    pass


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
