"""`nncli evaluate` and `nncli predict`: the commands that use a saved run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import JsonOpt, RunArg, RunsDirOpt, _console, app
from nncli.errors import UsageError


@app.command()
def evaluate(
    run: RunArg,
    data: Annotated[Optional[str], typer.Option("--data", help="Score this CSV/.npz instead of the test split.")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Score a saved run on its test split (recreated from its seed) or on another file."""
    from nncli import inference

    result = inference.evaluate(run, data, runs_dir)
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

    from nncli import inference, runs

    if output is not None and output.exists() and not force:
        raise UsageError(f"--output {output}: the file exists; pass --force to overwrite it")
    header, rows = inference.predict(run, input, runs_dir)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[runs.safe_cell(v) for v in row] for row in rows])
    if output is None:
        sys.stdout.write(buf.getvalue())
    else:
        runs.atomic_write_text(output, buf.getvalue())
        _console().print(f"wrote {len(rows)} predictions to {output}")
