"""Reading data files: CSV with a header row and .npz with X and y.

Every problem is a one-line DataError naming the file and, where it applies, the row and
column and what was expected. CSV goes through the standard library; nothing is pickled.
"""

from __future__ import annotations

import csv
import difflib
import math
from pathlib import Path

import numpy as np

from nncli.errors import DataError

FILE_TYPES = (".csv", ".npz")


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{path}: no such file")
    if p.is_dir():
        raise DataError(f"{path}: is a directory, expected a .csv or .npz file")
    if p.suffix.lower() not in FILE_TYPES:
        raise DataError(f"{path}: unsupported file type '{p.suffix}', expected .csv or .npz")
    return p


def _read_csv_rows(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of each non-blank data row; ragged rows are refused."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty CSV file, expected a header row")
            header = [h.strip() for h in header]
            rows = []
            for cells in reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                if len(cells) != len(header):
                    raise DataError(f"{path}: row {reader.line_num} has {len(cells)} cells, "
                                    f"expected {len(header)} (as in the header)")
                rows.append((reader.line_num, cells))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except csv.Error as e:
        raise DataError(f"{path}: invalid CSV: {e}") from e
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from e
    if not any(header):
        raise DataError(f"{path}: empty header row")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) in the header: {', '.join(dupes)}")
    return header, rows


def _number(path, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise DataError(f"{path}: row {line}, column '{column}': expected a number, got an empty cell")
    try:
        x = float(text)
    except ValueError:
        raise DataError(f"{path}: row {line}, column '{column}': expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise DataError(f"{path}: row {line}, column '{column}': expected a finite number, got {text!r}")
    return x


def _column_index(path, header: list[str], name: str, what: str) -> int:
    if name in header:
        return header.index(name)
    hint = difflib.get_close_matches(name, header, n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise DataError(f"{path}: no {what} column '{name}'; columns are {', '.join(header)}{tip}")


def _read_csv(path, label: str | None):
    header, rows = _read_csv_rows(path)
    if len(header) < 2:
        raise DataError(f"{path}: expected at least 2 columns (features and a label), got {len(header)}")
    j = _column_index(path, header, label, "label") if label else len(header) - 1
    names = [h for k, h in enumerate(header) if k != j]
    cols = [k for k in range(len(header)) if k != j]
    X = np.array([[_number(path, line, header[k], cells[k]) for k in cols] for line, cells in rows],
                 dtype=np.float64).reshape(len(rows), len(cols))
    labels = []
    for line, cells in rows:
        if not cells[j].strip():
            raise DataError(f"{path}: row {line}, column '{header[j]}': empty label cell")
        labels.append(cells[j].strip())
    try:
        y = np.array([float(s) for s in labels], dtype=np.float64)
    except ValueError:
        return X, np.array(labels, dtype=str), names  # text labels: classification
    if y.size and not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"{path}: row {rows[i][0]}, column '{header[j]}': expected a finite number, "
                        f"got {labels[i]!r}")
    return X, y, names


def _read_npz(path):
    import zipfile

    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from e
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: expected an .npz archive with arrays X and y, got a single array")
    with z:
        missing = [k for k in ("X", "y") if k not in z.files]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(missing)}; the archive holds "
                            f"{', '.join(sorted(z.files)) or 'no arrays'} (expected X and y)")
        arrays = {}
        for k in ("X", "y", "feature_names"):
            if k not in z.files:
                continue
            try:
                arrays[k] = z[k]
            except ValueError as e:  # object arrays need pickle, refused
                raise DataError(f"{path}: array '{k}' holds Python objects, refused ({e})") from e
            except Exception as e:  # noqa: BLE001  (a damaged archive fails in many ways: all are damage)
                raise DataError(f"{path}: array '{k}' is corrupt ({type(e).__name__}: {e})") from e
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2:
        raise DataError(f"{path}: X must be 2-D (samples, features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must hold numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        i, k = bad[0]
        raise DataError(f"{path}: X[{i}, {k}] is {X[i, k]}: expected a finite number")
    if y.ndim not in (1, 2) or len(y) != len(X):
        raise DataError(f"{path}: y must have one entry per row of X ({len(X)}), got shape {y.shape}")
    if y.dtype.kind == "S":
        y = y.astype(str)
    elif y.dtype.kind in "iuf":
        if not np.isfinite(y.astype(np.float64)).all():
            raise DataError(f"{path}: y[{int(np.argwhere(~np.isfinite(y))[0][0])}] is not a finite number")
    elif y.dtype.kind not in "bU":
        raise DataError(f"{path}: y must hold numbers or text, got dtype {y.dtype}")
    names = [f"x{k}" for k in range(X.shape[1])]
    fn = arrays.get("feature_names")
    if fn is not None and fn.shape == (X.shape[1],) and fn.dtype.kind in "US":
        names = [str(s) for s in fn.astype(str)]
    return X, y, names


def read_features_csv(path, feature_names, label=None) -> np.ndarray:
    """Feature matrix (n, len(feature_names)) from a CSV, columns picked by header name.

    Columns are returned in the order of `feature_names` (the training order), whatever
    their order in the file; other columns, such as the `label` column, are ignored.
    """
    p = _check_file(path)
    if p.suffix.lower() != ".csv":
        raise DataError(f"{path}: unsupported file type '{p.suffix}', expected .csv")
    header, rows = _read_csv_rows(path)
    cols = [_column_index(path, header, name, "feature") for name in feature_names]
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    return np.array([[_number(path, line, header[k], cells[k]) for k in cols] for line, cells in rows],
                    dtype=np.float64).reshape(len(rows), len(cols))


def read_table(path, label: str | None):
    """(X float64 (n, d), y, feature names) from a .csv or .npz file."""
    p = _check_file(path)
    return _read_csv(path, label) if p.suffix.lower() == ".csv" else _read_npz(path)
