"""Reuse a saved run: rebuild its model and data pipeline from the run directory alone, then
score or predict.

Columns are found by name, in any order; other columns are ignored; every column the run needs
and a file lacks is named in one error. ``evaluate`` without a file scores exactly the test
rows the run recorded, after checking that the data file has not changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nncli import modelfiles, runs
from nncli.build import network
from nncli.checkpoint import file_format, model_meta
from nncli.config import Config, config_differences, config_hash, parse_yaml, read_config_text, validate
from nncli.config.migrate import migrate
from nncli.data import check_finite, encode_splits
from nncli.data.columns import missing_columns
from nncli.data.encode import TableEncoder
from nncli.data.files import fingerprint
from nncli.data.images import PixelScaler, label_table, read_images
from nncli.data.labels import encode_labels, label_rows
from nncli.data.preprocess import Preprocessor
from nncli.data.source import open_source
from nncli.data.splits import split_rows
from nncli.data.target import TargetScaler
from nncli.data.worker import run_interruptibly
from nncli.errors import ConfigError, DataError, RunError
from nncli.nn import Network, make_loss
from nncli.paths import check_path


@dataclass
class Loaded:
    cfg: Config
    net: Network
    prep: Preprocessor
    meta: dict
    classes: np.ndarray | None
    loss: object
    format: int = 2
    encoder: TableEncoder | None = None  # None for a model that takes images
    target: TargetScaler = field(default_factory=TargetScaler)
    split: dict = field(default_factory=dict)  # split -> row numbers (format 3)


def load_run_config(run_dir: Path, run_format: int) -> Config:
    """A run's saved config, read as the version that wrote the run meant it. A config.yaml
    that no longer reads is a damaged run (exit 4), not a mistake in the user's config."""
    path = run_dir / runs.CONFIG_FILE
    try:
        data, lines = parse_yaml(read_config_text(path), str(path))
        return validate(migrate(data, run_format), str(path), lines)
    except ConfigError as e:
        raise RunError(f"{run_dir}: the run's {runs.CONFIG_FILE} is damaged or was edited into an invalid "
                       f"config: {getattr(e, 'problems', [str(e)])[0]}") from e


def check_saved_config(arrays: dict, cfg: Config, run_dir: Path, saved_in: str) -> None:
    """Refuse a run whose config.yaml no longer describes its weights (an edit after training),
    naming each key that differs."""
    saved, digest = arrays.get("config"), arrays.get("config_sha256")
    if saved is None and digest is None:
        return  # written before configs were saved with the weights
    try:
        if digest is not None and runs.get_str(digest) == config_hash(cfg):
            return
        changed = config_differences(json.loads(runs.get_str(saved)), cfg) if saved is not None else ["?"]
    except (RunError, ValueError, RecursionError) as e:
        raise RunError(f"{run_dir / saved_in}: corrupt or not an nncli file (the saved config: {e})") from e
    if changed:
        shown = "; ".join(changed[:5]) + (f"; and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise RunError(f"{run_dir}: {runs.CONFIG_FILE} differs from the config saved with the weights in "
                       f"{saved_in} ({shown}); it was edited after training: restore it, or train a new "
                       f"run from it")


def load_run(run: str, runs_dir: str | Path = "runs") -> tuple[Path, Loaded]:
    run_dir = runs.resolve_run(run, runs_dir)
    arrays = modelfiles.load_model_arrays(run_dir)
    model_file = run_dir / runs.MODEL_FILE
    fmt = file_format(arrays, model_file)
    meta = model_meta(arrays, model_file)
    cfg = load_run_config(run_dir, fmt)
    check_saved_config(arrays, cfg, run_dir, runs.MODEL_FILE)
    try:
        net = network(cfg, meta["n_in"], meta["n_out"], meta["output"])
        net.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("net.")})
        if "img.scale" in arrays:
            prep, enc = PixelScaler.from_state_dict(arrays), None
        else:
            prep = Preprocessor.from_state_dict(arrays)
            enc = (TableEncoder.from_state_dict(arrays) if "enc.columns" in arrays
                   else TableEncoder.numbers(list(meta["feature_names"])))
            if len(enc.names) != prep.n_features_in:
                raise ValueError(f"{len(enc.names)} encoded inputs for a preprocessor of {prep.n_features_in}")
        target = TargetScaler.from_state_dict(arrays)
        split = {k[6:]: np.asarray(v, np.int64) for k, v in arrays.items() if k.startswith("split.")}
        loss = make_loss(meta["loss"], cfg.loss.huber_delta)
        width = list(prep.shape) if enc is None else prep.transform(np.zeros((1, prep.n_features_in))).shape[1]
    except (KeyError, ValueError, TypeError, DataError, ConfigError) as e:
        raise RunError(f"{model_file}: corrupt or not an nncli model ({' '.join(str(e).split())})") from e
    if width != meta["n_in"]:
        raise RunError(f"{model_file}: corrupt or not an nncli model (the preprocessing gives {width} "
                       f"features or images, the network takes {meta['n_in']})")
    return run_dir, Loaded(cfg, net, prep, meta, arrays.get("classes"), loss, fmt, enc, target, split)


# ---------------------------------------------------------------- reading a file for a run
def _open(lr: Loaded, path, stream=None, regular=False, cancel=None):
    d = lr.cfg.data
    return open_source(path=path, dataset=None if path else d.dataset, params=dict(d.params), seed=lr.cfg.seed,
                       stream=stream, delimiter=d.delimiter, missing=d.missing_values, regular=regular,
                       cancel=cancel)


def _read(lr: Loaded, src, need_label: bool, run_dir: Path, cancel=None):
    """(table, label name or None): the run's input columns by name (and the label)."""
    inputs = lr.encoder.columns
    # the label: an .npz's own array; else the column the run learned from (a built-in dataset's
    # label has no column name: the file's last column, as in training)
    label = src.label_name or lr.cfg.data.label or lr.meta.get("label") or None
    if need_label and label is None:
        label = src.names[-1]
    wanted = [(c, "") for c in inputs] + ([(label, "label")] if need_label else [])
    what = (f"run {run_dir.name} expects input column{'s' if len(inputs) > 1 else ''} "
            f"{', '.join(inputs[:20])}{' ...' if len(inputs) > 20 else ''}"
            + (f" and the label '{label}'" if need_label else ""))
    missing_columns(src.name, wanted, src.names, what)
    kinds = dict(lr.encoder.read_as())
    id_col = lr.meta.get("id")
    if id_col and id_col in src.names and id_col not in kinds:
        kinds[id_col] = "text"
    if need_label:
        kinds[label] = "label"
    table = src.read([c for c in src.names if c in kinds], kinds, cancel=cancel)
    return table, (label if need_label else None)


def _inputs(lr: Loaded, table, rows: np.ndarray, cancel=None):
    bound = lr.encoder.bind(table)
    # the input columns are not read again: each is given back once encoded (ids, labels stay)
    X = encode_splits(bound, lr.prep, {"rows": rows}, lr.cfg.training.dtype, cancel, release=True)["rows"]
    check_finite(X, rows, table, lr.encoder.names, "this model")
    return X, bound


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
    src = _open(lr, d.path, regular=True, cancel=cancel)
    if d.path is None and recorded.get("sha256") and src.fingerprint()["sha256"] != recorded["sha256"]:
        raise DataError(f"{d.dataset}: the dataset differs from the one run {run_dir.name} was trained on "
                        "(another scikit-learn version?); score a saved file with --data FILE")
    table, label = _read(lr, src, True, run_dir, cancel)
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
            src = _open(lr, data_file, cancel=cancel)
            table, label = _read(lr, src, True, run_dir, cancel)
            rows = label_rows(table, label)[1]
            dropped, source = table.n_rows - len(rows), src.name
        X, bound = _inputs(lr, table, rows, cancel)
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
        src = _open(lr, input_file, stream=stream, cancel=cancel)
        table, _ = _read(lr, src, False, run_dir, cancel)
        rows = np.arange(table.n_rows)
        if not len(rows):
            raise DataError(f"{src.name}: no data rows after the header, expected at least one row to predict")
        X, bound = _inputs(lr, table, rows, cancel)
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


def _images(lr: Loaded, run_dir: Path, path, need_y: bool):
    """(scaled images, labels or None, source name, fingerprint) of the run's data or a file."""
    d = lr.cfg.data
    if path is not None and str(path) == "-":
        raise DataError(f"run {run_dir.name} takes images: pass an .npz file whose X holds them, not a CSV stream")
    X, y, name, fp = read_images(dataset=None if path else d.dataset, path=path, params=dict(d.params),
                                 seed=lr.cfg.seed, layout=d.layout, shape=lr.prep.shape, need_y=need_y)
    return lr.prep.transform(X, lr.cfg.training.dtype), y, name, fp


def _evaluate_images(lr: Loaded, run_dir: Path, data_file) -> dict:
    if data_file is None:
        d, recorded = lr.cfg.data, lr.meta.get("data") or {}
        path = d.path
        if path is not None and not Path(path).exists():
            raise DataError(f"{path}: no such file; run {run_dir.name} was trained on it (score another "
                            "file with --data FILE)")
        X, y, name, fp = _images(lr, run_dir, path, True)
        if recorded.get("sha256") and fp.get("sha256") != recorded["sha256"]:
            raise DataError(f"{name}: the images differ from the ones run {run_dir.name} was trained on; "
                            "its test rows cannot be found again: score a file with --data FILE")
        rows = lr.split.get("test", np.zeros(0, np.int64))
        if len(rows) == 0:
            raise DataError(f"{run_dir}: the run has no test split (data.test: 0); pass --data FILE")
        source = f"test split of {name}"
    else:
        X, y, name, _ = _images(lr, run_dir, data_file, True)
        rows, source = np.arange(len(X)), name
    table = label_table(name, y)
    return _scores(lr, run_dir, source, X[rows], _labels(lr, table, "y", rows), rows, table, _NoColumns(), 0)


def _predict_images(lr: Loaded, run_dir: Path, input_file) -> Predictions:
    X, _, name, _ = _images(lr, run_dir, input_file, False)
    if not len(X):
        raise DataError(f"{name}: no images, expected at least one to predict")
    rows = np.arange(len(X))
    return _predictions(lr, label_table(name, np.zeros(len(X))), X, rows, _NoColumns())
