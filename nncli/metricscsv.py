"""metrics.csv: one row per epoch, written so that it is cheap to keep current and safe to open.

A run appends one formatted line per epoch (``MetricsLog``) instead of rewriting its whole
history, and every cell that a spreadsheet would run as a formula is quoted (``safe_cell``,
which predictions.csv uses too); ``read_metrics_csv`` gives the rows back with their types.
A module of its own because many places share this one file: the training recorder appends to
it, a checkpoint takes its history from it (``modelfiles.py``), the pictures and the
scikit-learn estimators read it back.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from nncli.atomic import append_text, atomic_write_text
from nncli.errors import RunError

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheets run cells starting with these


def _is_number_text(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def safe_cell(v: Any) -> str:
    """A CSV cell: numbers as numbers, text that a spreadsheet would run as a formula quoted."""
    if v is None:
        return ""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    s = str(v)
    # a leading quote makes spreadsheets show the text instead of running it as a formula;
    # text that already starts with quotes before such a character gets one more, so that
    # reading (which drops exactly one) gives the text back unchanged
    if s.startswith(_FORMULA_START) and not _is_number_text(s) or _quoted(s):
        return "'" + s
    return s


def _quoted(s: str) -> bool:
    return s.startswith("'") and s.lstrip("'").startswith(_FORMULA_START)


class MetricsTable:
    """metrics.csv as text that grows by one formatted line per epoch.

    The file is still rewritten whole and atomically each time, but formatting every earlier
    row again would make a long run's bookkeeping grow with the square of its epochs.
    Columns are the first row's keys, then any new ones (which re-formats the table once).
    """

    def __init__(self, rows=()):
        self.rows: list[dict] = []
        self.columns: list[str] = []
        self.lines: list[str] = []
        for row in rows:
            self.add(row)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if any(k not in self.columns for k in row):
            self.columns += [k for k in row if k not in self.columns]
            self.lines = [_csv_line(self.columns)] + [_csv_line([r.get(c) for c in self.columns])
                                                      for r in self.rows]
        else:
            self.lines.append(_csv_line([row.get(c) for c in self.columns]))

    def text(self) -> str:
        return "".join(self.lines)


class MetricsLog:
    """metrics.csv kept current by appending one line per epoch: the cost of an epoch's
    bookkeeping does not grow with the run's length.

    ``add`` (the training thread) formats the row; ``flush`` (the writer thread, before each
    checkpoint) appends what is pending. The file is rewritten whole, atomically, only when a
    row brings a new column, and on the first flush of a resumed run (``rows``: its history
    so far), which drops any row a killed writer appended past its last checkpoint.
    """

    def __init__(self, path, rows=()):
        import threading

        self.path = Path(path)
        self.table = MetricsTable(rows)  # every row, for a rewrite; lines are formatted once
        self._pending: list[str] = []
        self._rewrite = bool(self.table.rows)
        self._lock = threading.Lock()

    def add(self, row: dict) -> None:
        with self._lock:
            n_columns = len(self.table.columns)
            self.table.add(row)
            if len(self.table.columns) != n_columns:
                self._rewrite = True
            elif not self._rewrite:
                self._pending.append(self.table.lines[-1])

    def columns(self) -> list[str]:
        return list(self.table.columns)

    def flush(self) -> None:
        with self._lock:
            rewrite, text = self._rewrite, None
            if rewrite:
                text = self.table.text()
            else:
                text = "".join(self._pending)
            self._rewrite, self._pending = False, []
        if rewrite:
            atomic_write_text(self.path, text)
        elif text:
            append_text(self.path, text)


def _csv_line(values) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([safe_cell(v) for v in values])
    return buf.getvalue()


def write_metrics_csv(path, rows: list[dict]) -> None:
    """Rewrite the whole metrics file from these rows."""
    atomic_write_text(path, MetricsTable(rows).text())


def _value(s: str) -> Any:
    if s == "":
        return None
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    if "_" not in s and _is_number_text(s):
        return float(s)
    return _unquote(s)


def _unquote(s: str) -> str:
    return s[1:] if _quoted(s) else s


def read_metrics_csv(path) -> list[dict]:
    """The rows of a metrics.csv; a last line without its newline (an append in flight, or cut
    short by a kill) is not a row yet."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
        reader = csv.reader(io.StringIO(text[:text.rfind("\n") + 1]))
        header = [_unquote(h) for h in next(reader, [])]
        return [dict(zip(header, (_value(c) for c in cells))) for cells in reader if cells]
    except FileNotFoundError as e:
        raise RunError(f"{path}: no such file") from e
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise RunError(f"{path}: cannot read metrics ({e})") from e
