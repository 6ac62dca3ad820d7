"""A run's checkpoint.npz and model.npz on disk: save, load, and fall back.

A checkpoint is saved with the one it replaces kept as checkpoint.prev.npz, and loading falls
back to that one when the newest cannot be read or does not fit; a checkpoint that keeps its
history in metrics.csv gets it from there. What the files hold, and their format versions, is
``checkpoint.py``'s; this module is where they meet the run directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nncli.atomic import atomic_write_bytes, load_npz, npz_bytes, save_npz
from nncli.checkpoint import (
    MODEL_FORMAT,
    READS_CHECKPOINT,
    READS_MODEL,
    check_format,
    decode_checkpoint,
    encode_checkpoint,
)
from nncli.errors import FormatError, RunError
from nncli.metricscsv import read_metrics_csv
from nncli.runs import CHECKPOINT_FILE, CHECKPOINT_PREV_FILE, METRICS_FILE, MODEL_FILE
from nncli.summary import SUMMARY_FILE


def save_checkpoint(run_dir, state: dict, extra: dict | None = None,
                    history_columns: list[str] | None = None) -> None:
    """Write checkpoint.npz from a trainer's state (and ``extra`` arrays: the run's config);
    the one it replaces is kept as checkpoint.prev.npz. With ``history_columns`` the history
    is left to metrics.csv (``MetricsLog``), whose rows must already be written."""
    run_dir = Path(run_dir)
    atomic_write_bytes(run_dir / CHECKPOINT_FILE, npz_bytes(encode_checkpoint(state, extra, history_columns)),
                       keep_previous=run_dir / CHECKPOINT_PREV_FILE)


def check_checkpoint_format(run_dir) -> None:
    """FormatError when the newest checkpoint was written in a format this version cannot
    resume: said first, before any data is loaded. Damage is left to ``load_checkpoint``."""
    for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE):
        path = Path(run_dir) / name
        try:
            arrays = load_npz(path, keys={"format"})
        except RunError:
            continue
        check_format(arrays, path, READS_CHECKPOINT, "checkpoint")
        return


def has_checkpoint(run_dir) -> bool:
    """Whether any checkpoint file exists (usable or not): a run without one never saved a state."""
    return any(os.path.lexists(Path(run_dir) / name) for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE))


def load_checkpoint(run_dir, check=None) -> tuple[dict, str]:
    """(trainer state, file name) from checkpoint.npz, or from checkpoint.prev.npz if the newest
    cannot be read, does not decode, or fails ``check(state)`` (a ValueError: it does not fit)."""
    run_dir = Path(run_dir)
    reasons = []
    rows = []

    def metrics_rows():  # read once, when a checkpoint keeps its history there
        if not rows:
            try:
                rows.append(read_metrics_csv(run_dir / METRICS_FILE))
            except RunError:
                rows.append(None)
        return rows[0]

    for name in (CHECKPOINT_FILE, CHECKPOINT_PREV_FILE):
        path = run_dir / name
        try:
            arrays = load_npz(path)
            state = decode_checkpoint(arrays, path, None if "trainer.history" in arrays else metrics_rows())
            if check is not None:
                check(state)
            return state, name
        except FormatError:
            raise
        except RunError as e:
            reasons.append(f"{name}: {'missing' if 'no such file' in str(e) else 'corrupt or truncated'}")
        except (KeyError, ValueError, TypeError) as e:
            reasons.append(f"{name}: bad contents ({e})")
    raise RunError(f"{run_dir}: no usable checkpoint ({'; '.join(reasons)})")


def save_model(run_dir, arrays: dict) -> None:
    save_npz(Path(run_dir) / MODEL_FILE, {"format": np.array(MODEL_FORMAT), **arrays})


def load_model_arrays(run_dir) -> dict[str, np.ndarray]:
    """The arrays of a run's model.npz, after checking its format version."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise RunError(f"{run_dir}: no {MODEL_FILE} (the run has not finished; status in {SUMMARY_FILE})")
    arrays = load_npz(path)
    check_format(arrays, path, READS_MODEL, "model")
    return arrays
