"""Data: named datasets and files in, a split and preprocessed ``Dataset`` out.

read (``source``) -> roles and types (``columns``) -> labels and split -> encode (``encode``:
imputation, one-hot, dates) -> polynomial features and scaling (``preprocess``), every fit on
the training rows only. The run keeps the fitted state (pickle-free arrays), the file's
fingerprint and the row numbers of each split, so ``evaluate`` can score exactly the test
rows again. Takes plain values; ``build.py`` unpacks the config. scikit-learn and pyarrow are
imported inside the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nncli.data.columns import DataOptions, assign_roles, decide_types, describe, label_summary
from nncli.data.datasets import infer_task, read_raw  # noqa: F401  (part of the package's API)
from nncli.data.encode import TableEncoder
from nncli.data.files import Background
from nncli.data.labels import encode_labels, label_rows, sample_weights
from nncli.data.names import DATASETS, DTYPES, GENERATORS, TASKS, choice as _choice  # noqa: F401
from nncli.data.preprocess import Preprocessor, block_rows
from nncli.data.source import open_source
from nncli.data.splits import assign_rows
from nncli.data.target import TargetScaler
from nncli.data.worker import run_interruptibly
from nncli.errors import DataError

SPLITS = ("train", "validation", "test")


@dataclass
class Dataset:
    X_train: np.ndarray  # (n_train, n_features_out), preprocessed, cast to dtype
    y_train: np.ndarray  # classification: int64 codes (n,); regression: (n, n_targets) in the data's units
    X_val: np.ndarray  # may have 0 rows when validation == 0
    y_val: np.ndarray
    X_test: np.ndarray  # may have 0 rows when test == 0
    y_test: np.ndarray
    task: str  # "classification" | "regression"
    classes: np.ndarray | None  # sorted original labels (classification only); codes index into it
    feature_names: list[str]  # the input columns, before encoding
    preprocessor: Preprocessor  # fitted on the training split only
    source: str  # dataset name or file path, for summaries
    encoder: TableEncoder | None = None
    target: TargetScaler = field(default_factory=TargetScaler)
    rows: dict = field(default_factory=dict)  # split -> row numbers in the source (0-based)
    sample_weight: np.ndarray | None = None  # per training row, from data.weight
    fingerprint: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # for summary.json
    notes: list[str] = field(default_factory=list)  # one or two lines for the terminal

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted data pipeline and the split, as model.npz arrays."""
        out = dict(self.preprocessor.state_dict())
        if self.encoder is not None:
            out.update(self.encoder.state_dict())
            out["enc.names"] = np.array(self.encoder.names, dtype=str)
        out.update(self.target.state_dict())
        out.update({f"split.{k}": np.asarray(v, np.int64) for k, v in self.rows.items()})
        return out


def import_reader(path) -> None:
    """Import what reading the data needs (pyarrow for CSV and Parquet) now, so that the
    caller can count it as import time rather than as reading."""
    from nncli.data.names import file_type

    import numpy.ma  # noqa: F401  (NumPy imports these on first use: np.unique, the split's RandomState)
    import numpy.random  # noqa: F401

    kind = file_type(path) if path is not None else None
    if kind in ("csv", "parquet"):
        import pyarrow.compute  # noqa: F401
        import pyarrow.csv  # noqa: F401

        import nncli.data.arrowread  # noqa: F401
    if kind == "parquet":
        import pyarrow.parquet  # noqa: F401

        import nncli.data.parquetread  # noqa: F401


def encode_splits(bound, prep: Preprocessor, splits: dict[str, np.ndarray], dtype: str, cancel=None,
                  release: bool = False) -> dict[str, np.ndarray]:
    """Model inputs, (len(rows), n_features_out), of each split's table rows.

    Input column by input column: each column's outputs are written for every split into
    arrays laid out output column by output column, turned row-major at the end one split
    at a time. With ``release`` each table column is given back to the system as soon as it
    is encoded, so the matrices grow as the table shrinks: the peak is about the table, not
    the table plus the matrices. Polynomial features need whole rows: blocks of rows then."""
    if prep.degree > 1:
        return {s: _row_blocks(bound, prep, rows, dtype, cancel) for s, rows in splits.items()}
    splits = {s: np.asarray(rows, dtype=np.int64) for s, rows in splits.items()}
    by_column = {s: np.empty((len(prep.scale), len(rows)), dtype=dtype) for s, rows in splits.items()}
    widths = [len(c.names()) for c in bound.enc.codes]
    longest = max(map(len, splits.values()), default=0)
    size = max((w * min(block_rows(w), longest) for w in widths), default=0)
    scratch, reordered = np.empty(size), np.empty(size)  # reused: fresh memory faults per 4 KB
    plans: dict = {}
    for c, j, width in zip(bound.enc.codes, bound.starts, widths):
        step = block_rows(width)
        for s, rows in splits.items():
            if (s, step) not in plans:
                plans[s, step] = [_in_file_order(rows[i:i + step]) for i in range(0, len(rows), step)]
            for i, (ordered, back) in zip(range(0, len(rows), step), plans[s, step]):
                if cancel is not None and cancel.is_set():
                    raise DataError("interrupted")
                block = scratch[:width * len(ordered)].reshape(width, -1)  # (outputs, rows)
                block[...] = 0.0
                bound.encode_into(c, ordered, block)  # read in file order: forward through memory
                block = np.take(block, back, axis=1, out=reordered[:block.size].reshape(block.shape))
                prep.transform_into(block.T, by_column[s][j:j + width, i:i + len(ordered)].T, own=True,
                                    cols=slice(j, j + width))
        if release:
            bound.table.release(c.name)
    return {s: np.ascontiguousarray(by_column.pop(s).T) for s in list(by_column)}


def _in_file_order(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the rows sorted, where each of ``rows`` is among them): gathering sorted rows reads a
    column forward, several times faster than at random."""
    order = np.argsort(rows, kind="stable")
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return rows[order], back


def _row_blocks(bound, prep: Preprocessor, rows: np.ndarray, dtype: str, cancel=None) -> np.ndarray:
    """encode_splits for one split, a block of rows at a time (every input column at once),
    each block read in file order and put back in the order ``rows`` lists them."""
    out = np.empty((len(rows), len(prep.scale)), dtype=dtype)
    rows = np.asarray(rows, dtype=np.int64)
    step = block_rows(bound.width)
    for i in range(0, len(rows), step):
        if cancel is not None and cancel.is_set():
            raise DataError("interrupted")
        ordered, back = _in_file_order(rows[i:i + step])
        prep.transform_into(bound.block(ordered)[back], out[i:i + step], own=True)
    return out


def check_finite(X: np.ndarray, rows: np.ndarray, table, names: list[str], what: str) -> None:
    """Refuse rows whose inputs overflow after scaling (a finite 1e308 does), naming them."""
    ok = np.isfinite(X).all(axis=1)
    if ok.all():
        return
    bad = np.flatnonzero(~ok)
    j = int(np.flatnonzero(~np.isfinite(X[bad[0]]))[0]) % max(len(names), 1)
    shown = ", ".join(table.row(rows[i]) for i in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    raise DataError(f"{table.source}: {shown}: input '{names[j] if names else j}' is too large for {what} "
                    "(not finite once scaled); expected values of the size it was trained on")


def load_dataset(*, dataset: str | None, path: str | None, label: str | None, params: dict,
                 task: str | None, validation: float, test: float, scaling: str, polynomial: int,
                 subset: int | None, seed: int, dtype: str = "float32", options: DataOptions | None = None,
                 target_scaling: str = "none", images: str | None = None, stop=None,
                 folds: tuple[int, int] | None = None) -> Dataset:
    """Read, choose columns, encode, split (test first, then validation), fit on train.

    ``images``: None for rows of columns, or the axis order (``nhwc`` | ``nchw``) of a 4-D X:
    the samples are then images (``images.py``) and X arrays are (N, C, H, W).
    ``folds=(k, i)``: the rows outside the test split are cut into k folds and fold i is the
    validation split (``validation`` is then not used).
    ``stop()`` (when given) is asked every 50 ms; when it names a signal, loading stops with
    Interrupted.
    """
    dtype = _choice(str(dtype), DTYPES, "training.dtype")
    for key, frac in (("validation", validation), ("test", test)):
        if not 0 <= frac < 1:
            raise DataError(f"data.{key}: expected a fraction in [0, 1), got {frac!r}")
    if validation + test >= 1:
        raise DataError(f"data: validation + test must be < 1, got {validation} + {test}")
    if subset is not None and subset < 2:
        raise DataError(f"data.subset: expected at least 2 samples, got {subset}")
    if images is not None:
        from nncli.data.images import load_images

        return run_interruptibly(lambda cancel: load_images(
            dataset=dataset, path=path, params=params, task=task, validation=validation, test=test,
            scaling=scaling, layout=images, subset=subset, seed=seed, dtype=dtype,
            target_scaling=target_scaling, folds=folds, cancel=cancel), stop)
    if scaling == "max":
        raise DataError("data.scaling: max divides pixels by the largest one, for images; a table's columns "
                        "take standard, minmax or none")
    prep = Preprocessor(scaling, polynomial)
    opts = options or DataOptions(label=label)
    if options is not None and label is not None:
        opts.label = label

    def work(cancel):
        return _load(dataset, path, params, task, validation, test, prep, subset, seed, dtype, opts,
                     target_scaling, cancel, folds)

    return run_interruptibly(work, stop)


def _load(dataset, path, params, task, validation, test, prep, subset, seed, dtype, opts, target_scaling,
          cancel, folds=None) -> Dataset:
    src = open_source(path=path, dataset=dataset, params=params, seed=seed, delimiter=opts.delimiter,
                      missing=opts.missing_values, cancel=cancel)
    hashing = Background(src.fingerprint) if src.path is not None else None
    roles = assign_roles(src.name, src.names, opts, src.label_name)
    kinds = roles.read_kinds(opts)
    table = src.read([c for c in src.names if c in kinds], kinds, max_rows=subset, cancel=cancel)
    if table.n_rows == 0:
        raise DataError(f"{src.name}: no data rows after the header")
    col, labeled = label_rows(table, roles.label)
    n = len(labeled)
    if n < 2:
        raise DataError(f"{src.name}: expected at least 2 samples, got {n}")
    y, classes, task, strat = encode_labels(table, col, labeled, task, dtype)
    rows = assign_rows(labeled, strat, validation=validation, test=test, folds=folds, seed=seed, source=src.name)
    weights = sample_weights(table, roles.weight, rows["train"]) if roles.weight else None
    kept = decide_types(table, roles, opts)
    enc = TableEncoder(kept, impute=opts.impute, impute_categories=opts.impute_categories,
                       indicator=opts.missing_indicator, max_categories=opts.max_categories,
                       min_frequency=opts.min_frequency)
    tr = np.sort(rows["train"])  # statistics do not depend on the order; memory reads in order are faster
    enc.fit(table, tr, defer_clean=True)
    bound = enc.bind(table)  # a column without missing cells never reads its fill value
    step = block_rows(bound.width)
    prep.fit_blocks(lambda: (bound.block(tr[i:i + step]) for i in range(0, len(tr), step)),
                    bound.width, enc.binary)
    # the scaler's pass has the training means of the clean number columns: no second pass
    means = dict(zip(enc.names, prep.mean)) if prep.mean is not None and prep.degree == 1 else None
    enc.set_means(table, tr, means)
    _check_scaling(prep, enc, table, tr, bound)
    notes = describe(table, roles, kept, enc, label_summary(task, classes, y[labeled]), table.n_rows - n)
    # a dataset's fingerprint hashes its columns: taken before the encoder gives them back
    fingerprint = src.fingerprint() if hashing is None else None
    X = encode_splits(bound, prep, {s: rows[s] for s in SPLITS}, dtype, cancel, release=True)
    for split in SPLITS:
        check_finite(X[split], rows[split], table, enc.names, "the network")
    target = TargetScaler(target_scaling if task == "regression" else "none").fit(y[tr])
    info = {"source": src.name, "rows": table.n_rows, "rows_without_label": table.n_rows - n,
            "label": roles.label, "task": task, "inputs": dict(kept), "dropped": dict(roles.dropped),
            "features": len(enc.names)}
    if src.kind in ("csv", "parquet"):
        info["label_column"] = roles.label  # a file's own name for it (arrays have none)
    if roles.id:
        info["id"] = roles.id
    if roles.weight:
        info["weight"] = roles.weight
    if hashing is not None:
        fingerprint = hashing.result()
    info["fingerprint"] = fingerprint
    return Dataset(
        X_train=X["train"], y_train=y[rows["train"]], X_val=X["validation"], y_val=y[rows["validation"]],
        X_test=X["test"], y_test=y[rows["test"]], task=task, classes=classes,
        feature_names=[c for c, _ in kept], preprocessor=prep, source=src.name, encoder=enc, target=target,
        rows=rows, sample_weight=weights, fingerprint=fingerprint, info=info, notes=notes)


def _check_scaling(prep: Preprocessor, enc: TableEncoder, table, rows, bound) -> None:
    """A column whose training values overflow the scaler's sums (1e308) is named."""
    bad = ~(np.isfinite(prep.scale) & np.isfinite(prep.offset))
    if not bad.any():
        return
    j = int(np.flatnonzero(bad)[0]) % max(len(enc.names), 1)
    name = enc.names[j]
    raw = name.split("=")[0].split(".")[0] if name not in table.columns else name
    col = table.columns.get(raw)
    where = ""
    if col is not None and col.kind == "number":
        v = np.abs(np.nan_to_num(col.values[rows], nan=0.0))
        where = f" ({table.row(rows[int(np.argmax(v))])} holds {col.values[rows][int(np.argmax(v))]:g})"
    raise DataError(f"{table.source}: column '{raw}' has values too large to scale{where}; "
                    "expected values below about 1e150 in size")
