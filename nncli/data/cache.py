"""A cache of the named datasets: one .npz per dataset, parameters and scikit-learn version.

Loading a bundled dataset or a generator goes through scikit-learn's ``datasets`` module,
whose import costs more than the rest of a small run put together. The first load of each
(dataset, params, seed of a generator) is stored here; later loads read the .npz without
importing scikit-learn. The scikit-learn version is part of the key, so an upgrade that
changes a dataset or a generator's draws is never hidden by an old entry.

Where: ``$NNCLI_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/nncli`` (``~/.cache/nncli``),
under ``datasets/``. Entries are written to a temporary file and renamed into place, so
concurrent writers of one entry each leave a complete file and a reader never sees half of
one. Arrays only (``allow_pickle=False``). A cache that cannot be read or written is skipped:
it never fails a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

ENV_VAR = "NNCLI_CACHE_DIR"
FORMAT = 1  # bump when what an entry holds changes


def cache_dir() -> Path:
    """The directory of dataset entries."""
    root = os.environ.get(ENV_VAR)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "nncli")
    return Path(root) / "datasets"


def sklearn_version() -> str:
    """The installed scikit-learn's version, read from its metadata (no import)."""
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return "none"


def entry_path(name: str, params: dict, seed: int | None) -> Path:
    """The file of one entry: the dataset's name, then a digest of everything that decides
    its contents (``seed`` is None for the bundled datasets, which do not draw)."""
    key = json.dumps({"format": FORMAT, "dataset": name, "params": params, "seed": seed,
                      "sklearn": sklearn_version()}, sort_keys=True, default=repr)
    return cache_dir() / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def read(path: Path):
    """(X, y, names) of an entry, or None when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            X, y, names = f["X"], f["y"], [str(s) for s in f["names"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if X.ndim != 2 or len(y) != len(X) or len(names) != X.shape[1]:
        return None
    return X, y, names


def write(path: Path, X: np.ndarray, y: np.ndarray, names: list[str]) -> None:
    """Store an entry atomically (temporary file, then rename); any failure is ignored."""
    if y.dtype.kind == "O" or X.dtype.kind == "O":  # only what loads without pickles
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, X=X, y=y, names=np.array(names, dtype=str))
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
