"""`nncli evaluate` and `nncli predict`: the commands that use a saved run."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import (
    JsonOpt,
    RunArg,
    RunsDirOpt,
    _console,
    _stop_on_signals,
    app,
    examples,
)
from nncli.errors import UsageError


@app.command(epilog=examples("nncli evaluate digits         # the newest run named digits",
                             "nncli evaluate runs/20260101-120000-a1b2c3-iris --json",
                             "nncli evaluate iris --data more-flowers.csv"))
def evaluate(
    run: RunArg,
    data: Annotated[Optional[str], typer.Option(
        "--data", metavar="FILE", help="Score this CSV, Parquet or .npz file (columns found by name) instead of "
                       "the run's own test rows.")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Score a saved run on the test rows it recorded, or on another file."""
    from nncli import inference
    from nncli.runner import StopFlag

    stop = _stop_on_signals(StopFlag())
    result = inference.evaluate(run, data, runs_dir, stop=lambda: stop.signame)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from nncli.views import evaluation_tables

    console = _console(stderr=False)
    console.print(f"{result['run']}\n{result['data']}, {result['samples']} samples", markup=False)
    for table in evaluation_tables(result):
        console.print(table)
    for column, counts in (result.get("unseen_categories") or {}).items():
        _console().print(f"note: column '{column}' had {sum(counts.values())} values not seen in training",
                         markup=False)


@app.command(epilog=examples("nncli predict iris --input flowers.csv --output predictions.csv"))
def predict(
    run: RunArg,
    input: Annotated[str, typer.Option(
        "--input", "-i", metavar="FILE", help="CSV (also .csv.gz, .tsv), Parquet or .npz file of inputs; - reads CSV "
                              "from stdin. Columns are found by name; others are ignored.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", help="Write here instead of stdout; the extension picks the format: "
                               ".csv, .tsv, .jsonl, .json or .parquet.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines (one object per row) instead of CSV.")] = False,
):
    """Predict classes with probabilities, or values, for every row of a file."""
    from nncli import inference, predictions, runs
    from nncli.paths import check_path
    from nncli.runner import StopFlag

    if output is not None:
        check_path(output, "--output")
    fmt = predictions.output_format(output, as_json)
    if output is not None and output.exists() and not force:
        raise UsageError(f"--output {output}: the file exists; pass --force to overwrite it")
    if fmt == "parquet" and output is None:
        raise UsageError("Parquet needs --output FILE.parquet")
    stop = _stop_on_signals(StopFlag())
    pred = inference.predict(run, input, runs_dir, stream=sys.stdin, stop=lambda: stop.signame)
    console = _console()
    for note in pred.notes:
        console.print(f"note: {note}", markup=False)
    data = predictions.render(pred, fmt)
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        runs.atomic_write_bytes(output, data)
        console.print(f"wrote {pred.n} predictions to {output}", markup=False)
