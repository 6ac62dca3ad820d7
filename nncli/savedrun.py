"""A saved run rebuilt from its directory alone: its config (read as the version that wrote the
run meant it, and checked against the copy saved with the weights), network, preprocessing,
column encoder, target scaling and recorded splits.

A module of its own because more than evaluate and predict load runs: continuing a run checks
its saved config, and export, plots, the estimators and summaries rebuild runs too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import modelfiles, runs
from nncli.build import network
from nncli.checkpoint import file_format, model_meta
from nncli.config import Config, config_differences, config_hash, parse_yaml, read_config_text, validate
from nncli.config.migrate import migrate
from nncli.data.encode import TableEncoder
from nncli.data.images import PixelScaler
from nncli.data.preprocess import Preprocessor
from nncli.data.target import TargetScaler
from nncli.errors import ConfigError, DataError, RunError
from nncli.nn import Network, make_loss


@dataclass
class Loaded:
    cfg: Config
    net: Network
    prep: Preprocessor
    meta: dict
    classes: np.ndarray | None
    loss: object
    format: int = 2
    encoder: TableEncoder | None = None  # None for a model that takes images
    target: TargetScaler = field(default_factory=TargetScaler)
    split: dict = field(default_factory=dict)  # split -> row numbers (format 3)


def load_run_config(run_dir: Path, run_format: int) -> Config:
    """A run's saved config, read as the version that wrote the run meant it. A config.yaml
    that no longer reads is a damaged run (exit 4), not a mistake in the user's config."""
    path = run_dir / runs.CONFIG_FILE
    try:
        data, lines = parse_yaml(read_config_text(path), str(path))
        return validate(migrate(data, run_format), str(path), lines)
    except ConfigError as e:
        raise RunError(f"{run_dir}: the run's {runs.CONFIG_FILE} is damaged or was edited into an invalid "
                       f"config: {getattr(e, 'problems', [str(e)])[0]}") from e


def check_saved_config(arrays: dict, cfg: Config, run_dir: Path, saved_in: str) -> None:
    """Refuse a run whose config.yaml no longer describes its weights (an edit after training),
    naming each key that differs."""
    saved, digest = arrays.get("config"), arrays.get("config_sha256")
    if saved is None and digest is None:
        return  # written before configs were saved with the weights
    try:
        if digest is not None and runs.get_str(digest) == config_hash(cfg):
            return
        changed = config_differences(json.loads(runs.get_str(saved)), cfg) if saved is not None else ["?"]
    except (RunError, ValueError, RecursionError) as e:
        raise RunError(f"{run_dir / saved_in}: corrupt or not an nncli file (the saved config: {e})") from e
    if changed:
        shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise RunError(f"{run_dir}: {runs.CONFIG_FILE} differs from the config saved with the weights in "
                       f"{saved_in} ({shown}); it was edited after training: restore it, or train a new "
                       f"run from it")


def load_run(run: str, runs_dir: str | Path = "runs") -> tuple[Path, Loaded]:
    run_dir = runs.resolve_run(run, runs_dir)
    arrays = modelfiles.load_model_arrays(run_dir)
    model_file = run_dir / runs.MODEL_FILE
    fmt = file_format(arrays, model_file)
    meta = model_meta(arrays, model_file)
    cfg = load_run_config(run_dir, fmt)
    check_saved_config(arrays, cfg, run_dir, runs.MODEL_FILE)
    try:
        net = network(cfg, meta["n_in"], meta["n_out"], meta["output"])
        net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")})
        if "img.scale" in arrays:
            prep, enc = PixelScaler.from_state_dict(arrays), None
        else:
            prep = Preprocessor.from_state_dict(arrays)
            enc = (TableEncoder.from_state_dict(arrays) if "enc.columns" in arrays
                   else TableEncoder.numbers(list(meta["feature_names"])))
            if len(enc.names) != prep.n_features_in:
                raise ValueError(f"{len(enc.names)} encoded inputs for a preprocessor of {prep.n_features_in}")
        target = TargetScaler.from_state_dict(arrays)
        split = {k[6:]: np.asarray(v, np.int64) for k, v in arrays.items() if k.startswith("split.")}
        loss = make_loss(meta["loss"], cfg.loss.huber_delta)
        width = list(prep.shape) if enc is None else prep.transform(np.zeros((1, prep.n_features_in))).shape[1]
    except (KeyError, ValueError, TypeError, DataError, ConfigError) as e:
        raise RunError(f"{model_file}: corrupt or not an nncli model ({' '.join(str(e).split())})") from e
    if width != meta["n_in"]:
        raise RunError(f"{model_file}: corrupt or not an nncli model (the preprocessing gives {width} "
                       f"features or images, the network takes {meta['n_in']})")
    return run_dir, Loaded(cfg, net, prep, meta, arrays.get("classes"), loss, fmt, enc, target, split)
