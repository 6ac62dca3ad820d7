"""Parquet through pyarrow's reader, in batches of 65,536 rows, into the columns of a Table
(``collect.py``). Parquet files carry their own column types: they are mapped onto
number, bool, date and text, and a column forced to another kind is read as text for
``promote`` to decide."""

from __future__ import annotations

from nncli.data.arrowread import arrow_type
from nncli.data.collect import Collector
from nncli.data.table import Table
from nncli.errors import DataError


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
        types[c] = arrow_type(pa, None, t) if kind == family else pa.string()
    rows = pf.metadata.num_rows if max_rows is None else min(pf.metadata.num_rows, max_rows)
    collect = Collector(columns, types, cancel, max_rows)
    collect.reserve(rows)
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
