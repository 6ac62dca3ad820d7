"""summary.json: the run's description and results, written atomically and read back with the
types nncli writes (a hand-edited or damaged value never reaches a reader as the wrong type)."""

from __future__ import annotations

import json
from pathlib import Path

from nncli.atomic import write_json
from nncli.errors import RunError

SUMMARY_FILE = "summary.json"


def write_summary(run_dir, summary: dict) -> None:
    write_json(Path(run_dir) / SUMMARY_FILE, summary)


MAX_SUMMARY_BYTES = 16 * 1024 * 1024  # a summary is a few KB; a long run's resumes add little


def read_summary(run_dir) -> dict:
    """summary.json as a dict whose known keys have the types nncli writes (see ``clean_summary``)."""
    path = Path(run_dir) / SUMMARY_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SUMMARY_BYTES + 1)
        if len(raw) > MAX_SUMMARY_BYTES:
            raise ValueError(f"more than {MAX_SUMMARY_BYTES} bytes")
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError as e:
        raise RunError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RunError(f"{path}: corrupt or not an nncli file ({e})") from e
    if not isinstance(data, dict):
        raise RunError(f"{path}: corrupt or not an nncli file (expected a JSON object)")
    return clean_summary(data)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dict_of(check):
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and check(x) for k, x in v.items())


def _list_of(check):
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


def _str_or_none(v) -> bool:
    return v is None or isinstance(v, str)


# what nncli writes under each key; a value of another type (a hand edit, a damaged file) is
# dropped on reading, so that every reader can rely on these types
_SUMMARY_TYPES = {
    "name": lambda v: isinstance(v, str), "dir": lambda v: isinstance(v, str),
    "status": lambda v: isinstance(v, str), "reason": _str_or_none,
    "dataset": lambda v: isinstance(v, str), "task": lambda v: isinstance(v, str),
    "seed": _int, "hidden": _list_of(_int),
    "activation": lambda v: isinstance(v, str) or _list_of(lambda x: isinstance(x, str))(v),
    "optimizer": lambda v: isinstance(v, str), "lr": _number,
    "batch_size": lambda v: _int(v) or v == "full", "epochs": _int,
    "started": lambda v: isinstance(v, str), "command": lambda v: isinstance(v, str),
    "versions": _dict_of(lambda x: isinstance(x, str)), "n_params": _int,
    "samples": _dict_of(_int), "transfer": lambda v: isinstance(v, dict),
    "resumed": _list_of(lambda x: isinstance(x, dict)), "resumable": lambda v: isinstance(v, bool),
    "epochs_run": _int, "final": _dict_of(_dict_of(lambda x: x is None or _number(x))),
    "best": lambda v: v is None or _dict_of(lambda x: x is None or _number(x) or isinstance(x, str))(v),
    "diagnosis": _str_or_none, "history_last": lambda v: v is None or _dict_of(lambda x: x is None or _number(x))(v),
    "wall_time": _number, "segments": _list_of(_dict_of(lambda x: x is None or _number(x) or isinstance(x, str))),
    "timings": _dict_of(_number), "diverged_at": _dict_of(_int),
    "process": _dict_of(lambda x: _int(x) or isinstance(x, str)),
    "verdict": lambda v: v is None or isinstance(v, dict), "fold": _dict_of(_int),
    "optimizer_switch": _dict_of(_number),
}


def clean_summary(data: dict) -> dict:
    """``data`` without the known keys whose values have the wrong type (listed under
    ``damaged``), so that ``nncli runs`` and ``--resume`` never trip over a hand-edited file."""
    out, damaged = {}, []
    for key, value in data.items():
        check = _SUMMARY_TYPES.get(key)
        if check is None or check(value):
            out[key] = value
        else:
            damaged.append(key)
    if damaged:
        out["damaged"] = damaged
    return out
