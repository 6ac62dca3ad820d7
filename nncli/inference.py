"""Score a saved run (``evaluate``) or predict with it (``predict``), for tables and images.

The run is rebuilt by savedrun.py and a file is read as the run reads it by runinput.py
(columns by name, in any order). ``evaluate`` without a file scores exactly the test rows the
run recorded, after checking that the data file has not changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli.data.files import fingerprint
from nncli.data.images import label_table
from nncli.data.labels import encode_labels, label_rows
from nncli.data.splits import split_rows
from nncli.data.worker import run_interruptibly
from nncli.errors import DataError
from nncli.paths import check_path
from nncli.runinput import encode_inputs, open_input, read_columns, read_scaled_images
from nncli.savedrun import Loaded, load_run


# ---------------------------------------------------------------- the network's outputs
def _outputs(lr: Loaded, X: np.ndarray, rows: np.ndarray, table) -> np.ndarray:
    out = lr.net.predict(X)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        shown = ", ".join(table.row(rows[i]) for i in np.flatnonzero(bad)[:5])
        raise DataError(f"{table.source}: {shown}: the model's output is not finite for these inputs; "
                        "expected values of the size it was trained on")
    return out


def _probabilities(p: np.ndarray) -> np.ndarray:
    """Rows of class probabilities in float64 that sum to 1 (one sigmoid column -> two)."""
    p = p.astype(np.float64)
    if p.shape[1] == 1:
        p = np.hstack([1 - p, p])
    return p / p.sum(axis=1, keepdims=True)


def _unseen(bound) -> dict:
    return {c: dict(counter.most_common()) for c, counter in bound.unseen.items()}


# ---------------------------------------------------------------- evaluate
def _test_rows(lr: Loaded, run_dir: Path, cancel):
    """(table, label, rows, source text) of the run's own test split."""
    d, recorded = lr.cfg.data, lr.meta.get("data") or {}
    if d.path is not None and not Path(d.path).exists():
        raise DataError(f"{d.path}: no such file; run {run_dir.name} was trained on it (score another "
                        "file with --data FILE)")
    if d.path is not None and recorded.get("sha256"):
        now = fingerprint(d.path)
        if (now["size"], now["sha256"]) != (recorded["size"], recorded["sha256"]):
            raise DataError(f"{d.path}: the file changed since run {run_dir.name} was trained on it "
                            f"({recorded['size']} -> {now['size']} bytes, sha256 {recorded['sha256'][:12]} -> "
                            f"{now['sha256'][:12]}); its test rows cannot be found again: restore the file, "
                            "or score it with --data FILE")
    src = open_input(lr, d.path, regular=True, cancel=cancel)
    if d.path is None and recorded.get("sha256") and src.fingerprint()["sha256"] != recorded["sha256"]:
        raise DataError(f"{d.dataset}: the dataset differs from the one run {run_dir.name} was trained on "
                        "(another scikit-learn version?); score a saved file with --data FILE")
    table, label = read_columns(lr, src, True, run_dir, cancel)
    if "test" in lr.split:
        rows = lr.split["test"]
        if len(rows) and rows.max() >= table.n_rows:
            raise DataError(f"{src.name}: run {run_dir.name} recorded test rows up to "
                            f"{int(rows.max())} but the data has {table.n_rows} rows")
    else:  # runs written before splits were recorded: the split again, from the seed
        subset = d.subset or table.n_rows
        n = min(subset, table.n_rows)
        col, labeled = label_rows(table, label)
        labeled = labeled[labeled < n]
        _, _, _, strat = encode_labels(table, col, labeled, lr.meta["task"], "float64")
        n_test = int(np.ceil(d.test * len(labeled))) if d.test > 0 else 0
        n_val = int(np.ceil(d.validation * len(labeled))) if d.validation > 0 else 0
        rows = split_rows(labeled, strat, n_test, n_val, lr.cfg.seed)["test"]
    if len(rows) == 0:
        raise DataError(f"{run_dir}: the run has no test split (data.test: 0); pass --data FILE")
    return table, label, rows, f"test split of {src.name}"


def _labels(lr: Loaded, table, label: str, rows: np.ndarray) -> np.ndarray:
    col = table.columns[label]
    if lr.meta["task"] == "classification":
        lookup = {str(c): i for i, c in enumerate(lr.classes)}
        keys = [k[:-2] if k.endswith(".0") and k[:-2] in lookup else k for k in
                (col.cells(rows) if col.kind != "bool" else ["true" if v else "false" for v in col.values[rows]])]
        unknown = sorted({k for k in keys if k not in lookup})
        if unknown:
            raise DataError(f"{table.source}: label {unknown[0]!r} is not a class the model knows "
                            f"({', '.join(lookup)})")
        return np.array([lookup[k] for k in keys], dtype=np.int64)
    if col.kind != "number":
        raise DataError(f"{table.source}: column '{label}' holds {col.kind} values; the run predicts numbers")
    return col.values[rows].reshape(len(rows), -1).astype(lr.cfg.training.dtype)


def evaluate(run: str, data_file: str | None = None, runs_dir: str | Path = "runs", stop=None) -> dict:
    """Score a saved run on its recorded test rows, or on another file (columns by name)."""
    run_dir, lr = load_run(run, runs_dir)
    if lr.encoder is None:
        return run_interruptibly(lambda cancel: _evaluate_images(lr, run_dir, data_file), stop)

    def work(cancel):
        if data_file is None:
            table, label, rows, source = _test_rows(lr, run_dir, cancel)
            dropped = 0
        else:
            check_path(data_file, "data file")
            src = open_input(lr, data_file, cancel=cancel)
            table, label = read_columns(lr, src, True, run_dir, cancel)
            rows = label_rows(table, label)[1]
            dropped, source = table.n_rows - len(rows), src.name
        X, bound = encode_inputs(lr, table, rows, cancel)
        return _scores(lr, run_dir, source, X, _labels(lr, table, label, rows), rows, table, bound, dropped)

    return run_interruptibly(work, stop)


def _scores(lr, run_dir, source, X, y, rows, table, bound, dropped) -> dict:
    from nncli import scores

    out = _outputs(lr, X, rows, table)
    task = lr.meta["task"]
    result = {"run": str(run_dir), "data": source, "task": task, "samples": int(len(X))}
    if dropped:
        result["rows_without_label"] = int(dropped)
    if task == "classification":
        proba = _probabilities(lr.loss.link(out))
        pred = proba.argmax(axis=1)
        s = scores.classification(y, pred, proba, len(lr.classes))
        p, r, f, support = s["precision"], s["recall"], s["f1"], s["support"]
        result.update(
            accuracy=s["accuracy"],
            precision_macro=float(p.mean()), recall_macro=float(r.mean()), f1_macro=float(f.mean()),
            log_loss=s["log_loss"],
            per_class={str(c): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                "support": int(support[i])} for i, c in enumerate(lr.classes)},
            confusion_matrix=s["confusion_matrix"].tolist(),
            classes=[str(c) for c in lr.classes])
    else:
        s = scores.regression(y, lr.target.inverse(out))
        result.update(mse=s["mse"], rmse=s["mse"] ** 0.5, mae=s["mae"], r2=s["r2"])
    if bound.unseen:
        result["unseen_categories"] = _unseen(bound)
    return result


# ---------------------------------------------------------------- predict
@dataclass
class Predictions:
    columns: dict  # name -> list or array, one entry per input row, in output order
    probabilities: list[str]  # the columns that hold probabilities (rounded in text formats)
    notes: list[str]
    dtype: str  # the model's float type (values are written with its precision)
    n: int


def predict(run: str, input_file: str, runs_dir: str | Path = "runs", stream=None, stop=None) -> Predictions:
    """Predictions for every row of a CSV, Parquet or .npz file (``-``: CSV on ``stream``)."""
    if input_file != "-":
        check_path(input_file, "input file")
    run_dir, lr = load_run(run, runs_dir)
    if lr.encoder is None:
        return run_interruptibly(lambda cancel: _predict_images(lr, run_dir, input_file), stop)

    def work(cancel):
        src = open_input(lr, input_file, stream=stream, cancel=cancel)
        table, _ = read_columns(lr, src, False, run_dir, cancel)
        rows = np.arange(table.n_rows)
        if not len(rows):
            raise DataError(f"{src.name}: no data rows after the header, expected at least one row to predict")
        X, bound = encode_inputs(lr, table, rows, cancel)
        return _predictions(lr, table, X, rows, bound)

    return run_interruptibly(work, stop)


def _predictions(lr: Loaded, table, X, rows, bound) -> Predictions:
    out = _outputs(lr, X, rows, table)
    cols, notes = {}, []
    id_col = lr.meta.get("id")
    if id_col:
        if id_col in table.columns:
            cols[id_col] = table.columns[id_col].cells(rows)
        else:
            notes.append(f"{table.source}: no '{id_col}' column (the run's data.id): predictions follow "
                         "the input's row order")
    probs = []
    if lr.meta["task"] == "classification":
        proba = _probabilities(lr.loss.link(out))
        cols["prediction"] = [c.item() if hasattr(c, "item") else c for c in lr.classes[proba.argmax(axis=1)]]
        for i, c in enumerate(lr.classes):
            cols[f"p_{c}"] = proba[:, i]
            probs.append(f"p_{c}")
    else:
        values = lr.target.inverse(out)
        names = ["prediction"] if values.shape[1] == 1 else [f"prediction_{i}" for i in range(values.shape[1])]
        for i, name in enumerate(names):
            cols[name] = values[:, i]
    for c, counts in _unseen(bound).items():
        shown = ", ".join(f"{v!r} x{n}" for v, n in list(counts.items())[:5])
        notes.append(f"{table.source}: column '{c}' has values not seen in training ({shown}); "
                     "they were encoded as no known category")
    return Predictions(cols, probs, notes, lr.cfg.training.dtype, len(rows))


# ---------------------------------------------------------------- runs whose model takes images
class _NoColumns:
    unseen: dict = {}


def _evaluate_images(lr: Loaded, run_dir: Path, data_file) -> dict:
    if data_file is None:
        d, recorded = lr.cfg.data, lr.meta.get("data") or {}
        path = d.path
        if path is not None and not Path(path).exists():
            raise DataError(f"{path}: no such file; run {run_dir.name} was trained on it (score another "
                            "file with --data FILE)")
        X, y, name, fp = read_scaled_images(lr, run_dir, path, True)
        if recorded.get("sha256") and fp.get("sha256") != recorded["sha256"]:
            raise DataError(f"{name}: the images differ from the ones run {run_dir.name} was trained on; "
                            "its test rows cannot be found again: score a file with --data FILE")
        rows = lr.split.get("test", np.zeros(0, np.int64))
        if len(rows) == 0:
            raise DataError(f"{run_dir}: the run has no test split (data.test: 0); pass --data FILE")
        source = f"test split of {name}"
    else:
        X, y, name, _ = read_scaled_images(lr, run_dir, data_file, True)
        rows, source = np.arange(len(X)), name
    table = label_table(name, y)
    return _scores(lr, run_dir, source, X[rows], _labels(lr, table, "y", rows), rows, table, _NoColumns(), 0)


def _predict_images(lr: Loaded, run_dir: Path, input_file) -> Predictions:
    X, _, name, _ = read_scaled_images(lr, run_dir, input_file, False)
    if not len(X):
        raise DataError(f"{name}: no images, expected at least one to predict")
    rows = np.arange(len(X))
    return _predictions(lr, label_table(name, np.zeros(len(X))), X, rows, _NoColumns())
