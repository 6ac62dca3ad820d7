"""What `nncli runs` lists: the runs and sweeps in a runs directory, or the trials of one
sweep, as plain rows; filtered (``--filter 'val>0.9'``) and sorted.

Scores are never ranked across metrics: sorting by ``val`` or ``test`` ranks classification
runs by accuracy and regression runs by R^2, each group best first, and a table shows the two
metrics in columns of their own.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from pathlib import Path
from typing import Any

import yaml

from nncli import runs
from nncli.errors import RunError, UsageError
from nncli.paths import check_path
from nncli.sweep import manifest

METRIC = {"classification": "accuracy", "regression": "r2"}
# row keys a filter or sort may name, beside dotted config keys and a sweep's swept keys
FIELDS = ("run", "name", "status", "dataset", "task", "hidden", "activation", "optimizer", "lr",
          "batch_size", "seed", "epochs", "val", "test", "time", "trial")
SORT_KEYS = ("dir", "name", "status", "val", "test", "time", "lr", "epochs", "trial")
BEST_FIRST = ("val", "test")


def _check_root(root: Path) -> None:
    if not root.exists():
        raise RunError(f"{root}: no such runs directory (train a run first, or point --runs-dir at one)")
    if not root.is_dir():
        raise RunError(f"{root}: is a file, not a runs directory")


def run_rows(root: Path) -> list[dict]:
    """One row per run directory in root, and one per sweep (its best trial's scores)."""
    root = Path(check_path(root, "runs directory"))
    _check_root(root)
    rows = []
    for p in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name):
        # a run's status is what its lock says (running, dead) over what its summary last said
        rows.append(_sweep_row(p) if manifest.is_sweep(p) else _row(p, runs.run_row(p)))
    return rows


def _row(run_dir: Path, summary: dict) -> dict:
    row = {"dir": str(run_dir), **{k: v for k, v in summary.items() if k != "dir"}}
    row["run"] = run_dir.name
    row.update(_scores(summary))
    return row


def _scores(summary: dict) -> dict:
    metric = METRIC.get(summary.get("task"))
    final = summary.get("final") or {}
    out = {"metric": metric, "time": summary.get("wall_time"), "epochs": summary.get("epochs_run")}
    for split, name in (("validation", "val"), ("test", "test")):
        value = (final.get(split) or {}).get(metric) if metric else None
        out[name] = float(value) if isinstance(value, (int, float)) else None
    return out


def _sweep_row(sweep_dir: Path) -> dict:
    try:
        data = manifest.read(sweep_dir)
    except RunError:
        return {"dir": str(sweep_dir), "run": sweep_dir.name, "kind": "sweep", "status": "unknown"}
    trials = data["trials"]
    done = sum(t.get("status") == "finished" for t in trials)
    row = {"dir": str(sweep_dir), "run": sweep_dir.name, "name": data.get("name"), "kind": "sweep",
           "status": f"sweep {done}/{len(trials)}", "trials": len(trials), "best": data.get("best")}
    best = next((t for t in trials if t["id"] == data.get("best")), None)
    if best is not None:
        try:
            summary = runs.read_summary(sweep_dir / best["run_dir"])
        except RunError:
            summary = {}
        row.update({k: summary.get(k) for k in ("task", "dataset", "hidden", "optimizer", "lr")})
        row.update(_scores(summary))
        row["epochs"], row["time"] = None, sum(t.get("wall_time") or 0 for t in trials)
    return row


def trial_rows(sweep_dir: Path) -> tuple[list[dict], dict]:
    """(one row per trial, the manifest) of a sweep; a trial's swept values are row keys too."""
    data = manifest.read(sweep_dir)
    rows = []
    for t in data["trials"]:
        run_dir = sweep_dir / t["run_dir"]
        row = _row(run_dir, runs.run_row(run_dir))
        row.update(trial=t["id"], label=t["label"], params=t["params"], status=t["status"],
                   reason=t.get("reason"), score=t.get("score"), rung=t.get("rung"), sweep=data["name"])
        row.update(t["params"])
        rows.append(row)
    return rows, data


# ---------------------------------------------------------------- filtering
_FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|>=|<=|==|=|>|<|~)\s*(.*?)\s*$", re.S)
_OPS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
        "<": operator.lt, "<=": operator.le}


def parse_filter(text: str, known: list[str]) -> tuple[str, str, Any]:
    m = _FILTER.match(text)
    if not m:
        raise UsageError(f"--filter {text!r}: expected KEY OP VALUE with OP one of = != < <= > >= ~, "
                         "e.g. status=finished, 'val>0.9', optimizer.lr=0.01, name~digits")
    key, op, raw = m.groups()
    if key not in known and "." not in key:
        close = difflib.get_close_matches(key, known, n=1)
        raise UsageError(f"--filter {text!r}: unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                         + f"; expected one of {', '.join(known)} or a dotted config key such as optimizer.lr")
    if "." in key and key not in known:
        _check_config_key(key, text)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key, op, raw if op == "~" else value


def _check_config_key(key: str, text: str) -> None:
    from nncli.config import Config
    from nncli.config.validate import _all_keys

    keys = [".".join(p) for p in _all_keys(Config)]
    if key not in keys:
        close = difflib.get_close_matches(key, keys, n=1)
        raise UsageError(f"--filter {text!r}: unknown config key '{key}'"
                         + (f" (did you mean '{close[0]}'?)" if close else ""))


def filter_rows(rows: list[dict], filters: list[str], extra_keys=()) -> list[dict]:
    known = [*FIELDS, *extra_keys]
    tests = [parse_filter(f, known) for f in filters]
    return [r for r in rows if all(_matches(r, *t) for t in tests)]


def _matches(row: dict, key: str, op: str, value: Any) -> bool:
    have = _lookup(row, key)
    if op == "~":
        return have is not None and str(value).lower() in _text(have).lower()
    if have is None:
        return op == "!=" and value is not None
    if isinstance(have, (int, float)) and not isinstance(have, bool) and isinstance(value, (int, float)):
        if op in ("=", "==", "!="):
            same = math.isclose(have, value, rel_tol=1e-9, abs_tol=0.0)
            return same if op != "!=" else not same
        return _OPS[op](have, value)
    if op in ("=", "==", "!="):
        same = have == value or _text(have) == str(value)
        return same if op != "!=" else not same
    try:
        return _OPS[op](have, value)
    except TypeError:
        return False


def _lookup(row: dict, key: str):
    if key in row:
        return row[key]
    if "." not in key:
        return None
    if "_config" not in row:
        row["_config"] = _read_config(Path(row["dir"]))
    node: Any = row["_config"]
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _read_config(run_dir: Path) -> dict:
    path = run_dir / runs.CONFIG_FILE
    if not path.is_file():
        base = run_dir / manifest.BASE_FILE
        path = base if base.is_file() else path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value) -> str:
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


# ---------------------------------------------------------------- sorting
def sort_rows(rows: list[dict], key: str, descending: bool | None = None, extra_keys=(),
              higher_is_better: bool = True) -> list[dict]:
    """Sorted by ``key``, rows without it last. Scores (val, test, a sweep's score) come best
    first, ranked within their metric: every accuracy row, then every R^2 row; ``descending
    False`` puts the worst first. Other keys ascend unless ``descending``."""
    known = [*SORT_KEYS, *extra_keys]
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"--sort: expected one of {', '.join(known)}, got '{key}'{hint}")
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    if key in BEST_FIRST or key == "score":
        groups = sorted({str(r.get("metric")) for r in present})
        worst_first = descending is False

        def rank(r):
            good = r[key] if higher_is_better else -r[key]
            return (groups.index(str(r.get("metric"))), good if worst_first else -good)
        return sorted(present, key=rank) + missing
    return sorted(present, key=lambda r: _orderable(r[key]), reverse=bool(descending)) + missing


def _orderable(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, _text(value))
