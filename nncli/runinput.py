"""A file read as a saved run reads it: opened with the run's data options (or the run's own
built-in dataset), the run's input columns (and its label) found by name, in any order, the
rows encoded through the run's fitted encoder and preprocessing; images scaled as the run
scaled them.

A module of its own so that evaluate and predict read their inputs one way, and what a file
must hold is said in one place: every column the run needs and a file lacks is named in one
error; other columns are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nncli.data import check_finite, encode_splits
from nncli.data.columns import missing_columns
from nncli.data.images import read_images
from nncli.data.source import open_source
from nncli.errors import DataError
from nncli.savedrun import Loaded


def open_input(lr: Loaded, path, stream=None, regular=False, cancel=None):
    """A file (``-``: CSV on ``stream``), or without a path the run's own dataset, as a source."""
    d = lr.cfg.data
    return open_source(path=path, dataset=None if path else d.dataset, params=dict(d.params), seed=lr.cfg.seed,
                       stream=stream, delimiter=d.delimiter, missing=d.missing_values, regular=regular,
                       cancel=cancel)


def read_columns(lr: Loaded, src, need_label: bool, run_dir: Path, cancel=None):
    """(table, label name or None): the run's input columns by name (and the label)."""
    inputs = lr.encoder.columns
    # the label: an .npz's own array; else the column the run learned from (a built-in dataset's
    # label has no column name: the file's last column, as in training)
    label = src.label_name or lr.cfg.data.label or lr.meta.get("label") or None
    if need_label and label is None:
        label = src.names[-1]
    wanted = [(c, "") for c in inputs] + ([(label, "label")] if need_label else [])
    what = (f"run {run_dir.name} expects input column{'s' if len(inputs) > 1 else ''} "
            f"{', '.join(inputs[:20])}{' ...' if len(inputs) > 20 else ''}"
            + (f" and the label '{label}'" if need_label else ""))
    missing_columns(src.name, wanted, src.names, what)
    kinds = dict(lr.encoder.read_as())
    id_col = lr.meta.get("id")
    if id_col and id_col in src.names and id_col not in kinds:
        kinds[id_col] = "text"
    if need_label:
        kinds[label] = "label"
    table = src.read([c for c in src.names if c in kinds], kinds, cancel=cancel)
    return table, (label if need_label else None)


def encode_inputs(lr: Loaded, table, rows: np.ndarray, cancel=None):
    """(X, the encoder bound to the table): the rows encoded and preprocessed as in training."""
    bound = lr.encoder.bind(table)
    # the input columns are not read again: each is given back once encoded (ids, labels stay)
    X = encode_splits(bound, lr.prep, {"rows": rows}, lr.cfg.training.dtype, cancel, release=True)["rows"]
    check_finite(X, rows, table, lr.encoder.names, "this model")
    return X, bound


def read_scaled_images(lr: Loaded, run_dir: Path, path, need_y: bool):
    """(scaled images, labels or None, source name, fingerprint) of the run's data or a file."""
    d = lr.cfg.data
    if path is not None and str(path) == "-":
        raise DataError(f"run {run_dir.name} takes images: pass an .npz file whose X holds them, not a CSV stream")
    X, y, name, fp = read_images(dataset=None if path else d.dataset, path=path, params=dict(d.params),
                                 seed=lr.cfg.seed, layout=d.layout, shape=lr.prep.shape, need_y=need_y)
    return lr.prep.transform(X, lr.cfg.training.dtype), y, name, fp
