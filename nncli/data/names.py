"""The data layer's fixed vocabularies, and the one check that a value is among them."""

from __future__ import annotations

import difflib
from typing import Any

from nncli.errors import DataError

# name -> task, for the bundled scikit-learn loaders (called as sklearn.datasets.load_<name>)
DATASETS: dict[str, str] = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
# name -> task, for the scikit-learn sample generators (sklearn.datasets.<name>)
GENERATORS: dict[str, str] = {
    "make_classification": "classification",
    "make_moons": "classification",
    "make_circles": "classification",
    "make_blobs": "classification",
    "make_regression": "regression",
}
TASKS = ("classification", "regression")
SCALINGS = ("standard", "minmax", "none")
DTYPES = ("float32", "float64")
MAX_CLASSES = 50  # integer labels with more distinct values than this are taken as regression

# file name endings -> reader; the CSV kinds may also end in .gz
FILE_TYPES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".csv.gz": "csv", ".tsv.gz": "csv",
              ".txt.gz": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}
# what a column can be encoded as (data.types overrides the inferred one)
COLUMN_TYPES = ("number", "category", "binary", "date")
# cells that mean "missing" unless the config says otherwise (pandas' defaults, and "?" as in
# the UCI repository's files)
MISSING_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None",
                  "#N/A", "#NA", "<NA>", "?")
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 50_000  # input columns read from one file; wider files are refused before parsing


def file_type(path) -> str | None:
    """csv | parquet | npz from a file name's ending (None when unknown)."""
    name = str(path).lower()
    for ending in sorted(FILE_TYPES, key=len, reverse=True):
        if name.endswith(ending):
            return FILE_TYPES[ending]
    return None


def choice(name: Any, choices, what: str) -> str:
    """Return ``name`` if it is one of ``choices``, else raise DataError with the sorted choices."""
    if name in choices:
        return name
    hint = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise DataError(f"{what}: expected one of {', '.join(sorted(choices))}, got {name!r}{tip}")


_choice = choice  # the name older modules import
