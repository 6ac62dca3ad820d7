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


def _choice(name: Any, choices, what: str) -> str:
    """Return `name` if it is one of `choices`, else raise DataError with the sorted choices."""
    if name in choices:
        return name
    hint = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise DataError(f"{what}: expected one of {', '.join(sorted(choices))}, got {name!r}{tip}")


def choice(name: Any, choices, what: str) -> str:
    """Return ``name`` if it is one of ``choices``, else raise DataError with the sorted choices."""
    if name in choices:
        return name
    hint = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise DataError(f"{what}: expected one of {', '.join(sorted(choices))}, got {name!r}{tip}")
