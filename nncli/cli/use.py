"""`nncli evaluate`, `nncli predict` and `nncli runs`: the commands that read runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import JsonOpt, RunArg, RunsDirOpt, _console, app
from nncli.errors import UsageError
from nncli.views import SORT_KEYS


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
    from nncli.paths import check_path

    if output is not None:
        check_path(output, "--output")
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


# ---------------------------------------------------------------- config
