"""The label column: which rows have one, the task it implies, classes and codes; the
sample-weight column."""

from __future__ import annotations

import numpy as np

from nncli.data.datasets import infer_task
from nncli.data.names import DATASETS, GENERATORS, TASKS, choice
from nncli.data.promote import numbers_of
from nncli.data.table import Column, Table, format_number
from nncli.errors import DataError


def label_rows(table: Table, name: str) -> tuple[Column, np.ndarray]:
    """(the label column, indices of the rows that have a label)."""
    col = table.columns[name]
    if col.kind == "date":
        raise DataError(f"{table.source}: the label column '{name}' holds dates, expected classes or numbers")
    if col.kind == "bool":  # classes named as the file writes them
        v = col.values
        col = Column(name, "text", np.where(np.isnan(v), -1, v).astype(np.int32),
                     np.array(["false", "true"], dtype=object))
    rows = np.flatnonzero(~col.missing())
    if len(rows) == 0:
        raise DataError(f"{table.source}: the label column '{name}' is empty in every row")
    return col, rows


def encode_labels(table: Table, col: Column, rows: np.ndarray, task: str | None, dtype: str):
    """(y for every table row, classes or None, task, stratification codes or None).

    Classification: y holds int64 codes into the sorted classes (-1 in rows without a label).
    Regression: y holds (n, n_targets) numbers of ``dtype``.
    """
    if task is not None:
        task = choice(task, TASKS, "data.task")
    elif table.source in DATASETS or table.source in GENERATORS:
        task = (DATASETS | GENERATORS)[table.source]
    elif col.kind == "text":
        task = "classification"
    else:
        task = infer_task(col.values[rows])
    n = table.n_rows
    if task == "classification":
        if col.kind == "text":
            present, codes = np.unique(col.values[rows], return_inverse=True)
            classes = col.levels[present].astype(str)
        else:
            if col.values.ndim == 2 and col.values.shape[1] != 1:
                raise DataError(f"{table.source}: classification needs one label per sample, got y of "
                                f"shape {col.values.shape}")
            classes, codes = np.unique(col.values.reshape(n)[rows], return_inverse=True)
            if np.all(classes == np.round(classes)):
                classes = classes.astype(np.int64)
        if len(classes) < 2:
            only = classes[0].item() if hasattr(classes[0], "item") else classes[0]
            raise DataError(f"{table.source}: the labels hold a single class ({only!r}); "
                            "classification needs at least 2")
        y = np.full(n, -1, np.int64)
        y[rows] = codes.reshape(-1)
        return y, classes, task, y
    if col.kind == "text":
        values = numbers_of(col.levels)
        bad = np.append(np.isnan(values), False)[col.values]
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{table.where(i, col.name)}: regression needs numeric labels, got "
                            f"{col.levels[col.values[i]]!r}")
        col = Column(col.name, "number", np.append(values, np.nan)[col.values])
    y = col.values.reshape(n, -1).astype(dtype)
    return y, None, task, None


def sample_weights(table: Table, name: str, rows: np.ndarray) -> np.ndarray:
    """Per-row weights (>= 0, finite, not all zero) of ``rows``."""
    col = table.columns[name]
    w = col.values[rows]
    bad = np.isnan(w) | (w < 0)
    if bad.any():
        i = int(rows[np.flatnonzero(bad)[0]])
        got = "an empty cell" if np.isnan(col.values[i]) else format_number(col.values[i])
        raise DataError(f"{table.where(i, name)}: expected a sample weight >= 0, got {got}")
    if not (w > 0).any():
        raise DataError(f"{table.source}: every weight in column '{name}' is 0")
    return w
