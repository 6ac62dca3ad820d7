"""What model.npz and checkpoint.npz hold: a file format with a version, not an accident of
class names.

Both files carry ``format`` (an integer). model.npz: ``net.<layer>.<param>`` arrays (layer
names are ``<kind><n>``, the layer's stable kind), the fitted preprocessing (``prep.*``),
``classes`` and a JSON ``meta``. checkpoint.npz: the network, ``opt.*``, ``sched.*``, the
trainer's arrays (``trainer.perm``, ``trainer.best_theta``, ``trainer.best_buf.*``), the
history as a number table and the rest of the trainer's state as JSON in ``trainer.meta``.

Format 1 is nncli 0.1.0 (no ``format`` array): its model files load unchanged (same keys);
its checkpoints cannot be resumed (every random stream now has its own state).
Model format 3 adds the data pipeline (``enc.*``: how each input column is encoded, see
``nncli/data/encode.py``; ``target.*``: regression target scaling) and the split
(``split.train|validation|test``: row numbers in the data file); meta gains the data file's
fingerprint. Formats 1 and 2 read as numbers-only inputs with unscaled targets.
"""

from __future__ import annotations

import json

import numpy as np

from nncli.errors import FormatError, RunError

MODEL_FORMAT = 3
CHECKPOINT_FORMAT = 2
READS_MODEL = (1, 2, 3)
READS_CHECKPOINT = (2,)
_VERSIONS = {1: "nncli 0.1", 2: "nncli 0.2", 3: "nncli 0.3"}


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


# ---------------------------------------------------------------- checkpoints
def encode_checkpoint(state: dict) -> dict[str, np.ndarray]:
    """Trainer.state_dict() -> flat arrays for an .npz (no pickles)."""
    t = state["trainer"]
    arrays = {"format": np.array(CHECKPOINT_FORMAT)}
    arrays.update({f"net.{k}": v for k, v in state["net"].items()})
    arrays.update({f"opt.{k}": v for k, v in state["optimizer"].items()})
    arrays.update({f"sched.{k}": v for k, v in state["schedule"].items()})
    history = state["history"]
    columns = list(history[0]) if history else []
    # the history as a number table: serialising it as text every epoch would cost more than
    # the epoch itself on small data
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


def decode_checkpoint(arrays: dict, path) -> dict:
    """Flat arrays -> the nested state Trainer.load_state_dict takes; ValueError on bad contents."""
    check_format(arrays, path, READS_CHECKPOINT, "checkpoint")

    def part(prefix):
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    meta = json.loads(str(np.asarray(arrays["trainer.meta"])[()]))
    if not isinstance(meta, dict):
        raise ValueError("trainer.meta is not a JSON object")
    for key, kind in (("epoch", int), ("batch", int), ("wait", int), ("partial", list),
                      ("rng", dict), ("layer_rng", dict), ("history_columns", list)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ValueError(f"trainer.meta: {key} is {meta.get(key)!r}, expected {kind.__name__}")
    if meta["epoch"] < 0 or meta["batch"] < 0 or meta["wait"] < 0:
        raise ValueError("trainer.meta: negative epoch, batch or wait")
    table = np.asarray(arrays["trainer.history"], np.float64)
    columns = meta["history_columns"]
    if table.ndim != 2 or table.shape[1] != len(columns):
        raise ValueError(f"trainer.history has shape {table.shape} for {len(columns)} columns")
    history = [{c: int(v) if c == "epoch" else float(v) for c, v in zip(columns, row)} for row in table]
    best = meta.get("best")
    if best is not None:
        best = {"value": float(best["value"]), "epoch": int(best["epoch"]),
                "theta": arrays["trainer.best_theta"], "buffers": part("trainer.best_buf.")}
    trainer = {**{k: meta[k] for k in ("epoch", "batch", "partial", "wait", "rng", "layer_rng")},
               "stop_reason": meta.get("stop_reason"), "perm": arrays.get("trainer.perm"), "best": best}
    return {"net": part("net."), "optimizer": part("opt."), "schedule": part("sched."),
            "trainer": trainer, "history": history}
