"""CSV (also gzip-compressed) and Parquet through pyarrow's readers, batch by batch.

Each batch is turned into NumPy at once and dropped, so the peak while reading is the columns
read so far plus one batch, not the file's text plus a parsed copy. Between batches the
reader checks ``cancel`` (a threading.Event), so an interrupt stops it within one batch.

A CSV's column types come from its first block (ints are read as floats so a later 1.5 does
not break them). A cell that does not fit its column's type further down restarts the read
with that column as text; ``promote`` then decides what the text is.
"""

from __future__ import annotations

import re

import numpy as np

from nncli.data.files import CsvLayout
from nncli.data.promote import promote
from nncli.data.table import Column, Table
from nncli.errors import DataError

BLOCK = 1 << 20
_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error")


class Cancelled(Exception):
    """The caller asked the reader to stop (Ctrl-C while loading)."""


def _arrow_type(pa, kind: str | None, inferred=None):
    """The pyarrow type to read a column as: forced by ``kind`` or from the inferred one."""
    if kind == "label":
        kind = None
    if kind == "number":
        return pa.float64()
    if kind == "bool":
        return pa.bool_()
    if kind == "date":
        return pa.timestamp("s")
    if kind == "text" or inferred is None:
        return pa.string()
    t = pa.types
    if t.is_integer(inferred) or t.is_floating(inferred) or t.is_decimal(inferred):
        return pa.float64()
    if t.is_boolean(inferred):
        return pa.bool_()
    if t.is_date(inferred) or t.is_timestamp(inferred):
        return pa.timestamp("s", tz=getattr(inferred, "tz", None))
    return pa.string()


class Collector:
    """Numbers, booleans and dates go straight into one (rows, columns) float64 matrix; text
    stays Arrow until the end. The matrix is allocated for an estimate of the rows (pages
    never written are never resident) and grown if the estimate was short."""

    def __init__(self, names: list[str], types: dict, cancel, max_rows: int | None, size_hint: int = 0):
        import pyarrow as pa

        self.names, self.types, self.cancel, self.max_rows = names, types, cancel, max_rows
        self.numeric = [n for n in names if not pa.types.is_string(types[n])]
        self.slot = {n: j for j, n in enumerate(self.numeric)}
        self.text = {n: [] for n in names if n not in self.slot}
        self.size_hint = size_hint
        self.matrix = None
        self.n = 0

    def _room(self, batch_rows: int, batch_bytes: int) -> None:
        need = self.n + batch_rows
        if self.matrix is None:
            guess = need
            if self.size_hint and batch_bytes:
                guess = int(self.size_hint / batch_bytes * batch_rows * 1.1) + 1024
            if self.max_rows is not None:
                guess = min(guess, self.max_rows)
            self.matrix = np.empty((max(guess, need), len(self.numeric)))
        elif need > len(self.matrix):
            grown = np.empty((max(need, int(len(self.matrix) * 1.5)), len(self.numeric)))
            grown[:self.n] = self.matrix[:self.n]
            self.matrix = grown

    def add(self, batch, batch_bytes: int = 0) -> bool:
        """Take one batch; False once max_rows are in."""
        import pyarrow as pa

        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()
        if self.max_rows is not None and self.n + batch.num_rows > self.max_rows:
            batch = batch.slice(0, self.max_rows - self.n)
        rows = batch.num_rows
        self._room(rows, batch_bytes)
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
            # Arrow lays the batch out row by row (nulls as NaN) in C++: 25x faster than
            # writing each column into the matrix from Python
            rb = pa.RecordBatch.from_arrays(numbers, names=self.numeric)
            self.matrix[self.n:self.n + rows] = np.asarray(rb.to_tensor(null_to_nan=True, row_major=True))
        self.n += rows
        return self.max_rows is None or self.n < self.max_rows

    def table(self, source: str, first_row: int, missing, decimal: str, forced: dict,
              all_names: list[str]) -> Table:
        import pyarrow as pa

        if self.matrix is None:
            self.matrix = np.empty((0, len(self.numeric)))
        matrix = self.matrix[:self.n]  # a view: the rows the estimate left over are never touched
        bad = np.isinf(matrix)
        if bad.any():
            i, j = (int(k[0]) for k in np.nonzero(bad))
            raise DataError(f"{source}: row {i + first_row}, column '{self.numeric[j]}': expected a "
                            f"finite number, got {matrix[i, j]}")
        cols = {}
        for name in self.names:
            typ = self.types[name]
            if name in self.text:
                cols[name] = _text(name, pa.chunked_array(self.text.pop(name), pa.string()), missing)
                continue
            values = matrix[:, self.slot[name]]
            kind = "bool" if pa.types.is_boolean(typ) else "date" if pa.types.is_timestamp(typ) else "number"
            cols[name] = Column(name, kind, values)
            if kind == "date":
                ok = values[~np.isnan(values)]
                cols[name].has_time = bool(np.any(ok % 86400))
        table = Table(source, cols, self.n, first_row=first_row, names=all_names,
                      matrix=matrix, slots=dict(self.slot))
        for name in self.names:
            table.columns[name] = promote(table, table.columns[name], forced.get(name), decimal)
        return table


def _text(name: str, arr, missing) -> Column:
    """Text cells -> sorted levels and int32 codes; surrounding spaces are not part of a value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pc.utf8_trim_whitespace(arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0))
    blank = pc.is_in(arr, value_set=pa.array(list(missing), pa.string()))
    arr = pc.if_else(blank, pa.scalar(None, pa.string()), arr)
    enc = pc.dictionary_encode(arr)
    order = pc.array_sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(order) + 1, np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    levels = enc.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    return Column(name, "text", rank[codes], np.asarray(levels, dtype=object))


# ---------------------------------------------------------------- CSV
def read_csv(source, layout: CsvLayout, columns: list[str], forced: dict, missing, *, name: str,
             max_rows: int | None = None, cancel=None) -> Table:
    """Read ``columns`` of a CSV (a path, or bytes from a pipe) into a Table.

    ``forced`` maps a column to the kind it must have (number, bool, date, text); the others
    are inferred.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def src():
        return pa.BufferReader(source) if isinstance(source, bytes) else str(source)

    block = max(BLOCK, 8 * layout.header_bytes)
    read_opts = pacsv.ReadOptions(column_names=layout.names, skip_rows=layout.skip_rows,
                                  block_size=block, use_threads=True)
    # quoted line breaks inside cells cost the parser speed: assume none, and read again
    # allowing them if the file turns out to have some
    parse_opts = pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=False)
    size_hint = len(source) if isinstance(source, bytes) else _size(source)

    def convert(types):
        return pacsv.ConvertOptions(column_types=types, include_columns=columns, null_values=list(missing),
                                    strings_can_be_null=True, quoted_strings_can_be_null=True,
                                    decimal_point=layout.decimal, check_utf8=True)

    forced = {c: k for c, k in forced.items() if k}
    types = {c: _arrow_type(pa, forced[c]) for c in columns if forced.get(c) not in (None, "label")}
    for _ in range(2 * len(columns) + 2):  # each retry settles one more column (or allows line breaks)
        # the other columns' types come from the stream's first block
        reader = _open(pacsv, src(), read_opts, parse_opts, convert(types), name, source, layout)
        seen = {c: types.get(c) or _arrow_type(pa, None, reader.schema.field(c).type) for c in columns}
        collect = Collector(columns, seen, cancel, max_rows, size_hint)
        try:
            for batch in reader:
                if not collect.add(batch, block):
                    break
        except pa.ArrowInvalid as e:
            bad = _bad_column(e, layout, columns)
            if bad is None and not parse_opts.newlines_in_values and "parse error" in str(e):
                parse_opts = pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True)
                continue
            if bad is None or pa.types.is_string(types.get(bad) or pa.null()):
                raise _parse_error(e, name, source, layout) from None
            first = reader.schema.field(bad).type
            # whole numbers in the first block, a fraction later: numbers; anything else: text
            types[bad] = pa.float64() if pa.types.is_integer(first) and bad not in types else pa.string()
            continue
        finally:
            reader.close()
        pa.default_memory_pool().release_unused()  # the batches' memory, back to the system
        return collect.table(name, 2 + layout.skip_rows - 1, missing, layout.decimal, forced, layout.names)
    raise DataError(f"{name}: cannot settle the column types")  # unreachable: one retry per column


def _size(path) -> int:
    """Bytes of text to expect: a compressed file holds several times its size."""
    import os

    try:
        size = os.stat(path).st_size
    except OSError:
        return 0
    return size * 8 if str(path).lower().endswith(".gz") else size


def _open(pacsv, src, read_opts, parse_opts, convert_opts, name, source, layout):
    import pyarrow as pa

    try:
        return pacsv.open_csv(src, read_options=read_opts, parse_options=parse_opts,
                              convert_options=convert_opts)
    except pa.ArrowInvalid as e:
        if "Empty CSV file" in str(e):
            return _Empty(convert_opts, layout)
        raise _parse_error(e, name, source, layout) from None
    except (OSError, EOFError) as e:
        raise DataError(f"{name}: cannot read: {e}") from None


class _Empty:
    """A file with a header and no rows, as a reader of no batches."""

    def __init__(self, convert_opts, layout):
        import pyarrow as pa

        names = convert_opts.include_columns or layout.names
        self.schema = pa.schema([(n, convert_opts.column_types.get(n, pa.null())) for n in names])

    def __iter__(self):
        return iter(())

    def close(self):
        pass


def _bad_column(e, layout, columns) -> str | None:
    m = _CONVERSION.search(str(e))
    if not m:
        return None
    k = int(m.group(1))
    name = layout.names[k] if k < len(layout.names) else None
    return name if name in columns else None


def _parse_error(e, name: str, source, layout) -> DataError:
    text = str(e)
    if "UTF8" in text or "UTF-8" in text:
        return DataError(f"{name}: not UTF-8 text; save the file as UTF-8")
    m = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if m:
        row = _ragged_row(source, layout)
        where = f"row {row}" if row else "a row"
        return DataError(f"{name}: {where} has {m.group(2)} cells, expected {m.group(1)} (as in the header)")
    first = text.splitlines()[0] if text else type(e).__name__
    return DataError(f"{name}: not a readable CSV file ({first[:200]})")


def _ragged_row(source, layout) -> int | None:
    """The line number of the first row whose cell count differs from the header's (on the
    error path only: a second, slower pass with the csv module)."""
    import csv
    import io

    try:
        if isinstance(source, bytes):
            f = io.StringIO(source.decode("utf-8-sig", errors="replace"), newline="")
        elif str(source).lower().endswith(".gz"):
            import gzip

            f = io.TextIOWrapper(gzip.open(source), encoding="utf-8-sig", errors="replace", newline="")
        else:
            f = open(source, encoding="utf-8-sig", errors="replace", newline="")
        with f:
            reader = csv.reader(f, delimiter=layout.delimiter)
            for cells in reader:
                if cells and len(cells) != len(layout.names) and any(c.strip() for c in cells):
                    return reader.line_num
    except (OSError, EOFError, csv.Error):
        return None
    return None


# ---------------------------------------------------------------- Parquet
def parquet_names(path, name: str) -> list[str]:
    return list(_parquet(path, name).schema_arrow.names)


def _parquet(path, name: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{name}: not a readable Parquet file ({str(e).splitlines()[0][:200]})") from None


def read_parquet(path, columns: list[str], forced: dict, missing, *, name: str,
                 max_rows: int | None = None, cancel=None) -> Table:
    import pyarrow as pa

    pf = _parquet(path, name)
    schema = pf.schema_arrow
    types = {}
    for c in columns:
        t = schema.field(c).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        family = _family(pa, t)
        if family is None:
            raise DataError(f"{name}: column '{c}' holds {t}, expected numbers, text, booleans or dates")
        kind = forced.get(c) if forced.get(c) not in (None, "label") else family
        types[c] = _arrow_type(pa, None, t) if kind == family else pa.string()
    rows = pf.metadata.num_rows if max_rows is None else min(pf.metadata.num_rows, max_rows)
    collect = Collector(columns, types, cancel, max_rows)
    collect.matrix = np.empty((rows, len(collect.numeric)))
    try:
        for batch in pf.iter_batches(batch_size=1 << 16, columns=columns):
            batch = pa.RecordBatch.from_arrays([_cast(a, types[n]) for a, n in zip(batch.columns, columns)],
                                               names=columns)
            if not collect.add(batch):
                break
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{name}: cannot read the Parquet data ({str(e).splitlines()[0][:200]})") from None
    return collect.table(name, 1, missing, ".", forced, list(schema.names))


def _family(pa, t) -> str | None:
    """number | bool | date | text for the Arrow types a table of features may hold."""
    is_ = pa.types
    if is_.is_integer(t) or is_.is_floating(t) or is_.is_decimal(t):
        return "number"
    if is_.is_boolean(t):
        return "bool"
    if is_.is_date(t) or is_.is_timestamp(t):
        return "date"
    if is_.is_string(t) or is_.is_large_string(t) or is_.is_null(t):
        return "text"
    return None


def _cast(arr, typ):
    if hasattr(arr.type, "value_type"):  # dictionary-encoded (a pandas category)
        arr = arr.cast(arr.type.value_type)
    return arr if arr.type == typ else arr.cast(typ)
