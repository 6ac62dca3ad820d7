"""`nncli gradcheck`, `nncli summary`, `nncli lr-find` and `nncli learning-curve`: the
commands that teach by checking."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import JsonOpt, RunsDirOpt, SetOpt, _console, _load, app, examples
from nncli.errors import CheckFailed, UsageError

PlotOpt = Annotated[Optional[Path], typer.Option(
    "--plot", metavar="FILE", help="Draw the curve into FILE, png or svg (default: <command>.png in the current "
                                   "directory, when the plot extra is installed).")]
NoPlotOpt = Annotated[bool, typer.Option("--no-plot", help="Draw no picture.")]
ConfigArg = Annotated[str, typer.Argument(metavar="CONFIG", help="Experiment YAML file, or - to read it from stdin.")]


def _chart(values, title: str, x_label: str) -> list[str]:
    from nncli.textplot import chart

    return chart(values, title, width=60, height=8, unicode=True, x_label=x_label)


def _picture(kind: str, result: dict, path: Optional[Path], no_plot: bool, console) -> None:
    """The picture into ``path``, or ``<kind>.png`` in the current directory when matplotlib is
    installed; a picture that cannot be drawn is one note, never a failure."""
    from nncli import canvas

    if no_plot:
        return
    if not canvas.available():
        if path is not None:
            console.print(f"note: no picture: {canvas.INSTALL_HINT}")
        return
    from nncli import teachplots

    try:
        console.print(f"picture: {teachplots.write(kind, result, path or Path(f'{kind}.png'))}", markup=False)
    except Exception as e:  # noqa: BLE001
        console.print(f"note: no picture ({type(e).__name__}: {e})", markup=False)


@app.command(epilog=examples(
    "nncli gradcheck configs/digits.yaml",
    "nncli gradcheck configs/iris.yaml --set model.dropout=0.2 --set model.batch_norm=true",
    "nncli gradcheck configs/wine.yaml --batch 4 --json",
    "nncli gradcheck configs/digits_cnn.yaml --entries 0     # every entry: minutes, not seconds"))
def gradcheck(
    config: ConfigArg,
    set_: SetOpt = [],
    batch: Annotated[int, typer.Option("--batch", min=1, help="Training rows to check on.")] = 8,
    tol: Annotated[float, typer.Option("--tol", help="Largest relative error that passes.")] = 1e-6,
    entries: Annotated[int, typer.Option(
        "--entries", min=0, metavar="N",
        help="Check an array larger than N on a seeded random sample of N entries, and along 16 random "
             "directions over the whole array; smaller arrays entry by entry. 0: every entry of every array.")] = 256,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Check backprop against finite differences, layer by layer; exit 5 names a failing layer.

    In float64, for every layer of the config's network and end to end (every parameter array
    and the input). Arrays larger than --entries are checked on a sample of their entries and
    along random directions (the directional derivative g . u against (f(x + h u) - f(x - h u)) / 2h),
    which finds a wrong gradient anywhere in the array at the cost of a few forward passes."""
    from nncli.teach.gradcheck import gradcheck as check

    report = check(_load(config, set_), batch=batch, tol=tol, entries=entries or None, runs_dir=runs_dir).as_dict()
    if report["failed"]:
        report["status"] = "failed"
    if as_json and not report["failed"]:
        typer.echo(json.dumps(report, indent=2))
    elif not as_json:
        console = _console(stderr=False)
        from nncli.teachviews import gradcheck_tables

        for table in gradcheck_tables(report):
            console.print(table)
        console.print(f"{report['n_params']:,} parameters, {report['batch']} samples, float64, central "
                      f"differences (h = 1e-6), relative error |a - b| / (|a| + |b|), tolerance {tol:g}")
        if report["directions"]:
            console.print(f"arrays over {entries:,} entries: {entries:,} random entries and {report['directions']} "
                          f"random directions each (--entries 0 checks every entry)")
    if report["failed"]:
        error = CheckFailed(f"gradient check failed in {', '.join(report['failed'])}: backprop differs from "
                            f"finite differences by more than {tol:g}")
        error.summary = report  # with --json: the report, the exit code and the message, one object
        raise error
    if not as_json:
        _console().print("gradient check passed")


@app.command(epilog=examples("nncli summary configs/digits.yaml", "nncli summary digits", "nncli summary digits --json"))
def summary(
    source: Annotated[str, typer.Argument(metavar="CONFIG|RUN", help="An experiment YAML file or a run.")],
    set_: SetOpt = [],
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Each layer's output shape, parameters and multiply-adds, like Keras's model.summary().

    Parameters are counted trainable and frozen, with the totals; for a run, also where its
    weights came from."""
    from nncli.teach import summary as summaries

    is_config = source == "-" or source.endswith((".yaml", ".yml")) or Path(source).is_file()
    if set_ and not is_config:
        raise UsageError("summary: --set needs a config file; a run keeps its saved config")
    s = (summaries.summarize_config(_load(source, set_), runs_dir) if is_config
         else summaries.summarize_run(source, runs_dir))
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    from nncli.teachviews import summary_table

    console = _console(stderr=False)
    console.print(summary_table(s))
    t, w = s["total"], s["weights"]
    console.print(f"total params {t['params']:,} (trainable {t['trainable']:,}, frozen {t['frozen']:,}); "
                  f"{t['macs']:,} multiply-adds per sample; {s['dtype']}", markup=False)
    console.print(f"weights: {w['init']}" + (f"; saved in {w['file']}" if w.get("file") else ""), markup=False)
    for key in ("loaded", "reinitialized", "frozen"):
        if w.get(key):
            console.print(f"  {key}: {', '.join(w[key])}", markup=False)


@app.command("lr-find", epilog=examples(
    "nncli lr-find configs/digits.yaml",
    "nncli lr-find configs/digits.yaml --apply            # writes configs/digits.lr.yaml",
    "nncli lr-find configs/iris.yaml --min-lr 1e-5 --max-lr 1 --steps 200 --plot lr.png"))
def lr_find(
    config: ConfigArg,
    set_: SetOpt = [],
    min_lr: Annotated[float, typer.Option("--min-lr", help="First rate of the sweep.")] = 1e-7,
    max_lr: Annotated[float, typer.Option("--max-lr", help="Last rate of the sweep.")] = 10.0,
    steps: Annotated[int, typer.Option("--steps", min=3, help="Batches, one rate each.")] = 100,
    apply: Annotated[bool, typer.Option("--apply", help="Write a copy of the config with optimizer.lr set "
                                                      "to the suggestion (see --output).")] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", help="Where --apply writes (default: CONFIG with .lr.yaml).")] = None,
    plot: PlotOpt = None,
    no_plot: NoPlotOpt = False,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """Find a learning rate: the range test, suggesting the rate of steepest descent.

    From the initial weights, one batch per rate while the rate grows exponentially; stops
    when the smoothed loss explodes."""
    if min_lr <= 0 or max_lr <= min_lr:
        raise UsageError(f"lr-find: expected 0 < --min-lr < --max-lr, got {min_lr:g} and {max_lr:g}")
    if apply and config == "-" and output is None:
        raise UsageError("lr-find: --apply with a config from stdin needs --output FILE")
    from nncli.teach.lrfind import lr_find as find

    cfg = _load(config, set_)
    result = find(cfg, min_lr=min_lr, max_lr=max_lr, steps=steps, runs_dir=runs_dir).as_dict()
    console = _console()
    if not as_json:
        shown = [v for v in result["smoothed"] if v <= 1.5 * result["smoothed"][0]]  # not the explosion
        for line in _chart(shown, "smoothed loss (x: step, the rate grows exponentially)", "step"):
            console.print(line, markup=False, highlight=False)
        console.print(f"stopped: {result['stopped']}", markup=False)
    _picture("lr_find", result, plot, no_plot, console)
    if result["suggestion"] is None:
        console.print("no suggestion: the loss never fell; try a wider range (--min-lr, --max-lr) or more --steps")
    elif apply:
        from nncli.atomic import atomic_write_text
        from nncli.config import dump_config

        target = output or Path(config).with_suffix(".lr.yaml")
        new = cfg.model_copy(update={"optimizer": cfg.optimizer.model_copy(update={"lr": result["suggestion"]})})
        atomic_write_text(target, dump_config(new))
        result["applied"] = str(target)
        console.print(f"wrote {target} with optimizer.lr: {result['suggestion']:.3g}", markup=False)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    elif result["suggestion"] is not None:
        console.print(f"suggested lr (steepest descent of the smoothed loss): {result['suggestion']:.3g}")
        typer.echo(f"{result['suggestion']:.3g}")


@app.command("learning-curve", epilog=examples(
    "nncli learning-curve configs/digits.yaml",
    "nncli learning-curve configs/digits.yaml --fractions 0.05,0.2,1 --set model.hidden=[]",
    "nncli learning-curve configs/diabetes.yaml --set baseline.error=0.4 --plot curve.png"))
def learning_curve(
    config: ConfigArg,
    set_: SetOpt = [],
    fractions: Annotated[str, typer.Option(
        "--fractions", metavar="F1,F2,...", help="Fractions of the training split to train on.")] = "0.1,0.25,0.5,0.75,1",
    plot: PlotOpt = None,
    no_plot: NoPlotOpt = False,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: JsonOpt = False,
):
    """J_train and J_cv on growing fractions of the data, and the bias/variance verdict.

    The verdict is against the baseline (baseline.error/loss, or a trivial model)."""
    try:
        fracs = [float(f) for f in fractions.split(",") if f.strip()]
    except ValueError:
        raise UsageError(f"--fractions: expected numbers in (0, 1] separated by commas, got {fractions!r}") from None
    from nncli.teach.learningcurve import learning_curve as curve

    console = _console()
    result = curve(_load(config, set_), fracs, runs_dir=runs_dir,
                   on_point=None if as_json else lambda p: console.print(
                       f"{p['fraction']:.0%} ({p['samples']} samples): J_train {p['train']['loss']:.4g}, "
                       f"J_cv {p['cv']['loss']:.4g}", markup=False))
    _picture("learning_curve", result, plot, no_plot, console)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from nncli.teachviews import curve_table

    out = _console(stderr=False)
    out.print(curve_table(result))
    v = result["verdict"]
    b = v["baseline"]
    ref = ", ".join(f"{m} {x:g}" for m, x in b["reference"].items() if x is not None) or "0 (a perfect model)"
    out.print(f"baseline: {ref}; trivial model ({b['trivial']['model']}): loss {b['trivial']['loss']:.4g}, "
              f"error {b['trivial']['error']:.4g}; far = more than {v['threshold']:.1%} of the span", markup=False)
    out.print(f"verdict: {result['diagnosis']}", markup=False)
    for line in v["findings"] + v["advice"]:
        out.print(f"  {line}", markup=False)
    if result["trend"]:
        out.print(result["trend"], markup=False)
