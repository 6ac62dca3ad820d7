"""What a column of text cells holds: numbers, dates, booleans or categories.

A text column whose every value is a number is a number column (spaces, a stray quote style or
a missing-value marker that the reader left as text do not make numbers a category). When most
of its cells are numbers but some are not, the column is refused at the first such cell: that
is a typo or an unlisted missing-value marker far more often than a category.
"""

from __future__ import annotations

import numpy as np

from nncli.data.table import Column, Table, number_column
from nncli.errors import DataError

NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Inf|INF|infinity|Infinity)$"
TRUE = {"true", "t", "yes", "y", "1", "1.0"}
FALSE = {"false", "f", "no", "n", "0", "0.0"}


def numbers_of(levels: np.ndarray, decimal: str = ".") -> np.ndarray:
    """Each level as a float, NaN where it is not a number."""
    import pyarrow.compute as pc

    from nncli.data import arrownp

    out = np.full(len(levels), np.nan)
    if not len(levels):
        return out
    arr = arrownp.strings(levels)
    if decimal == ",":
        arr = pc.replace_substring(arr, ",", ".")
    mask = pc.match_substring_regex(arr, NUMBER)
    numeric = arrownp.floats(mask) > 0
    if numeric.any():
        out[numeric] = arrownp.floats(pc.cast(arr.filter(mask), "float64"))
    return out


def promote(table: Table, col: Column, forced: str | None, decimal: str = ".") -> Column:
    """``col`` as the kind its cells show (or the ``forced`` kind, which they must fit)."""
    if col.kind != "text" or forced == "text":
        return col
    if forced == "date":
        return _dates(table, col)
    if forced == "bool":
        return _bools(table, col)
    values = numbers_of(col.levels, decimal)
    ok = ~np.isnan(values)
    if ok.all():
        v = np.append(values, np.nan)[col.values]  # code -1 (missing) picks the NaN
        return number_column(col.name, v, table.source, table.first_row)
    if forced == "label":
        return col
    counts = np.bincount(col.values[col.values >= 0], minlength=len(col.levels))
    if forced == "number" or counts[ok].sum() > counts.sum() / 2:
        bad = ~np.append(ok, True)[col.values]
        i = int(np.flatnonzero(bad)[0])
        others = col.levels[~ok]
        more = f" (and {len(others) - 1} other non-numbers)" if len(others) > 1 else ""
        raise DataError(f"{table.where(i, col.name)}: expected a number, got "
                        f"{col.levels[col.values[i]]!r}{more}; if it marks a missing value add it to "
                        f"data.missing_values, if the column holds categories set "
                        f"data.types.{col.name}: category")
    return col


def _first_bad(table: Table, col: Column, bad_levels: np.ndarray, expected: str):
    bad = np.append(bad_levels, False)[col.values]
    i = int(np.flatnonzero(bad)[0])
    raise DataError(f"{table.where(i, col.name)}: expected {expected}, got {col.levels[col.values[i]]!r}")


def _dates(table: Table, col: Column) -> Column:
    stamps = np.full(len(col.levels), np.nan)
    bad = np.zeros(len(col.levels), bool)
    for k, text in enumerate(col.levels):
        try:
            stamps[k] = np.datetime64(str(text).replace(" ", "T", 1), "s").astype(np.int64)
        except ValueError:
            bad[k] = True
    if bad.any():
        _first_bad(table, col, bad, "a date such as 2024-01-31 or 2024-01-31T12:00")
    v = np.append(stamps, np.nan)[col.values]
    return Column(col.name, "date", v, has_time=bool(np.any(v[~np.isnan(v)] % 86400)))


def _bools(table: Table, col: Column) -> Column:
    low = np.array([str(t).lower() for t in col.levels], dtype=object)
    is_true, is_false = np.isin(low, list(TRUE)), np.isin(low, list(FALSE))
    if not (is_true | is_false).all():
        _first_bad(table, col, ~(is_true | is_false), "true or false")
    return Column(col.name, "bool", np.append(is_true.astype(np.float64), np.nan)[col.values])
