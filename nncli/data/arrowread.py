"""CSV (also gzip-compressed) through pyarrow's reader, a piece at a time (Parquet: ``parquetread.py``).

A CSV is cut into pieces of a few MB at line breaks and each piece is parsed by pyarrow's
threaded reader (its streaming reader parses on one core): each piece's rows are turned into
NumPy at once (``collect.py``) and dropped, so the peak while reading is the columns read so
far plus one piece, not the file's text plus a parsed copy. A file with line breaks inside
quoted cells cannot be cut at line breaks: it is read as one stream. Between pieces the
reader checks ``cancel`` (a threading.Event), so an interrupt stops it within one piece.

A CSV's column types come from its first block (ints are read as floats so a later 1.5 does
not break them). A cell that does not fit its column's type further down restarts the read
with that column as text; ``promote`` then decides what the text is.
"""

from __future__ import annotations

import re

from nncli.data.collect import Cancelled, Collector
from nncli.data.files import CsvLayout
from nncli.data.table import Table
from nncli.errors import DataError

BLOCK = 1 << 20
PIECE = 4 << 20  # bytes of text parsed at a time by the threaded reader (more: no faster, more memory)
_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error")


def arrow_type(pa, kind: str | None, inferred=None):
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
    types = {c: arrow_type(pa, forced[c]) for c in columns if forced.get(c) not in (None, "label")}
    for _ in range(2 * len(columns) + 2):  # each retry settles one more column (or allows line breaks)
        # the other columns' types come from the stream's first block
        reader, schema = _Empty(convert(types), layout), None
        try:
            if parse_opts.newlines_in_values:  # one stream: a quoted line break may fall anywhere
                reader = _open(pacsv, src(), read_opts, parse_opts, convert(types), name, source, layout)
                schema = reader.schema
                batches = ((b, block) for b in reader)
            else:  # the first block alone (pyarrow's streaming reader would read far ahead), then pieces
                schema = _first_block(pacsv, source, read_opts, parse_opts, convert(types), layout)
            seen = {c: types.get(c) or arrow_type(pa, None, schema.field(c).type) for c in columns}
            collect = Collector(columns, seen, cancel, max_rows, size_hint)
            if not parse_opts.newlines_in_values:
                batches = _piece_tables(pacsv, source, read_opts, parse_opts, convert(seen), cancel)
            for batch, text_bytes in batches:
                if not collect.add(batch, text_bytes):
                    break
        except pa.ArrowInvalid as e:
            bad = _bad_column(e, layout, columns)
            if bad is None and not parse_opts.newlines_in_values and "parse error" in str(e):
                parse_opts = pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True)
                continue
            if bad is None or pa.types.is_string(types.get(bad) or pa.null()):
                raise _parse_error(e, name, source, layout) from None
            # whole numbers in the first block, a fraction later: numbers; anything else: text
            whole = bad not in types and schema is not None and pa.types.is_integer(schema.field(bad).type)
            types[bad] = pa.float64() if whole else pa.string()
            continue
        finally:
            reader.close()
        pa.default_memory_pool().release_unused()  # the batches' memory, back to the system
        return collect.table(name, 2 + layout.skip_rows - 1, missing, layout.decimal, forced, layout.names)
    raise DataError(f"{name}: cannot settle the column types")  # unreachable: one retry per column


def _first_block(pacsv, source, read_opts, parse_opts, convert_opts, layout):
    """The schema pyarrow infers from the CSV's first block: the types the rest is read as."""
    import pyarrow as pa

    pieces = _pieces(source, read_opts.block_size)
    text = next(pieces, b"")
    pieces.close()
    opts = pacsv.ReadOptions(column_names=read_opts.column_names, skip_rows=read_opts.skip_rows,
                             block_size=read_opts.block_size, use_threads=False)
    try:
        return pacsv.read_csv(pa.BufferReader(pa.py_buffer(text)), read_options=opts, parse_options=parse_opts,
                              convert_options=convert_opts).schema
    except pa.ArrowInvalid as e:
        if "Empty CSV file" in str(e):
            return _Empty(convert_opts, layout).schema
        raise


def _piece_tables(pacsv, source, read_opts, parse_opts, convert_opts, cancel):
    """(Arrow table, bytes of text) of each piece of the CSV, parsed on all cores: the peak is
    one piece's text and table, not the whole file's."""
    import pyarrow as pa

    rest = pacsv.ReadOptions(column_names=read_opts.column_names, skip_rows=0,
                             block_size=read_opts.block_size, use_threads=True)
    for k, text in enumerate(_pieces(source, max(PIECE, 4 * read_opts.block_size))):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(text)), read_options=rest if k else read_opts,
                                   parse_options=parse_opts, convert_options=convert_opts)
        except pa.ArrowInvalid as e:
            if "Empty CSV file" in str(e):  # a piece of blank lines, or the header alone
                continue
            raise
        size = len(text)
        del text
        yield table, size


def _pieces(source, size: int):
    """The text of a CSV (a path, or bytes) in pieces of about ``size`` bytes, each ending
    with a line break (the last: where the text ends)."""
    if isinstance(source, bytes):
        start = 0
        while start < len(source):
            nl = source.find(b"\n", start + size - 1)
            end = len(source) if nl < 0 else nl + 1
            yield memoryview(source)[start:end]
            start = end
        return
    if str(source).lower().endswith(".gz"):
        import gzip

        with gzip.open(source, "rb") as f:
            carry = b""
            while chunk := f.read(size):
                nl = chunk.rfind(b"\n")
                if nl < 0:
                    carry += chunk
                    continue
                yield carry + chunk[:nl + 1]
                carry = chunk[nl + 1:]
            if carry:
                yield carry
        return
    with open(source, "rb") as f:
        # one buffer for every piece (each is parsed before the next is read, and Arrow copies
        # what it keeps): no allocation per piece for the allocator to hold on to
        buf, held = bytearray(size), 0  # held: the start of a line, carried to the front
        while True:
            n = held + f.readinto(memoryview(buf)[held:])
            if n < len(buf):  # the end of the file
                if n:
                    yield memoryview(buf)[:n]
                return
            nl = buf.rfind(b"\n")
            if nl < 0:  # a line longer than a piece: up to its end
                yield bytes(buf) + f.readline()
                held = 0
                continue
            yield memoryview(buf)[:nl + 1]
            held = n - nl - 1
            buf[:held] = buf[nl + 1:]


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
