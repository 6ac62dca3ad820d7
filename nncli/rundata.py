"""What the pictures, the report and ``nncli show`` read from a run directory.

The one place that reads a finished run for them: its history (metrics.csv), summary.json,
resolved config (config.yaml), and its model's outputs on the run's own splits (the model
loaded through ``savedrun.load_run``, the splits recreated from the config's seed). Plots and
views take what these functions return and never open a run's files themselves.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import metricscsv, runs
from nncli.errors import DataError, NncliError, RunError

# config keys that differ between runs without describing the experiment
_NOT_A_SETTING = {"name", "description"}


@dataclass
class Run:
    """A run's record: no arrays, no model."""

    dir: Path
    name: str
    summary: dict
    config: dict  # the resolved config as nested plain data
    history: list[dict]  # metrics.csv rows: epoch, loss, accuracy|r2, val_loss, val_..., lr, seconds
    task: str | None  # classification | regression (None when the summary does not say)

    @property
    def metric(self) -> str:
        return "accuracy" if self.task == "classification" else "r2"

    @property
    def best_epoch(self) -> int | None:
        return (self.summary.get("best") or {}).get("epoch")


@dataclass
class Outputs:
    """A model's outputs on one split of its data, and a decision grid for 2-feature data."""

    split: str  # "test" or "validation"
    task: str
    y_true: np.ndarray  # classification: class codes (n,); regression: values (n, k)
    y_pred: np.ndarray  # classification: predicted codes (n,); regression: (n, k)
    proba: np.ndarray | None = None  # classification: (n, n_classes) probabilities
    classes: list[str] = field(default_factory=list)
    grid: Grid | None = None


@dataclass
class Grid:
    """Predicted classes over a rectangle of the two raw input features, and the training points."""

    x0: np.ndarray  # (n,) grid coordinates of the first feature
    x1: np.ndarray  # (m,) of the second
    codes: np.ndarray  # (m, n) predicted class code at each grid point
    X_train: np.ndarray  # (n_train, 2) raw training features
    y_train: np.ndarray  # (n_train,) class codes
    feature_names: list[str]


def read_history(run_dir: Path) -> list[dict]:
    """metrics.csv as rows, [] when the run has no epoch yet."""
    path = Path(run_dir) / runs.METRICS_FILE
    return metricscsv.read_metrics_csv(path) if path.is_file() else []


def read_config(run_dir: Path) -> dict:
    """The run's resolved config as nested plain data (defaults filled in for older runs)."""
    from nncli.config import config_to_dict, load_config

    return config_to_dict(load_config(Path(run_dir) / runs.CONFIG_FILE))


def read_run(run_dir: Path) -> Run:
    run_dir = Path(run_dir)
    try:
        summary = runs.read_summary(run_dir)
    except RunError:
        summary = {"status": "unknown"}
    config = read_config(run_dir)
    task = summary.get("task") or (config.get("data") or {}).get("task")
    return Run(run_dir, summary.get("name") or config.get("name") or run_dir.name, summary, config,
               read_history(run_dir), task)


# ---------------------------------------------------------------- choosing runs
def select_runs(items: list[str], runs_dir: str | Path = "runs") -> list[Path]:
    """Run directories from arguments, in order, without repeats. Each argument is a run
    directory; a directory of runs (every run in it); or a run name or glob pattern matched
    against the run names and directory names in ``runs_dir`` (every match, oldest first)."""
    root = Path(runs_dir)
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir() and (path / runs.CONFIG_FILE).is_file():
            found = [path]
        elif path.is_dir():
            found = [p for p in sorted(path.iterdir()) if (p / runs.CONFIG_FILE).is_file()]
            if not found:
                raise RunError(f"{path}: neither a run directory nor a directory of runs")
        else:
            found = _matching(item, root)
        out += [p for p in sorted(found, key=_age_then_name) if p not in out]
    return out


def _age_then_name(run_dir: Path) -> tuple:
    """Oldest first; runs started in the same second (a sweep) by name, digits as numbers."""
    stamp = run_dir.name[:15]  # YYYYmmdd-HHMMSS
    return stamp, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", _run_name(run_dir))]


def _matching(pattern: str, root: Path) -> list[Path]:
    dirs = [p for p in sorted(root.iterdir()) if (p / runs.CONFIG_FILE).is_file()] if root.is_dir() else []
    found = [p for p in dirs if fnmatch.fnmatchcase(p.name, pattern)
             or fnmatch.fnmatchcase(_run_name(p), pattern)]
    if not found:
        runs.resolve_run(pattern, root)  # raises with a "did you mean"
        raise RunError(f"no run matches '{pattern}' in {root}")
    return found


def _run_name(run_dir: Path) -> str:
    parts = run_dir.name.split("-", 3)  # YYYYmmdd-HHMMSS-hex-name
    return parts[3] if len(parts) == 4 else run_dir.name


# ---------------------------------------------------------------- what differs
def flatten(d: dict, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}; an empty mapping adds no key (so
    ``data.params: {}`` compares as ``data.params.noise`` unset against a run that sets it)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differing_keys(configs: list[dict], skip=_NOT_A_SETTING) -> list[str]:
    """The dotted config keys whose values are not the same in every run (schema order)."""
    flat = [flatten(c) for c in configs]
    keys = list(flatten(_union(configs)))  # in the configs' (the schema's) order
    return [k for k in keys if k not in skip
            and len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]


def _union(configs: list[dict]) -> dict:
    """Every key of every config, nested where it belongs, in order of first appearance."""
    out: dict = {}
    for c in configs:
        for k, v in c.items():
            if isinstance(v, dict):
                out[k] = _union([out[k], v]) if isinstance(out.get(k), dict) else _union([v])
            else:
                out.setdefault(k, v)
    return out


def show_value(v) -> str:
    """A config value as it would be written in an override: 0.01, [64, 32], true, null."""
    return json.dumps(v) if not isinstance(v, str) else v


def labels(run_list: list[Run]) -> list[str]:
    """One legend label per run from what differs between their configs, e.g.
    ``optimizer.lr=0.01, model.hidden=[64]``; the run names when the configs are the same."""
    keys = differing_keys([r.config for r in run_list])
    if not keys:
        names = [r.name for r in run_list]
        return names if len(set(names)) == len(names) else [r.dir.name for r in run_list]
    flat = [flatten(r.config) for r in run_list]
    return [", ".join(f"{k}={show_value(f.get(k))}" for k in keys) for f in flat]


# ---------------------------------------------------------------- the model's outputs
def preload() -> None:
    """Import what ``model_outputs`` needs (before forking workers that share it)."""
    import sklearn.datasets  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.preprocessing  # noqa: F401

    from nncli import build, inference, savedrun  # noqa: F401


def _load_data(cfg):
    """The run's splits, recreated from its config; runs of one sweep usually share them."""
    from nncli.build import load_data

    key = json.dumps([cfg.data.model_dump(mode="json"), cfg.seed, cfg.training.dtype], sort_keys=True)
    if key not in _datasets:
        if len(_datasets) >= 4:
            _datasets.clear()
        _datasets[key] = load_data(cfg)
    return _datasets[key]


_datasets: dict = {}


def model_outputs(run_dir: Path, grid_points: int | None = 200) -> Outputs:
    """The saved model's predictions on the run's test split (validation when it has none),
    and for two raw input features the predicted class over a grid of ``grid_points`` squared
    points around the training points (no grid when ``grid_points`` is None).

    Raises RunError when the run has no model, DataError when its data cannot be recreated.
    """
    from nncli.inference import _probabilities
    from nncli.savedrun import load_run

    run_dir, loaded = load_run(str(run_dir))
    task = loaded.meta["task"]
    try:
        ds = _load_data(loaded.cfg)
    except NncliError as e:
        raise DataError(f"{run_dir}: cannot recreate the run's data ({e})") from e
    split, X, y = ("test", ds.X_test, ds.y_test) if len(ds.X_test) else ("validation", ds.X_val, ds.y_val)
    if len(X) == 0:
        raise DataError(f"{run_dir}: the run has neither a test nor a validation split")
    out = loaded.net.predict(X)  # out: (n, n_out)
    if task != "classification":
        y = np.asarray(y, np.float64).reshape(len(out), -1)
        return Outputs(split, task, y, out.astype(np.float64).reshape(len(out), -1))
    proba = _probabilities(loaded.loss.link(out))  # (n, n_classes)
    classes = [str(c) for c in loaded.classes]
    grid = None
    if loaded.encoder is not None and loaded.prep.n_features_in == 2 and grid_points:  # columns, not images
        grid = _grid(loaded, ds, grid_points)
    return Outputs(split, task, np.asarray(y), proba.argmax(axis=1), proba, classes, grid)


def _grid(loaded, ds, n: int) -> Grid:
    """Class codes over an n x n grid of the raw features, fed through the saved preprocessing."""
    from nncli.inference import _probabilities

    prep = loaded.prep
    # the first two transformed columns are the two raw features (polynomial terms follow),
    # scaled as x * scale + offset: undo that to draw the points in the data's own units
    X_raw = (np.asarray(ds.X_train, np.float64)[:, :2] - prep.offset[:2]) / prep.scale[:2]
    lo, hi = X_raw.min(axis=0), X_raw.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    x0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    x1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    g0, g1 = np.meshgrid(x0, x1)  # (n, n) each
    points = np.column_stack([g0.ravel(), g1.ravel()])  # (n*n, 2)
    out = loaded.net.predict(prep.transform(points, loaded.cfg.training.dtype))
    codes = _probabilities(loaded.loss.link(out)).argmax(axis=1).reshape(n, n)
    names = list(loaded.meta.get("feature_names") or ["x0", "x1"])
    return Grid(x0, x1, codes, X_raw, np.asarray(ds.y_train), names)
