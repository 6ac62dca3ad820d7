"""What model.npz and checkpoint.npz hold: a file format with a version, not an accident of
class names.

Both files carry ``format`` (an integer). model.npz: ``net.<layer>.<param>`` arrays (layer
names are ``<kind><n>``, the layer's stable kind), the fitted preprocessing (``prep.*``),
``classes`` and a JSON ``meta``. checkpoint.npz: the network, ``opt.*``, ``sched.*``, the
trainer's arrays (``trainer.perm``, ``trainer.best_theta``, ``trainer.best_buf.*``), the
history as a number table and the rest of the trainer's state as JSON in ``trainer.meta``.

Format 1 is nncli 0.1.0 (no ``format`` array): its model files load unchanged (same keys);
its checkpoints cannot be resumed (every random stream now has its own state).
Checkpoint format 3 is format 2 without ``trainer.history``: the history is the first
``epoch`` rows of the run's metrics.csv, which grows by appending (rows reach the file before
the checkpoint that counts them is written). Rewriting the whole history into every
checkpoint would make each epoch cost more the longer the run; a checkpoint written once, at a
stop, still carries its history (format 2).
Model format 3 adds the data pipeline (``enc.*``: how each input column is encoded, see
``nncli/data/encode.py``; ``target.*``: regression target scaling) and the split
(``split.train|validation|test``: row numbers in the data file); meta gains the data file's
fingerprint. Formats 1 and 2 read as numbers-only inputs with unscaled targets.
"""

from __future__ import annotations

import json
import math

import numpy as np

from nncli.atomic import get_str
from nncli.errors import FormatError, RunError

MODEL_FORMAT = 3
CHECKPOINT_FORMAT = 2  # the history inside
CHECKPOINT_FORMAT_APPENDED = 3  # the history in metrics.csv
READS_MODEL = (1, 2, 3)
READS_CHECKPOINT = (2, 3)
_VERSIONS = {1: "nncli 0.1", 2: "nncli 0.2 (early)", 3: "nncli 0.2"}


def file_format(arrays: dict, path) -> int:
    """The format number of a loaded .npz (1 when it has none: nncli 0.1.0)."""
    if "format" not in arrays:
        return 1
    f = np.asarray(arrays["format"])
    if f.shape != () or f.dtype.kind not in "iu":
        raise RunError(f"{path}: corrupt or not an nncli file (format is {f.dtype} {f.shape})")
    return int(f)


def check_format(arrays: dict, path, supported: tuple[int, ...], what: str) -> int:
    fmt = file_format(arrays, path)
    if fmt not in supported:
        by = _VERSIONS.get(fmt, "a newer nncli" if fmt > max(supported) else "an unknown writer")
        hint = ("upgrade nncli to read it" if fmt > max(supported)
                else f"start the run again with nncli train {_run_of(path)}/config.yaml")
        raise FormatError(f"{path}: {what} format {fmt} (written by {by}); this nncli reads format "
                       f"{', '.join(map(str, supported))}: {hint}")
    return fmt


def _run_of(path) -> str:
    from pathlib import Path

    return str(Path(path).parent)


# ---------------------------------------------------------------- model.npz
def _image_shape(v) -> bool:
    """[channels, height, width] of a model that takes images."""
    return isinstance(v, list) and len(v) == 3 and all(_count(x, 1) for x in v)


_META_FIELDS = {
    "task": lambda v: v in ("classification", "regression"),
    "n_in": lambda v: _count(v, 1) or _image_shape(v), "n_out": lambda v: _count(v, 1),
    "loss": lambda v: isinstance(v, str), "output": lambda v: isinstance(v, str),
    "feature_names": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def _count(v, least: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def model_meta(arrays: dict, path) -> dict:
    """The checked ``meta`` of a loaded model.npz. Every field, the classes and every number
    array are checked here, so that a damaged or crafted file is one RunError naming the field
    rather than a crash somewhere in evaluate or predict."""
    def bad(what):
        return RunError(f"{path}: corrupt or not an nncli model ({what})")

    try:
        meta = json.loads(get_str(arrays["meta"]))
    except KeyError:
        raise bad("no meta") from None
    except (RunError, ValueError, RecursionError) as e:
        raise bad(f"meta is not JSON text: {e}") from None
    if not isinstance(meta, dict):
        raise bad(f"meta is a JSON {type(meta).__name__}, expected an object")
    for key, ok in _META_FIELDS.items():
        if key not in meta:
            raise bad(f"meta has no {key}")
        if not ok(meta[key]):
            raise bad(f"meta.{key} is {_short(meta[key])}")
    for key, a in arrays.items():
        if key.startswith(("net.", "prep.")) and a.dtype.kind in "fc" and not np.isfinite(a).all():
            raise bad(f"{key} holds NaN or infinite values")
        if key.startswith("net.") and a.dtype.kind not in "fiu":
            raise bad(f"{key} has dtype {a.dtype}, expected numbers")
    if meta["task"] == "classification":
        classes = arrays.get("classes")
        if classes is None or classes.ndim != 1 or classes.dtype.kind not in "iufUSb":
            raise bad("a classifier needs a 1-d classes array")
        if len(np.unique(classes)) != len(classes) or len(classes) < 2:
            raise bad(f"classes must be at least 2 distinct labels, got {len(classes)} "
                      f"({len(np.unique(classes))} distinct)")
        if meta["n_out"] not in (len(classes), 1) or (meta["n_out"] == 1 and len(classes) != 2):
            raise bad(f"{len(classes)} classes for {meta['n_out']} outputs")
    n_weights = sum(a.size for k, a in arrays.items() if k.startswith("net."))
    n_in = meta["n_in"] if not isinstance(meta["n_in"], list) else 1  # an image: its first layer may be a pool
    if max(n_in, meta["n_out"]) > n_weights:  # the first and last layers hold at least that many
        raise bad(f"meta says {meta['n_in']} inputs and {meta['n_out']} outputs for {n_weights} weights")
    n_features = arrays.get("prep.n_features_in")
    scale = arrays.get("prep.scale")
    if n_features is not None and scale is not None:
        # polynomial features only add columns: the saved width bounds the raw one
        if n_features.shape != () or n_features.dtype.kind not in "iu" or not 1 <= int(n_features) <= scale.size:
            raise bad(f"prep.n_features_in is {_short(n_features.tolist())} for {scale.size} scaled features")
    return meta


def _short(v) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------- checkpoints
def encode_checkpoint(state: dict, extra: dict | None = None,
                      history_columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Trainer.state_dict() -> flat arrays for an .npz (no pickles); ``extra`` arrays are
    stored as they are (the config the run trains).

    With ``history_columns`` (format 3) the history is not stored: it is in metrics.csv, with
    these columns; ``state`` may then lack it (``Trainer.state_dict(history=False)``).
    """
    t = state["trainer"]
    appended = history_columns is not None
    arrays = {"format": np.array(CHECKPOINT_FORMAT_APPENDED if appended else CHECKPOINT_FORMAT), **(extra or {})}
    arrays.update({f"net.{k}": v for k, v in state["net"].items()})
    arrays.update({f"opt.{k}": v for k, v in state["optimizer"].items()})
    arrays.update({f"sched.{k}": v for k, v in state["schedule"].items()})
    if appended:
        columns = list(history_columns)
    else:
        history = state["history"]
        columns = list(history[0]) if history else []
        # the history as a number table: serialising it as text would cost more than an epoch
        arrays["trainer.history"] = np.array([[row.get(c, np.nan) for c in columns] for row in history],
                                             np.float64).reshape(len(history), len(columns))
    meta = {k: t[k] for k in ("epoch", "batch", "partial", "wait", "stop_reason", "rng", "layer_rng")}
    meta["history_columns"] = columns
    meta["best"] = None
    if t["perm"] is not None:
        arrays["trainer.perm"] = t["perm"]
    if t["best"] is not None:
        meta["best"] = {"value": t["best"]["value"], "epoch": t["best"]["epoch"]}
        arrays["trainer.best_theta"] = t["best"]["theta"]
        arrays.update({f"trainer.best_buf.{k}": v for k, v in t["best"]["buffers"].items()})
    arrays["trainer.meta"] = np.array(json.dumps(meta))
    return arrays


def _is_int(v, least: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_META_CHECKS = {
    "epoch": _is_int, "batch": _is_int, "wait": _is_int,
    "partial": lambda v: (isinstance(v, list) and len(v) == 3 and _is_number(v[0]) and _is_number(v[1])
                          and _is_int(v[2])),
    "stop_reason": lambda v: v is None or isinstance(v, str),
    "rng": lambda v: isinstance(v, dict), "layer_rng": lambda v: isinstance(v, dict) and all(
        isinstance(x, dict) for x in v.values()),
    "history_columns": lambda v: (isinstance(v, list) and all(isinstance(c, str) for c in v)
                                  and len(set(v)) == len(v)),
    "best": lambda v: v is None or (isinstance(v, dict) and _is_number(v.get("value"))
                                    and _is_int(v.get("epoch"), 1)),
}


def decode_checkpoint(arrays: dict, path, metrics_rows: list[dict] | None = None) -> dict:
    """Flat arrays -> the nested state Trainer.load_state_dict takes.

    Every field is checked here (``check_against`` then checks it fits the model being
    resumed); bad contents raise ValueError, so the run store falls back to the previous
    checkpoint. The config saved with it is under ``saved``. A format 3 checkpoint takes its
    history from ``metrics_rows`` (the run's metrics.csv, read).
    """
    fmt = check_format(arrays, path, READS_CHECKPOINT, "checkpoint")

    def part(prefix):
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    if "trainer.meta" not in arrays or ("trainer.history" not in arrays) == (fmt == CHECKPOINT_FORMAT):
        raise ValueError("no trainer.meta or trainer.history" if fmt == CHECKPOINT_FORMAT
                         else "no trainer.meta, or a trainer.history its format does not have")
    try:
        meta = json.loads(get_str(arrays["trainer.meta"]))
    except (RunError, RecursionError) as e:
        raise ValueError(f"trainer.meta: {e}") from None
    if not isinstance(meta, dict):
        raise ValueError("trainer.meta is not a JSON object")
    for key, ok in _META_CHECKS.items():
        if not ok(meta.get(key)):
            raise ValueError(f"trainer.meta: {key} is {_short(meta.get(key))}")
    for prefix in ("net.", "opt.", "sched.", "trainer.best_buf."):
        for key, a in part(prefix).items():
            if a.dtype.kind not in "biuf":
                raise ValueError(f"{prefix}{key} has dtype {a.dtype}, expected numbers")
            if prefix in ("net.", "trainer.best_buf.") and not np.isfinite(a).all():
                raise ValueError(f"{prefix}{key} holds NaN or infinite values")
    columns = meta["history_columns"]
    if fmt == CHECKPOINT_FORMAT:
        table = arrays["trainer.history"]
    else:
        table = _metrics_table(metrics_rows, columns, meta["epoch"])
    if table.dtype.kind not in "iuf" or table.ndim != 2 or table.shape[1] != len(columns):
        raise ValueError(f"trainer.history has shape {table.shape} for {len(columns)} columns")
    if len(table) != meta["epoch"]:
        raise ValueError(f"trainer.history has {len(table)} rows for {meta['epoch']} epochs done")
    table = table.astype(np.float64)
    if "epoch" in columns and not np.array_equal(table[:, columns.index("epoch")], np.arange(1, len(table) + 1)):
        raise ValueError("trainer.history: the epoch column does not count 1, 2, ...")
    history = [{c: int(v) if c == "epoch" else float(v) for c, v in zip(columns, row)} for row in table]
    perm = arrays.get("trainer.perm")
    if perm is not None and (perm.ndim != 1 or perm.dtype.kind not in "iu"
                             or not np.array_equal(np.sort(perm), np.arange(len(perm)))):
        raise ValueError(f"trainer.perm is not a permutation (shape {perm.shape}, dtype {perm.dtype})")
    best = meta["best"]
    if best is not None:
        theta = arrays.get("trainer.best_theta")
        if theta is None or theta.ndim != 1 or theta.dtype.kind != "f" or not np.isfinite(theta).all():
            raise ValueError("trainer.best_theta is missing or not a vector of finite numbers")
        best = {"value": float(best["value"]), "epoch": best["epoch"], "theta": theta,
                "buffers": part("trainer.best_buf.")}
    trainer = {**{k: meta[k] for k in ("epoch", "batch", "partial", "wait", "rng", "layer_rng")},
               "stop_reason": meta["stop_reason"], "perm": perm, "best": best}
    saved = {k: arrays[k] for k in ("config", "config_sha256") if k in arrays}
    return {"net": part("net."), "optimizer": part("opt."), "schedule": part("sched."),
            "trainer": trainer, "history": history, "saved": saved}


def _metrics_table(rows: list[dict] | None, columns: list[str], epochs: int) -> np.ndarray:
    """The first ``epochs`` rows of metrics.csv as a number table of ``columns`` (an empty
    cell is NaN, as a key missing from a history row)."""
    if rows is None or len(rows) < epochs:
        raise ValueError(f"metrics.csv has {0 if rows is None else len(rows)} rows for {epochs} epochs done")
    if epochs and any(c not in rows[0] for c in columns):
        raise ValueError(f"metrics.csv lacks the history columns {[c for c in columns if c not in rows[0]]}")
    try:
        return np.array([[np.nan if r.get(c) is None else r[c] for c in columns] for r in rows[:epochs]],
                        np.float64).reshape(epochs, len(columns))
    except (TypeError, ValueError) as e:
        raise ValueError(f"metrics.csv: a history value is not a number ({e})") from None


def check_against(state: dict, reference: dict, n_rows: int, n_batches: int, shuffle: bool,
                  n_params: int) -> None:
    """ValueError unless a decoded checkpoint fits the model and data being resumed.

    ``reference`` is the state_dict() of the freshly built trainer: the same arrays with the
    same shapes, random streams of the same kinds, best weights of ``n_params`` values; and a
    position inside ``n_rows`` training rows in ``n_batches`` batches.
    """
    for part in ("net", "optimizer", "schedule"):
        got, want = state[part], reference[part]
        if set(got) != set(want):
            diff = sorted(set(got) ^ set(want))
            raise ValueError(f"{part} arrays differ from the model's: {', '.join(diff[:4])}")
        for key, a in want.items():
            if got[key].shape != np.shape(a):
                raise ValueError(f"{part}.{key} has shape {got[key].shape}, the model's is {np.shape(a)}")
    t, ref = state["trainer"], reference["trainer"]
    _check_rng(t["rng"], ref["rng"], "rng")
    if set(t["layer_rng"]) != set(ref["layer_rng"]):
        raise ValueError("layer_rng names other layers than the model's random ones")
    for name, s in t["layer_rng"].items():
        _check_rng(s, ref["layer_rng"][name], f"layer_rng.{name}")
    if t["batch"] > n_batches or t["partial"][2] > n_rows:
        raise ValueError(f"position batch {t['batch']} ({t['partial'][2]} samples) is past the "
                         f"{n_batches} batches of {n_rows} training rows")
    if t["batch"] and shuffle and (t["perm"] is None or len(t["perm"]) != n_rows):
        raise ValueError(f"the saved batch order is not a permutation of the {n_rows} training rows")
    if t["best"] is not None and t["best"]["theta"].shape != (n_params,):
        raise ValueError(f"trainer.best_theta has {t['best']['theta'].size} values, the model {n_params}")
    for key, a in (t["best"] or {}).get("buffers", {}).items():
        if key not in reference["net"] or a.shape != np.shape(reference["net"][key]):
            raise ValueError(f"trainer.best_buf.{key} does not match a buffer of the model")


def _check_rng(state, like: dict, what: str) -> None:
    """A bit-generator state that a generator of the same kind accepts."""
    kind = like.get("bit_generator") if isinstance(like, dict) else None
    if not isinstance(state, dict) or state.get("bit_generator") != kind or not hasattr(np.random, str(kind)):
        raise ValueError(f"{what}: not a {kind} state")
    try:
        getattr(np.random, kind)().state = state
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise ValueError(f"{what}: {e}") from None
