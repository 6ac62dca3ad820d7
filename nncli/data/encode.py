"""Input columns -> a block of numbers, fitted on the training rows: imputation, one-hot
categories, booleans as 0/1, dates as their parts.

The fitting follows scikit-learn: ``SimpleImputer`` (mean, median or most frequent) and
``OneHotEncoder(min_frequency=..., max_categories=..., handle_unknown="ignore")`` decide the
statistics and which categories are kept and which are grouped as rare. Only plain arrays are
kept (fill values as numbers, categories as strings), so the state lives in model.npz
without pickles; applying it is a table lookup done here (tests check it against
scikit-learn's own transform). Means and medians are computed with NumPy: SimpleImputer takes
0.7 s on a 140,000 x 50 training split where NumPy takes 0.15 s (tests check they agree).

model.npz keys (k numbers the input columns): ``enc.columns``, ``enc.types``; per column
``enc.<k>.fill`` (numbers, booleans: one value; dates: one per part), ``enc.<k>.indicator``,
``enc.<k>.parts`` (dates), ``enc.<k>.categories`` (kept, in output order), ``enc.<k>.other``
(grouped as rare), ``enc.<k>.missing`` (column | other | fill | none) and
``enc.<k>.fill_value`` (categories). Output per category column: one 0/1 column per kept
category, then ``name=(missing)`` and ``name=(other)`` when they exist; a value never seen in
training is a row of zeros and is counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from nncli.data.table import Column, Table
from nncli.errors import DataError

READ_AS = {"number": "number", "binary": "bool", "date": "date", "category": "text"}
MISSING, OTHER = "(missing)", "(other)"


@dataclass(eq=False)  # compared by identity: fields hold arrays
class Code:
    """One input column's fitted encoding."""

    name: str
    type: str  # number | binary | category | date
    fill: np.ndarray = field(default_factory=lambda: np.zeros(0))  # numbers, booleans, date parts
    indicator: bool = False  # a 0/1 column saying the cell was missing
    parts: tuple = ()  # dates: year, month, day, weekday (, hour)
    categories: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    other: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    missing: str = "none"  # categories: column | other | fill | none (a row of zeros)
    fill_value: str = ""

    def names(self) -> list[str]:
        if self.type == "category":
            out = [f"{self.name}={c}" for c in self.categories]
            out += [f"{self.name}={MISSING}"] * (self.missing == "column")
            out += [f"{self.name}={OTHER}"] * (len(self.other) > 0)
        elif self.type == "date":
            out = [f"{self.name}.{p}" for p in self.parts]
        else:
            out = [self.name]
        return out + [f"{self.name}={MISSING}"] * self.indicator

    def binary(self) -> list[bool]:
        """Which outputs hold only 0 and 1 (left unscaled)."""
        n = len(self.names()) - self.indicator
        return [self.type in ("binary", "category")] * n + [True] * self.indicator


def date_parts(seconds: np.ndarray, parts) -> np.ndarray:
    """(n, len(parts)) calendar parts of UTC seconds; NaN where the date is missing."""
    out = np.full((len(seconds), len(parts)), np.nan)
    ok = ~np.isnan(seconds)
    t = seconds[ok].astype(np.int64).astype("datetime64[s]")
    days = t.astype("datetime64[D]")
    months = t.astype("datetime64[M]")
    value = {"year": lambda: t.astype("datetime64[Y]").astype(np.int64) + 1970,
             "month": lambda: months.astype(np.int64) % 12 + 1,
             "day": lambda: (days - months.astype("datetime64[D]")).astype(np.int64) + 1,
             "weekday": lambda: (days.astype(np.int64) + 3) % 7,  # Monday 0: 1970-01-01 was a Thursday
             "hour": lambda: (seconds[ok].astype(np.int64) % 86400) // 3600}
    for j, p in enumerate(parts):
        out[ok, j] = value[p]()
    return out


class TableEncoder:
    """Fits one ``Code`` per input column on the training rows; ``bind`` applies them to a table."""

    def __init__(self, columns: list[tuple[str, str]], *, impute: str = "mean",
                 impute_categories: str = "missing", indicator: bool = False,
                 max_categories: int = 50, min_frequency: int = 5):
        self.codes = [Code(n, t) for n, t in columns]
        self.impute, self.impute_categories, self.indicator = impute, impute_categories, indicator
        self.max_categories, self.min_frequency = max_categories, min_frequency

    # -------------------------------------------------------------- describing the output
    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.codes]

    @property
    def names(self) -> list[str]:
        return [n for c in self.codes for n in c.names()]

    @property
    def binary(self) -> np.ndarray:
        return np.array([b for c in self.codes for b in c.binary()], dtype=bool)

    def read_as(self) -> dict[str, str]:
        """The kind each input column must be read as (for a file scored by this encoder)."""
        return {c.name: READ_AS[c.type] for c in self.codes}

    # -------------------------------------------------------------- fitting
    def fit(self, table: Table, rows: np.ndarray, defer_clean: bool = False) -> TableEncoder:
        """Fit on ``rows``. ``defer_clean``: number columns with no missing cell at all get
        their mean later, from ``set_means`` (the scaler's pass computes the same means)."""
        fast = [c for c in self.codes if c.type == "number" and self.impute == "mean"]
        self.pending = [c for c in fast if defer_clean and table.n_missing(c.name) == 0]
        if len(fast) > len(self.pending):
            self._fit_means(table, rows, [c for c in fast if c not in self.pending])
        for code in self.codes:
            if code in fast:
                continue
            col = table.columns[code.name]
            v = col.values[rows]
            if code.type == "category":
                self._fit_category(code, col, v)
                continue
            if code.type == "date":
                code.parts = ("year", "month", "day", "weekday") + (("hour",) * col.has_time)
                v = date_parts(v, code.parts)
            v = v.reshape(len(v), -1)
            missing = np.isnan(v)
            code.indicator = bool(self.indicator and missing.any())
            if code.type == "binary":
                code.fill = _most_frequent(v)
            elif self.impute == "median":
                code.fill = _nanstat(np.nanmedian, v)
            else:
                code.fill = _nanstat(np.nanmean, v)
        return self

    def set_means(self, table: Table, rows: np.ndarray, means: dict | None) -> None:
        """Means of the deferred columns: from ``means`` (column -> mean) or computed now."""
        if means is None:
            self._fit_means(table, rows, self.pending)
        else:
            for c in self.pending:
                c.fill = np.array([means[c.name]])
        self.pending = []

    def _fit_means(self, table: Table, rows: np.ndarray, codes: list[Code]) -> None:
        """Column means ignoring NaN (SimpleImputer's statistics; tests check they agree)."""
        for c in codes:
            v = table.columns[c.name].values[rows]
            nan = np.isnan(v)
            has = bool(nan.any())
            ok = v[~nan] if has else v
            c.fill = np.array([ok.mean() if len(ok) else 0.0])
            c.indicator = bool(self.indicator and has)

    def _fit_category(self, code: Code, col: Column, v: np.ndarray) -> None:
        from sklearn.preprocessing import OneHotEncoder

        k = len(col.levels)
        if self.impute_categories == "most_frequent" and (v >= 0).any():
            fill = int(_most_frequent(v[v >= 0].astype(np.float64).reshape(-1, 1))[0])
            code.fill_value = str(col.levels[fill])
            code.indicator = bool(self.indicator and (v < 0).any())
            v = np.where(v < 0, fill, v)
        else:
            v = np.where(v < 0, k, v)  # missing as one more category, after every real one
        ohe = OneHotEncoder(min_frequency=self.min_frequency, max_categories=self.max_categories,
                            handle_unknown="ignore").fit(v.reshape(-1, 1).astype(np.int64))
        rare = getattr(ohe, "infrequent_categories_", [None])[0]
        rare = set() if rare is None else {int(c) for c in rare}
        kept = [int(c) for c in ohe.categories_[0] if int(c) not in rare]
        levels = np.append(col.levels, MISSING).astype(object)
        code.categories = levels[[c for c in kept if c < k]]
        code.other = levels[sorted(c for c in rare if c < k)]
        if code.fill_value:
            code.missing = "fill"
        elif k in kept:
            code.missing = "column"
        elif k in rare:
            code.missing = "other"
        else:
            code.missing = "none"

    # -------------------------------------------------------------- applying
    def bind(self, table: Table) -> Bound:
        return Bound(self, table)

    # -------------------------------------------------------------- saving
    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"enc.columns": np.array(self.columns, dtype=str),
               "enc.types": np.array([c.type for c in self.codes], dtype=str)}
        for k, c in enumerate(self.codes):
            p = f"enc.{k}."
            out[p + "indicator"] = np.array(c.indicator)
            if c.type == "category":
                out[p + "categories"] = np.array(c.categories.tolist(), dtype=str)
                out[p + "other"] = np.array(c.other.tolist(), dtype=str)
                out[p + "missing"] = np.array(c.missing)
                out[p + "fill_value"] = np.array(c.fill_value)
            else:
                out[p + "fill"] = np.asarray(c.fill, dtype=np.float64)
                out[p + "parts"] = np.array(list(c.parts), dtype=str)
        return out

    @classmethod
    def from_state_dict(cls, d) -> TableEncoder:
        names, types = [str(s) for s in d["enc.columns"]], [str(s) for s in d["enc.types"]]
        if len(names) != len(types) or any(t not in READ_AS for t in types):
            raise ValueError("enc.columns and enc.types do not describe the same columns")
        enc = cls(list(zip(names, types)))
        for k, c in enumerate(enc.codes):
            p = f"enc.{k}."
            c.indicator = bool(np.asarray(d[p + "indicator"]))
            if c.type == "category":
                c.categories = np.asarray(d[p + "categories"]).astype(str).astype(object)
                c.other = np.asarray(d[p + "other"]).astype(str).astype(object)
                c.missing = str(np.asarray(d[p + "missing"])[()])
                c.fill_value = str(np.asarray(d[p + "fill_value"])[()])
            else:
                c.fill = np.asarray(d[p + "fill"], dtype=np.float64).reshape(-1)
                c.parts = tuple(str(s) for s in np.asarray(d[p + "parts"]).reshape(-1))
        return enc

    @classmethod
    def numbers(cls, names: list[str]) -> TableEncoder:
        """The encoder of a run written before encoders were saved: numbers, none missing."""
        enc = cls([(n, "number") for n in names])
        for c in enc.codes:
            c.fill = np.array([np.nan])  # NaN: a missing cell is refused, as it was then
        return enc


def _nanstat(fn, v: np.ndarray) -> np.ndarray:
    """Column statistic ignoring NaN; 0 for a column with no value (nothing to learn from)."""
    out = np.zeros(v.shape[1])
    has = ~np.isnan(v).all(axis=0)
    if has.any():
        out[has] = fn(v[:, has], axis=0)
    return out


def _most_frequent(v: np.ndarray) -> np.ndarray:
    """scikit-learn's SimpleImputer(strategy="most_frequent"), per column (ties: the smallest)."""
    from sklearn.impute import SimpleImputer

    out = np.zeros(v.shape[1])
    has = ~np.isnan(v).all(axis=0)
    if has.any():
        out[has] = SimpleImputer(strategy="most_frequent").fit(v[:, has]).statistics_
    return out


class Bound:
    """An encoder applied to one table: category lookups are built once per table."""

    def __init__(self, enc: TableEncoder, table: Table):
        self.enc, self.table = enc, table
        self.width = len(enc.names)
        self.unseen: dict[str, Counter] = {}
        self.lookups = {c.name: self._lookup(c, table.columns[c.name]) for c in enc.codes if c.type == "category"}
        self.starts = np.cumsum([0] + [len(c.names()) for c in enc.codes])[:-1].tolist()

    @staticmethod
    def _lookup(c: Code, col: Column) -> np.ndarray:
        """Output position (within the column's block) of each level; last entry: a missing cell."""
        levels = col.levels.astype(str)
        pos = np.full(len(levels) + 1, -1, np.int64)
        cats, other = c.categories.astype(str), c.other.astype(str)
        where = {v: i for i, v in enumerate(cats)}
        other_pos = len(cats) + (c.missing == "column")
        for i, v in enumerate(levels):
            if v in where:
                pos[i] = where[v]
            elif len(other) and v in set(other):
                pos[i] = other_pos
        if c.missing == "fill":
            pos[-1] = where.get(c.fill_value, other_pos if c.fill_value in set(other) else -1)
        elif c.missing == "column":
            pos[-1] = len(cats)
        elif c.missing == "other":
            pos[-1] = other_pos
        return pos

    def block(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), width) float64 encoded features of these rows.

        The array is the transpose of a C-ordered (width, len(rows)) one: every output column
        is written, and read again by the scaler, as one contiguous run of memory."""
        out = np.zeros((self.width, len(rows)))  # out[j]: output column j
        for c, j in zip(self.enc.codes, self.starts):
            self.encode_into(c, rows, out[j:j + len(c.names())])
        return out.T

    def encode_into(self, c: Code, rows: np.ndarray, out: np.ndarray) -> None:
        """Write the output columns of input column ``c`` for these rows into ``out``, a zeroed
        (len(c.names()), len(rows)) float64 array."""
        col = self.table.columns[c.name]
        if c.type == "category":
            v = col.values[rows]
            pos = self.lookups[c.name][v]  # code -1 picks the missing entry
            hit = pos >= 0
            out[pos[hit], np.flatnonzero(hit)] = 1.0
            if not hit.all():
                self._count(c, col, v[~hit])
            if c.indicator:
                out[-1] = v < 0
            return
        if c.type == "number" and col.values.dtype == np.float64:  # gathered straight into its row
            v = np.take(col.values, rows, out=out[0], mode="clip")[:, None]  # rows are in range
        else:
            v = col.values[rows]
            v = (date_parts(v, c.parts) if c.type == "date" else v).reshape(len(v), -1)
        width = v.shape[1]
        if self.table.n_missing(c.name) == 0:
            if c.type != "number":
                out[:width] = v.T
            return
        missing = np.isnan(v)
        if missing.any():
            if np.isnan(c.fill).any():
                i = int(np.flatnonzero(missing.any(axis=1))[0])
                raise DataError(f"{self.table.where(rows[i], c.name)}: expected a number, got an "
                                "empty cell (this run was trained without missing values)")
            v = np.where(missing, c.fill, v)
        out[:width] = v.T
        if c.indicator:
            out[width] = missing.any(axis=1)

    def _count(self, c: Code, col: Column, codes: np.ndarray) -> None:
        counter = self.unseen.setdefault(c.name, Counter())
        values, counts = np.unique(codes, return_counts=True)
        for v, n in zip(values, counts):
            counter[MISSING if v < 0 else str(col.levels[v])] += int(n)
