"""Where rows come from: a file (CSV, Parquet, NPZ; a path, a pipe or standard input) or a
named dataset, opened so that its column names are known, then read column by column.

pyarrow is imported only when a CSV or Parquet file is read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from nncli.data import files
from nncli.data.names import MISSING_VALUES
from nncli.data.table import Table, from_arrays
from nncli.errors import DataError


@dataclass
class Source:
    name: str  # the path (or dataset name, or <stdin>) for messages
    kind: str  # csv | parquet | npz | dataset
    names: list[str]  # every column, in order
    path: str | None = None  # a regular file, which has a fingerprint
    data: bytes | None = None  # a CSV read from a pipe
    layout: files.CsvLayout | None = None
    arrays: Table | None = None  # npz and datasets: already in memory
    params: dict = field(default_factory=dict)
    missing: tuple = MISSING_VALUES
    label_name: str | None = None  # npz and datasets: the label has its own array

    def read(self, columns: list[str], forced: dict | None = None, *, max_rows: int | None = None,
             cancel=None) -> Table:
        """The ``columns`` (a subset of ``names``), each of the ``forced`` kind where given."""
        forced = forced or {}
        if self.arrays is not None:
            t = self.arrays
            cols = {c: t.columns[c] for c in columns}
            n = t.n_rows if max_rows is None else min(t.n_rows, max_rows)
            if n < t.n_rows:
                cols = {c: _head(col, n) for c, col in cols.items()}
            table = Table(t.source, cols, n, t.first_row, t.names)
            return _force(table, forced)
        from nncli.data import arrowread

        try:
            if self.kind == "parquet":
                from nncli.data.parquetread import read_parquet

                return read_parquet(self.path, columns, forced, self.missing, name=self.name,
                                    max_rows=max_rows, cancel=cancel)
            return arrowread.read_csv(self.data if self.data is not None else self.path, self.layout, columns,
                                      forced, self.missing, name=self.name, max_rows=max_rows, cancel=cancel)
        except MemoryError:
            raise DataError(f"{self.name}: not enough memory to read {len(columns)} columns") from None

    def fingerprint(self) -> dict:
        """Size and SHA-256 of the file, or of a dataset's arrays; what ``evaluate`` checks."""
        if self.path is not None:
            return files.fingerprint(self.path)
        if self.kind == "dataset":
            h = hashlib.sha256()
            for c in self.arrays.columns.values():
                h.update(np.ascontiguousarray(c.values).tobytes())
                if c.levels is not None:
                    h.update("\0".join(map(str, c.levels)).encode())
            return {"dataset": self.name, "params": self.params, "sha256": h.hexdigest()}
        return {"path": self.name}


def _head(col, n):
    from dataclasses import replace

    return replace(col, values=col.values[:n])


def _force(table: Table, forced: dict) -> Table:
    """Arrays hold numbers (and a text label): a column forced to another kind is refused."""
    for c, kind in forced.items():
        have = table.columns[c].kind
        if kind and kind != "label" and kind != have and not (kind == "bool" and have == "number"):
            raise DataError(f"{table.source}: column '{c}' holds {have} values, expected {kind}")
    return table


def open_source(*, path=None, dataset: str | None = None, params: dict | None = None, seed: int = 0,
                stream=None, delimiter: str | None = None, missing=MISSING_VALUES, regular: bool = True,
                cancel=None) -> Source:
    """Open a data source and read its column names (and, for arrays, the data).

    ``path == "-"`` reads a CSV from ``stream`` (standard input). ``regular``: the file must be a
    regular file (training data; a pipe cannot be read twice).
    """
    missing = tuple(missing)
    if path is None:
        if dataset is None:
            raise DataError("data: expected a dataset name or a path to a data file, got neither")
        from nncli.data.datasets import load_named

        X, y, names = load_named(dataset, params or {}, seed)
        table = from_arrays(dataset, X, names, y, "target")
        return Source(dataset, "dataset", list(table.columns), arrays=table, params=dict(params or {}),
                      label_name="target")
    if str(path) == "-":
        data = files.read_stream(stream, "<stdin>", cancel)
        return _csv_bytes("<stdin>", data, delimiter, missing)
    p, kind = files.check_path(path, regular=regular)
    name = str(path)
    is_pipe = not p.is_file()
    if kind == "npz":
        if is_pipe:
            raise DataError(f"{name}: an .npz archive must be a file, not a pipe")
        from nncli.data.npzfile import read_npz

        X, y, names = read_npz(p, name)
        if "y" in names:
            raise DataError(f"{name}: feature_names holds 'y', the name of the label array")
        table = from_arrays(name, X, names, y, "y")
        return Source(name, "npz", list(table.columns), path=str(p), arrays=table, label_name="y")
    if kind == "parquet":
        if is_pipe:
            raise DataError(f"{name}: a Parquet file must be a file, not a pipe")
        from nncli.data.parquetread import parquet_names

        return Source(name, "parquet", parquet_names(p, name), path=str(p), missing=missing)
    if is_pipe:
        return _csv_bytes(name, files.read_stream(open(p, "rb"), name, cancel), delimiter, missing)
    head = files.read_head(p, kind)
    layout = files.sniff_csv(name, head, _delimiter(p, delimiter))
    return Source(name, "csv", layout.names, path=str(p), layout=layout, missing=missing)


def _delimiter(path, delimiter):
    if delimiter is None and ".tsv" in str(path).lower()[-8:]:
        return "\t"
    return delimiter


def _csv_bytes(name: str, data: bytes, delimiter, missing) -> Source:
    if data[:2] == b"\x1f\x8b":
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DataError(f"{name}: damaged gzip data ({e})") from None
    layout = files.sniff_csv(name, data[:files.MAX_HEADER_BYTES], delimiter)
    return Source(name, "csv", layout.names, data=data, layout=layout, missing=missing)
