"""Sweeps: many configs from one, each trained into its own run.

A ``--grid key=[v1, v2]`` is one axis; the sweep is the cartesian product of the axes. Every
trial's config is validated before the first one trains.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Sequence

from nncli import runner, runs
from nncli.config import load_config, read_config_text, split_override
from nncli.config.safeyaml import dotted, load_yaml
from nncli.config.schema import _show
from nncli.errors import ConfigError, DivergedError


def expand_grid(grid: Sequence[str]) -> list[list[str]]:
    """Each ``key=[v1, v2, ...]`` is one axis; returns the cartesian product as override lists.

    ``["optimizer.lr=[0.1, 0.01]", "model.hidden=[[64], [128]]"]`` gives four lists such as
    ``["optimizer.lr=0.1", "model.hidden=[64]"]``.
    """
    axes = []
    for item in grid:
        keys, text = split_override(item)
        key = dotted(keys)
        values, _ = load_yaml(text, f"--grid {item!r}", empty=None)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--grid {item!r}: expected a non-empty list of values, "
                              f"e.g. {key}=[0.1, 0.01], got {_show(values)}")
        axes.append([f"{key}={json.dumps(v)}" for v in values])
    return [list(combo) for combo in itertools.product(*axes)]


def sweep_configs(path: str, overrides: list[str], grid: list[str], text: str | None = None):
    """[(grid overrides, Config)] for every combination, all validated before any training.

    Each run is named ``<name>-<i>`` unless the grid sets ``name`` itself.
    """
    if text is None and path != "-":
        text = read_config_text(path)
    base = load_config(path, overrides, text=text)
    combos = expand_grid(grid)
    names_given = any(item.split("=", 1)[0].strip() == "name" for item in grid)
    out = []
    for i, combo in enumerate(combos, 1):
        extra = [] if names_given else [f"name={base.name}-{i}"]
        try:
            out.append((combo, load_config(path, [*overrides, *combo, *extra], text=text)))
        except ConfigError as e:
            raise ConfigError(f"--grid combination {i} ({', '.join(combo)}): {e}") from None
    return out


def sweep(configs, *, runs_dir: str | Path = "runs", stop: runner.StopFlag | None = None, command: str = "",
          callbacks=()):
    """Train each config in turn; yields (grid overrides, run dir, summary). A run that diverges
    is recorded as failed and the sweep goes on; an interrupt ends the sweep."""
    stop = stop or runner.StopFlag()
    for combo, cfg in configs:
        try:
            run_dir, summary = runner.train(cfg, runs_dir=runs_dir, stop=stop, command=command,
                                            callbacks=callbacks)
        except DivergedError as e:
            run_dir = e.run_dir
            summary = runs.read_summary(run_dir)
        yield combo, run_dir, summary
