"""`nncli plot`, `nncli report` and `nncli show`: pictures and views of runs."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import RunArg, RunsDirOpt, _console, app
from nncli.errors import UsageError

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
