"""`nncli runs`: the runs and sweeps in a runs directory, or the trials of one sweep."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import JsonOpt, _console, app, examples
from nncli.errors import UsageError


@app.command("runs", epilog=examples(
    "nncli runs --sort val --limit 5",
    "nncli runs --filter status=finished --filter 'optimizer.lr<0.01'",
    "nncli runs --sweep digits-sweep-1a2b3c4d"))
def runs_cmd(
    directory: Annotated[Optional[Path], typer.Argument(hidden=True)] = None,  # as before --runs-dir
    runs_dir: Annotated[Optional[Path], typer.Option("--runs-dir", help="Where runs are stored [default: runs].",
                                                     show_default=False)] = None,
    sweep: Annotated[Optional[str], typer.Option(
        "--sweep", metavar="SWEEP", help="List the trials of this sweep (its directory, or its name in the "
                                         "runs directory), the swept keys as columns.")] = None,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", help="dir (the default; oldest first), name, status, val, test, time, lr, epochs; with "
                       "--sweep also trial, score (the default) and each swept key. Scores come best first, "
                       "ranked within their metric (accuracy and R^2 never in one ranking).")] = None,
    desc: Annotated[Optional[bool], typer.Option(
        "--desc/--asc", show_default=False,
        help="Descending or ascending order (scores: --asc puts the worst first).")] = None,
    filters: Annotated[list[str], typer.Option(
        "--filter", "-f", metavar="KEY OP VALUE",
        help="Keep rows where KEY OP VALUE holds; OP is = != < <= > >= or ~ (contains); KEY is a column "
             "(status, name, val, lr, ...) or a dotted config key (optimizer.lr). Repeatable: all must hold.")] = [],
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", min=1, help="Show only the first N rows.")] = None,
    as_json: JsonOpt = False,
):
    """List runs with their status, main hyper-parameters and scores.

    On a terminal the table fits its width (the least needed columns are left out first, the
    run's name never); piped, it is plain text with every column. A missing runs directory,
    or a file given as one, is an error (exit 4).
    """
    from nncli import listing
    from nncli.sweep import manifest

    if directory is not None and runs_dir is not None and directory != runs_dir:
        raise UsageError(f"runs: {directory} and --runs-dir {runs_dir} disagree; give one")
    from nncli.paths import check_path

    root = Path(check_path(directory or runs_dir or Path("runs"), "runs directory"))
    if sweep is None and root.is_dir() and manifest.is_sweep(root):
        sweep, root = str(root), root.parent  # `nncli runs runs/digits-sweep-...` lists its trials
    higher = True
    if sweep is not None:
        sweep_dir = manifest.resolve(sweep, root)
        rows, data = listing.trial_rows(sweep_dir)
        swept = _short_keys(list(data["space"]))
        extra = ["score", *swept.values(), *swept]
        for r in rows:
            r.update({short: r.get(key) for key, short in swept.items()})
        metric = data.get("metric")
        higher = not (metric or "").endswith("loss")
        title = f"{len(rows)} trials of sweep {sweep_dir} ({data['strategy']['name']}, ranked by " \
                f"{metric or 'the validation score'})"
        key = sort or "score"
    else:
        rows, extra = listing.run_rows(root), []
        title = f"{{n}} runs in {root}"
        key = sort or "dir"
    rows = listing.filter_rows(rows, filters, extra)
    rows = listing.sort_rows(rows, key, desc, extra, higher_is_better=higher)
    if sweep is not None and sort is None and data["strategy"]["name"] == "halving":
        rows.sort(key=lambda r: -(r.get("rung") or 0))  # stable: the finalists first, each rung by score
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    if as_json:
        typer.echo(json.dumps([{k: v for k, v in r.items() if not k.startswith("_") and ":" not in k}
                               for r in rows], indent=2, default=str))
        return
    from nncli import views

    if sweep is not None:
        columns = views.trial_columns(rows, swept, metric, data["strategy"]["name"] == "halving")
    else:
        columns = views.run_columns(rows)
        title = title.format(n=total)
    shown = f" (showing {len(rows)})" if len(rows) < total else ""
    out = _console(stderr=False)
    if not rows:
        _console().print(title + shown)
    elif out.is_terminal:
        out.print(views.fitted_table(columns, rows, title + shown, out))
    else:  # a pipe or a file: every column, plain, the title on stderr
        _console().print(title + shown)
        typer.echo(views.plain_table(columns, rows), nl=False)


def _short_keys(keys: list[str]) -> dict[str, str]:
    from nncli.sweep.space import short_keys

    return short_keys(keys)
