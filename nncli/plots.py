"""Which pictures apply to a run, and writing them: ``nncli plot`` and the learning curves that
training leaves in each run directory.

Every run with a history gets its learning curves, and its learning rate per epoch when that
changed during the run; a run with a saved model also gets, on its test split (validation when
it has none), a confusion matrix (classification), ROC and precision-recall curves (two
classes), a decision boundary (two input features) or predicted-vs-actual and residuals
(regression). Several runs of one task also get one picture of their learning curves overlaid,
labelled by what differs between their configs.

Runs are drawn by up to ``MAX_WORKERS`` forked processes when there are several of them and
more than one core: drawing is CPU-bound Python, so threads would not help.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nncli import canvas, figures, rundata, runs
from nncli.errors import NncliError, RunError, UsageError

LEARNING_CURVES = "learning_curves"
COMPARE = "compare_learning_curves"
MAX_WORKERS = 4


@dataclass
class Result:
    paths: list[Path] = field(default_factory=list)  # every file written, in order
    notes: list[str] = field(default_factory=list)  # pictures left out, and why

    def add(self, other: Result) -> None:
        self.paths += other.paths
        self.notes += other.notes


def plot_runs(items: list[str], runs_dir: str | Path = "runs", out: Path | None = None,
              fmt: str = "png", workers: int | None = None) -> Result:
    """Write each run's pictures into its directory (or ``out/<run dir name>/``) and, for
    several runs, their overlaid learning curves into ``out`` (default: the current directory)."""
    if fmt not in canvas.FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(canvas.FORMATS)}, got '{fmt}'")
    canvas.require_matplotlib()
    run_list = [rundata.read_run(d) for d in rundata.select_runs(items, runs_dir)]
    jobs = [(run, run.dir if out is None else Path(out) / run.dir.name, fmt) for run in run_list]
    result = Result()
    for part in map_runs(_plot_job, jobs, workers):
        result.add(part)
    groups = compare_groups(run_list)
    for task, group in groups.items():
        stem = COMPARE if len(groups) == 1 else f"{COMPARE}_{task}"
        fig = figures.learning_curves(group, rundata.labels(group))
        result.paths.append(_write(fig, (Path(out) if out is not None else Path(".")) / f"{stem}.{fmt}", fmt))
    return result


def compare_groups(run_list: list[rundata.Run]) -> dict[str, list[rundata.Run]]:
    """Runs with a history grouped by task (accuracy and R² do not share an axis); a group of
    one run is left out, its own picture says it all."""
    groups: dict[str, list[rundata.Run]] = {}
    for run in run_list:
        if run.history:
            groups.setdefault(run.task or "unknown", []).append(run)
    return {task: group for task, group in groups.items() if len(group) > 1}


def _plot_job(job) -> Result:
    run, target, fmt = job
    result = Result()
    plot_run(run, target, fmt, result)
    return result


def plot_run(run: rundata.Run, target: Path, fmt: str, result: Result) -> None:
    """Every picture that applies to one run."""
    if run.history:
        result.paths.append(_write(figures.learning_curves([run]), target / f"{LEARNING_CURVES}.{fmt}", fmt))
        if lr_changed(run):
            result.paths.append(_write(figures.lr_schedule(run), target / f"lr_schedule.{fmt}", fmt))
    else:
        result.notes.append(f"{run.dir}: no epoch recorded yet, so no learning curves")
    try:
        outputs = rundata.model_outputs(run.dir)
    except NncliError as e:
        result.notes.append(f"{run.dir}: no pictures of the model's predictions ({e})")
        return
    for name, fig in task_figures(run, outputs):
        result.paths.append(_write(fig, target / f"{name}.{fmt}", fmt))


def lr_changed(run: rundata.Run) -> bool:
    """Whether the learning rate moved during the run (a constant one is a flat line)."""
    return len({r.get("lr") for r in run.history}) > 1


def task_figures(run: rundata.Run, outputs: rundata.Outputs):
    """(file stem, Figure) for the pictures of a model's predictions that fit its task, one at a
    time: each figure is drawn on a reused canvas and must be written before the next. The
    first is always the confusion matrix or the regression picture."""
    where = f"{run.name}, {outputs.split} split ({len(outputs.y_true)} samples)"
    if outputs.task != "classification":
        yield "regression", figures.regression(outputs, f"Regression: {where}")
        return
    yield "confusion_matrix", figures.confusion_matrix(outputs, f"Confusion matrix: {where}")
    if len(outputs.classes) == 2:
        yield "roc_pr", figures.roc_pr(outputs, f"{run.name}, {outputs.split} split")
    if outputs.grid is not None:
        yield "decision_boundary", figures.decision_boundary(
            outputs, f"Decision boundary: {run.name} ({len(outputs.grid.y_train)} training points)")


def learning_curve_after_training(run_dir: Path) -> Path | None:
    """Write the run's learning curves into its directory, unless the config says ``plots:
    false``, matplotlib is not installed or the run has no history. Returns the file or None."""
    if not canvas.available():
        return None
    run = rundata.read_run(run_dir)
    if not run.config.get("plots", True) or not run.history:
        return None
    canvas.require_matplotlib()
    return _write(figures.learning_curves([run]), Path(run_dir) / f"{LEARNING_CURVES}.png", "png")


def _write(fig, path: Path, fmt: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot create {path.parent}: {e.strerror or e}") from e
    runs.atomic_write_bytes(path, canvas.render(fig, fmt))
    return path


def map_runs(fn, jobs: list, workers: int | None = None) -> list:
    """``[fn(job) for job in jobs]``, shared with ``workers - 1`` forked processes when there
    are several cores (this process takes the last share and works meanwhile). ``fn`` must be a
    module-level function; jobs and results travel between processes by pickling."""
    if workers is None:
        workers = min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1)
    workers = min(workers, len(jobs))
    import multiprocessing

    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor

    # what every worker needs is imported once here, before the fork, and shared
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    rundata.preload()
    # contiguous shares (runs of one sweep share their data, loaded once per process); this
    # process takes one job less than the others, it draws the comparison afterwards
    mine = max(0, len(jobs) // workers - 1)
    theirs = jobs[:len(jobs) - mine]
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        others = pool.map(fn, theirs, chunksize=-(-len(theirs) // (workers - 1)))
        done = [fn(job) for job in jobs[len(theirs):]]
        return list(others) + done
