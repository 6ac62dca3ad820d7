"""A table read from a file or a dataset: named columns of four kinds, all as NumPy arrays.

- number: float64 values, NaN where a cell is missing (a label may be 2-D: several targets)
- bool:   0.0 / 1.0, NaN where missing
- date:   float64 seconds since 1970-01-01 UTC, NaN where missing
- text:   int32 codes into ``levels`` (the distinct strings, sorted), -1 where missing

Text is kept as codes so that counting, one-hot encoding and matching categories by name cost
integer operations, whatever the strings are. Each column's values are contiguous: encoding
gathers rows column by column.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from nncli.data.pages import give_back
from nncli.errors import DataError

KINDS = ("number", "bool", "date", "text")


@dataclass
class Column:
    name: str
    kind: str  # one of KINDS
    values: np.ndarray  # (n,) or, for a multi-target label, (n, k); None once released
    levels: np.ndarray | None = None  # text only: object array of the distinct strings, sorted
    has_time: bool = False  # date only: some value is not at midnight

    def missing(self) -> np.ndarray:
        if self.kind == "text":
            return self.values < 0
        return np.isnan(self.values) if self.values.ndim == 1 else np.isnan(self.values).any(axis=1)

    def cells(self, rows=None) -> list[str]:
        """The cells as text ('' where missing): for ID columns, labels and messages."""
        v = self.values if rows is None else self.values[rows]
        if self.kind == "text":
            text = np.append(self.levels, "").astype(object)
            return text[v].tolist()  # code -1 picks the '' appended last
        if self.kind == "date":
            stamps = v.astype("datetime64[s]") if not np.isnan(v).any() else None
            if stamps is not None:
                return [str(s) if self.has_time else str(s)[:10] for s in stamps]
            return ["" if np.isnan(x) else str(np.datetime64(int(x), "s")) for x in v]
        if self.kind == "bool":
            return ["" if np.isnan(x) else ("true" if x else "false") for x in v]
        return ["" if np.isnan(x) else format_number(x) for x in v]


def format_number(x: float) -> str:
    """12.0 -> '12', 0.5 -> '0.5': how a number cell was most likely written."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


@dataclass
class Table:
    source: str  # the file (or dataset) the rows came from, for messages
    columns: dict[str, Column]  # in the file's order
    n_rows: int
    first_row: int = 1  # the number messages give the first data row (2 in a CSV: the header is row 1)
    names: list[str] = field(default_factory=list)  # every column of the file, read or not
    _missing: dict = field(default_factory=dict, repr=False)

    def n_missing(self, name: str) -> int:
        """Missing cells of a column (counted once)."""
        if name not in self._missing:
            self._missing[name] = int(self.columns[name].missing().sum())
        return self._missing[name]

    def row(self, i: int) -> str:
        return f"row {int(i) + self.first_row}"

    def release(self, name: str) -> None:
        """Give back the memory of a column that is no longer needed (its model inputs are
        written): reading its values afterwards is an error, not zeros."""
        col = self.columns[name]
        if col.values is not None:
            give_back(col.values)  # only a reader's store is given back: it belongs to this table
            self.columns[name] = replace(col, values=None)  # a Column others hold keeps its values

    def where(self, i: int, column: str) -> str:
        return f"{self.source}: {self.row(i)}, column '{column}'"


def text_column(name: str, codes: np.ndarray, levels) -> Column:
    """A text column from any codes/levels pair: levels sorted, codes remapped to them."""
    levels = np.asarray(levels, dtype=object)
    order = np.argsort(levels.astype(str), kind="stable") if len(levels) else np.arange(0)
    rank = np.empty(len(levels) + 1, np.int32)
    rank[order] = np.arange(len(levels), dtype=np.int32)
    rank[-1] = -1  # code -1 (missing) stays -1
    return Column(name, "text", rank[np.asarray(codes, np.int64)], levels[order])


def number_column(name: str, values, table_source: str = "", first_row: int = 1) -> Column:
    """A number column; infinities are refused with the first row that holds one."""
    v = np.asarray(values, dtype=np.float64)
    bad = np.isinf(v) if v.ndim == 1 else np.isinf(v).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        x = v[i] if v.ndim == 1 else v[i][np.isinf(v[i])][0]
        raise DataError(f"{table_source}: row {i + first_row}, column '{name}': expected a finite "
                        f"number, got {x}")
    return Column(name, "number", v)


def from_arrays(source: str, X: np.ndarray, names: list[str], label: np.ndarray | None = None,
                label_name: str = "y") -> Table:
    """A table from a feature matrix (and a label array): for .npz files and named datasets.

    NaN in X means missing, as an empty cell does in a CSV; rows are numbered from 0.
    """
    X = np.asfortranarray(X, dtype=np.float64)  # each column contiguous, as a file's are read
    cols = {n: number_column(n, X[:, k], source, 0) for k, n in enumerate(names)}
    if label is not None:
        label = np.asarray(label)
        if label.dtype.kind in "US":
            codes_levels = np.unique(label.astype(str), return_inverse=True)
            cols[label_name] = text_column(label_name, codes_levels[1].reshape(-1), codes_levels[0])
        elif label.dtype.kind == "b":
            cols[label_name] = text_column(label_name, label.astype(np.int64).reshape(-1),
                                           np.array(["false", "true"], dtype=object))
        else:
            cols[label_name] = number_column(label_name, label.astype(np.float64), source, 0)
    return Table(source, cols, len(X), first_row=0, names=list(cols))
