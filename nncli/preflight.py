"""The checks a config passes before any data is loaded or anything is written, made by
``nncli train``, ``nncli config validate`` and every sweep trial alike.

A module of its own because it runs before, and without, what build.py builds: it looks at what
a config names outside itself (a dataset's parameters, a data file, a run to start from) and at
what a built-in dataset's known task rules out, and reports every problem in one ConfigError
instead of stopping at the first.
"""

from __future__ import annotations

from pathlib import Path

from nncli import runs
from nncli.build import BATCH_NORM_OF_ONE, image_problems, monitor_problem, resolve_loss_and_head
from nncli.config import Config
from nncli.config.layers import layer_specs
from nncli.data.datasets import param_problems
from nncli.data.names import DATASETS, GENERATORS
from nncli.errors import ConfigError, RunError

TASKS_OF = {**DATASETS, **GENERATORS}  # a built-in dataset's task


def check(cfg: Config, runs_dir="runs") -> None:
    """What a config names outside itself, checked before any data is loaded or anything is
    written (by ``nncli train`` and by ``nncli config validate``): the dataset's params against
    its scikit-learn function's signature, that data.path is a file, and that model.init_from
    is a run (a name is looked up in ``runs_dir``) with a saved model. One ConfigError lists
    every problem. For a built-in dataset, whose task is known without loading it, the loss
    and the early-stopping monitor are checked against the task too."""
    d, problems = cfg.data, []
    task = d.task or (TASKS_OF.get(d.dataset) if d.path is None else None)
    if task is not None:
        try:
            resolve_loss_and_head(cfg, task, 2)
        except ConfigError as e:
            problems.append(str(e))
    es = cfg.training.early_stopping
    if es is not None:
        problems += [p for p in [monitor_problem(es.monitor, task, d.validation > 0)] if p]
    norms = cfg.model.layers is not None and any(k == "batch_norm" for k, _ in layer_specs(cfg.model.layers))
    if (cfg.model.batch_norm or norms) and cfg.training.batch_size == 1:
        problems.append(BATCH_NORM_OF_ONE)
    problems += image_problems(cfg)
    if d.dataset is not None:
        problems += param_problems(d.dataset, dict(d.params))
    if d.path is not None:
        path = Path(d.path)
        if not path.exists():
            where = "" if path.is_absolute() else f" (a relative path is read from {Path.cwd()})"
            problems.append(f"data.path: no such file {d.path!r}{where}")
        elif path.is_dir():
            problems.append(f"data.path: {d.path!r} is a directory, expected a .csv or .npz file")
    if cfg.model.init_from is not None:
        try:
            run_dir = runs.resolve_run(cfg.model.init_from, runs_dir)
        except RunError as e:
            problems.append(f"model.init_from: {e}")
        else:
            if not (run_dir / runs.MODEL_FILE).is_file():
                problems.append(f"model.init_from: {run_dir} has no {runs.MODEL_FILE} yet (a run that "
                                "has not finished has no weights to start from)")
    if len(problems) == 1:
        raise ConfigError(problems[0], problems)
    if problems:
        raise ConfigError(f"{len(problems)} problems in the config\n" + "\n".join(problems), problems)
