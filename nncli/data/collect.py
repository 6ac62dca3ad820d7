"""Arrow batches -> the columns of a Table: numbers, booleans and dates as contiguous float64
arrays, text as sorted levels and codes."""

from __future__ import annotations

import numpy as np

from nncli.data.pages import untouched
from nncli.data.promote import promote
from nncli.data.table import Column, Table
from nncli.errors import DataError


class Cancelled(Exception):
    """The caller asked the reader to stop (Ctrl-C while loading)."""


class Collector:
    """Numbers, booleans and dates go straight into one float64 store of shape (columns, rows),
    so each column's values are contiguous (encoding works column by column); text stays Arrow
    until the end. The store is allocated for an estimate of the rows (pages never written
    are never resident) and grown if the estimate was short."""

    def __init__(self, names: list[str], types: dict, cancel, max_rows: int | None, size_hint: int = 0):
        import pyarrow as pa

        self.names, self.types, self.cancel, self.max_rows = names, types, cancel, max_rows
        self.numeric = [n for n in names if not pa.types.is_string(types[n])]
        self.slot = {n: j for j, n in enumerate(self.numeric)}
        self.text = {n: [] for n in names if n not in self.slot}
        self.size_hint = size_hint
        self.store = None  # (len(numeric), capacity)
        self.n = 0

    def reserve(self, rows: int) -> None:
        self.store = untouched((len(self.numeric), rows))

    def _room(self, batch_rows: int, batch_bytes: int) -> None:
        need = self.n + batch_rows
        if self.store is None:
            guess = need
            if self.size_hint and batch_bytes:
                guess = int(self.size_hint / batch_bytes * batch_rows * 1.1) + 1024
            if self.max_rows is not None:
                guess = min(guess, self.max_rows)
            self.reserve(max(guess, need))
        elif need > self.store.shape[1]:
            grown = untouched((len(self.numeric), max(need, int(self.store.shape[1] * 1.5))))
            grown[:, :self.n] = self.store[:, :self.n]
            self.store = grown

    def add(self, batch, batch_bytes: int = 0) -> bool:
        """Take one batch (or a Table of several); False once max_rows are in."""
        import pyarrow as pa

        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()
        if self.max_rows is not None and self.n + batch.num_rows > self.max_rows:
            batch = batch.slice(0, self.max_rows - self.n)
        self._room(batch.num_rows, batch_bytes)
        for part in batch.to_batches() if isinstance(batch, pa.Table) else [batch]:
            self._add(part)
        return self.max_rows is None or self.n < self.max_rows

    def _add(self, batch) -> None:
        import pyarrow as pa

        numbers = []
        for name, arr in zip(batch.schema.names, batch.columns):
            typ = self.types[name]
            if name in self.text:
                self.text[name].append(arr if arr.type == pa.string() else arr.cast(pa.string()))
                continue
            if pa.types.is_timestamp(typ):
                arr = arr.cast(pa.timestamp("s", tz=typ.tz)).cast(pa.int64())
            numbers.append(arr if arr.type == pa.float64() else arr.cast(pa.float64()))
        if numbers:
            # Arrow lays the batch out column by column (nulls as NaN) in C++; its to_numpy
            # would import pandas when that is installed, which costs more than the reading
            rb = pa.RecordBatch.from_arrays(numbers, names=self.numeric)
            cols = np.asarray(rb.to_tensor(null_to_nan=True, row_major=False))  # (rows, numeric), F order
            self.store[:, self.n:self.n + batch.num_rows] = cols.T
        self.n += batch.num_rows

    def table(self, source: str, first_row: int, missing, decimal: str, forced: dict,
              all_names: list[str]) -> Table:
        import pyarrow as pa

        if self.store is None:
            self.reserve(0)
        store = self.store[:, :self.n]  # a view: the rows the estimate left over are never touched
        inf = [np.flatnonzero(np.isinf(values)) for values in store]  # column by column: no big temporary
        if any(len(rows) for rows in inf):
            i = min(int(rows[0]) for rows in inf if len(rows))  # the first row with one, then its first column
            j = next(k for k, rows in enumerate(inf) if len(rows) and rows[0] == i)
            raise DataError(f"{source}: row {i + first_row}, column '{self.numeric[j]}': expected a "
                            f"finite number, got {store[j, i]}")
        cols = {}
        for name in self.names:
            typ = self.types[name]
            if name in self.text:
                cols[name] = _text(name, pa.chunked_array(self.text.pop(name), pa.string()), missing)
                continue
            values = store[self.slot[name]]
            kind = "bool" if pa.types.is_boolean(typ) else "date" if pa.types.is_timestamp(typ) else "number"
            cols[name] = Column(name, kind, values)
            if kind == "date":
                ok = values[~np.isnan(values)]
                cols[name].has_time = bool(np.any(ok % 86400))
        table = Table(source, cols, self.n, first_row=first_row, names=all_names)
        for name in self.names:
            table.columns[name] = promote(table, table.columns[name], forced.get(name), decimal)
        return table


def _text(name: str, arr, missing) -> Column:
    """Text cells -> sorted levels and int32 codes; surrounding spaces are not part of a value,
    and a cell that is a missing-value marker once trimmed is missing."""
    import pyarrow.compute as pc

    from nncli.data import arrownp

    arr = pc.utf8_trim_whitespace(arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0))
    enc = pc.dictionary_encode(arr)
    words = enc.dictionary.to_pylist()  # the distinct values
    blank = set(missing)
    kept = sorted((i for i, w in enumerate(words) if w not in blank), key=words.__getitem__)
    rank = np.full(len(words) + 1, -1, np.int32)  # the last entry: a null cell stays missing
    rank[kept] = np.arange(len(kept))
    levels = np.empty(len(kept), dtype=object)
    levels[:] = [words[i] for i in kept]
    return Column(name, "text", rank[arrownp.codes(enc.indices)], levels)
