"""`nncli sweep`: many trials of one config, in parallel, resumable."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.cli.app import (
    RunsDirOpt,
    SetOpt,
    _console,
    _read_stdin,
    _stop_on_signals,
    app,
    examples,
)
from nncli.errors import EXIT_BUG, EXIT_DIVERGED, EXIT_IO, Interrupted, UsageError

_DEFINING = ("grid", "sweep_file", "strategy", "trials", "seed", "metric", "eta", "min_epochs", "name")


@app.command(epilog=examples(
    "nncli sweep configs/digits.yaml optimizer.lr=0.1,0.01,0.001 'model.hidden=[64],[128]' --jobs 2",
    "nncli sweep configs/digits.yaml 'optimizer.lr=loguniform(1e-4,1e-1)' --trials 16 > best.yaml",
    "nncli sweep --resume digits-sweep-1a2b3c4d"))
def sweep(
    config: Annotated[Optional[str], typer.Argument(
        metavar="CONFIG", help="Experiment YAML file, or - to read it from stdin. Not with --resume.")] = None,
    values: Annotated[Optional[list[str]], typer.Argument(
        metavar="KEY=VALUES", show_default=False,
        help="What to try: key=a,b,c (Hydra's multirun syntax), key=choice(a,b), key=range(1,5), "
             "key=uniform(a,b), key=loguniform(a,b), key=int(a,b); key=value is fixed for every trial.")] = None,
    grid: Annotated[list[str], typer.Option(
        "--grid", "-g", metavar="KEY=[V1,V2,...]",
        help="A key and a YAML list of values to try, e.g. 'model.hidden=[[64],[128]]' (repeatable).")] = [],
    set_: SetOpt = [],
    sweep_file: Annotated[Optional[str], typer.Option(
        "--sweep-file", metavar="FILE", help="A YAML file with the keys of a sweep section (params, strategy, ...).")] = None,
    strategy: Annotated[Optional[str], typer.Option(
        "--strategy", help="grid (every combination; the default), random, tpe (Optuna) or halving "
                           "(successive halving). --trials alone means random.")] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", "-n", min=1, help="Trials to sample (random, tpe, halving).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Seed of the sampler (default 0).")] = None,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", help="What ranks trials: val_accuracy, val_r2, val_loss, accuracy, r2 or loss "
                         "(default: the task's validation metric; losses rank lowest first).")] = None,
    eta: Annotated[Optional[int], typer.Option("--eta", min=2, help="halving: keep the best 1/eta at each rung (default 3).")] = None,
    min_epochs: Annotated[Optional[int], typer.Option("--min-epochs", min=1, help="halving: the fewest epochs a rung may train (default 1).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Trials at once in worker processes on this machine "
                                                           "(-1: one per core).")] = 1,
    cluster: Annotated[Optional[str], typer.Option(
        "--cluster", metavar="ADDRESS", help="Run the trials on a Dask scheduler, e.g. tcp://10.0.0.5:8786.")] = None,
    resume: Annotated[Optional[str], typer.Option(
        "--resume", metavar="SWEEP", help="Continue a sweep (its directory, or its name in --runs-dir).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="The sweep directory's name (default <config name>-sweep-<hash>).")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per line as each trial ends, "
                                                         "then one for the best trial.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but the results and errors.")] = False,
):
    """Train many trials of a config: a grid, random search, TPE or successive halving.

    Every trial is validated before the first one trains. Trials live in
    runs/<name>-sweep-<hash>/, one run directory each, with a manifest: running the same
    command again (or --resume) skips finished trials, resumes interrupted ones from their
    checkpoints and runs the rest. Each trial's result is printed as it ends (stderr); at the
    end, the best trial's config as YAML ready to train (stdout, and best.yaml in the sweep).
    Exit 0 when every trial finished, 3 when one diverged, 4 when one failed on data or I/O,
    1 on a bug, 130/143 when interrupted (every trial's status stays true; rerun to go on).
    """
    from nncli import sweep as sweeps
    from nncli.runner import StopFlag

    stop = _stop_on_signals(StopFlag())
    if jobs == -1:
        from nncli.sweep.executors import cores

        jobs = cores()
    if jobs < 1:
        raise UsageError(f"--jobs: expected a number of worker processes >= 1 (or -1), got {jobs}")
    if cluster is not None and jobs != 1:
        raise UsageError("--jobs and --cluster: choose one (a Dask cluster has its own workers)")
    opts = sweeps.Options(items=[*(values or []), *set_], grid=grid, sweep_file=sweep_file, strategy=strategy,
                          trials=trials, seed=seed, metric=metric, eta=eta, min_epochs=min_epochs, name=name)
    if resume is not None:
        given = [k for k in _DEFINING if getattr(opts, k, None) not in (None, [])] + (["KEY=VALUES"] if opts.items else [])
        if config is not None or given:
            raise UsageError(f"--resume: the sweep's definition is in its manifest; drop "
                             f"{', '.join(given) or 'the config file'} (only --jobs, --cluster, --runs-dir, "
                             "--json and --quiet go with --resume)")
    elif config is None:
        raise UsageError("sweep: give a config file (or - for stdin) and values to try, or --resume SWEEP")
    for option, value, choices in (("--strategy", strategy, ("grid", "random", "tpe", "halving")),
                                   ("--metric", metric, ("val_accuracy", "val_r2", "val_loss", "accuracy", "r2", "loss"))):
        if value is not None and value not in choices:
            import difflib

            close = difflib.get_close_matches(value, choices, n=1)
            raise UsageError(f"{option}: expected one of {', '.join(choices)}, got '{value}'"
                             + (f" (did you mean '{close[0]}'?)" if close else ""))

    executor = _executor(jobs, cluster, stop)
    try:
        if resume is not None:
            plan, sweep_dir = sweeps.resume_plan(resume, runs_dir)
        else:
            text = _read_stdin() if config == "-" else _read_text(config)
            plan = sweeps.make_plan(config, text, opts, runs_dir)
            plan.command = " ".join(["nncli"] + sys.argv[1:])
            sweep_dir = sweeps.open_sweep(plan, runs_dir)
        console = _console()
        if not quiet:
            _describe(console, plan, sweep_dir, executor)
        run = sweeps.Sweep(plan, sweep_dir, executor, stop, runs_dir,
                           emit=_printer(console, plan, as_json, quiet))
        from nncli.sweep.manifest import locked

        with locked(sweep_dir):
            run.run()
    finally:
        executor.close()
    _finish(run, console, as_json, quiet, stop)


def _read_text(config: str) -> str:
    from nncli.config import read_config_text

    return read_config_text(config)


def _executor(jobs: int, cluster: str | None, stop):
    from nncli.sweep import executors

    if cluster is not None:
        from nncli.sweep.cluster import Cluster

        return Cluster(cluster)
    if jobs == 1:
        from nncli import runner

        runner.preload()  # so the first trial's time is its own
        return executors.Serial(stop)
    pool = executors.Local(jobs)
    pool.warm()  # the workers' imports start now, while the sweep is planned
    return pool


def _describe(console, plan, sweep_dir, executor) -> None:
    s = plan.strategy
    n = len(plan.trials) if s["name"] != "tpe" else s["trials"]
    how = {"grid": "grid", "random": f"random (seed {s['seed']})", "tpe": f"TPE (seed {s['seed']})",
           "halving": f"successive halving (seed {s['seed']}, eta {s['eta']}, rungs of "
                      f"{', '.join(str(r['epochs']) for r in s.get('rungs', []))} epochs)"}[s["name"]]
    left = sum(t["status"] != "finished" for t in plan.trials) if s["name"] != "tpe" else n
    where = getattr(executor, "describe", lambda: f"{executor.slots} at a time")()
    console.print(f"sweep {sweep_dir}: {n} trials, {how}, {where}"
                  + (f"; {n - left} already finished" if left < n else ""))
    for key, dim in plan.space.items():
        console.print(f"  {key}: {dim.text()}")


def _printer(console, plan, as_json: bool, quiet: bool):
    count = [0]

    def emit(event: dict) -> None:
        count[0] += 1
        if event["epochs_run"]:  # as nncli train does (plots: in the config; drawn after the sweep)
            from nncli.cli.later import learning_curves_picture

            learning_curves_picture(Path(event["run_dir"]), console, quiet)
        if as_json:
            typer.echo(json.dumps(event))
        if quiet:
            return
        score = "" if event["score"] is None else f"  {event['metric']} {event['score']:.4f}"
        rung = f" rung {event['rung'] + 1}" if "rung" in event else ""
        why = f" ({event['reason']})" if event["reason"] and event["status"] != "finished" else ""
        console.print(f"[{count[0]}] {event['trial']} {event['label']}{rung}: {event['status']}{why}"
                      f"{score}  epochs {event['epochs_run']}", markup=False)

    return emit


def _finish(run, console, as_json: bool, quiet: bool, stop) -> None:
    plan = run.plan
    for trial, tb in run.bugs:
        console.print(f"trial {trial['id']} ({trial['label']}) hit a bug:\n{tb}", markup=False)
    counts: dict[str, int] = {}
    for t in plan.trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    best_text = run.best_config() if plan.best else None
    best = next((t for t in plan.trials if t["id"] == plan.best), None)
    if not quiet:
        console.print(f"sweep {run.dir}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), markup=False)
        if best:
            console.print(f"best: {best['id']} {best['label']} ({best.get('metric') or plan.metric.label} {best['score']:.4f}) "
                          f"-> {run.dir / best['run_dir']}", markup=False)
    if as_json:
        typer.echo(json.dumps({"event": "best", "sweep": plan.name, "dir": str(run.dir),
                               "trial": best["id"] if best else None, "label": best["label"] if best else None,
                               "score": best["score"] if best else None, "counts": counts,
                               "config": best_text}))
    elif best_text:
        typer.echo(best_text, nl=False)
    if stop.signame:
        raise Interrupted(stop.signame, f"every trial's status is saved; continue with: nncli sweep --resume {run.dir}")
    failed = [t for t in plan.trials if t["status"] == "failed"]
    if run.bugs:
        raise typer.Exit(EXIT_BUG)
    if failed:
        raise typer.Exit(EXIT_DIVERGED if all(t["reason"] == "non_finite_loss" for t in failed) else EXIT_IO)
