"""`nncli export`: a saved run as a model file other runtimes read."""

import json
from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.app import JsonOpt, RunArg, RunsDirOpt, _console, app, examples
from nncli.errors import UsageError

FORMATS = ("onnx",)


@app.command(epilog=examples(
    "nncli export digits --format onnx -o digits.onnx",
    "nncli export runs/20260101-120000-a1b2c3-penguins -o penguins.onnx --force",
    "nncli export iris -o iris.onnx --json     # inputs, outputs and classes as JSON"))
def export(
    run: RunArg,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the model.")],
    format: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT", help="onnx: the whole inference path (preprocessing, network, "
                                                 "probabilities and label or value) in one ONNX graph.")] = "onnx",
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Write a saved run as a model file for other runtimes (ONNX; needs the onnx extra)."""
    if format not in FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(FORMATS)}, got {format!r}")
    from nncli.export import export_run

    about = export_run(run, output, runs_dir, force=force)
    if as_json:
        typer.echo(json.dumps(about, indent=2))
        return
    typer.echo(str(output))
    names = ", ".join(i["name"] for i in about["inputs"][:8]) + (" ..." if len(about["inputs"]) > 8 else "")
    _console().print(f"wrote {about['task']} run {about['run']} as ONNX (opset {about['opset']}): inputs {names}; "
                     f"outputs {', '.join(about['outputs'])}", markup=False)
