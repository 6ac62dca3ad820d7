"""``nncli summary``: Keras's ``model.summary()`` for a config or a run, from the layer
contract (``describe()``, ``param_shapes()``, ``macs()``) alone, so any layer kind shows."""

from __future__ import annotations

import math
from pathlib import Path

from nncli import runs
from nncli.build import build, load_data
from nncli.config import Config


def describe_network(net, title: str) -> dict:
    """One row per layer (name, description, output shape, parameters trainable and frozen,
    multiply-adds per sample) and the totals."""
    rows = []
    for i, (name, layer) in enumerate(zip(net.names, net.layers)):
        n = sum(math.prod(s) for s in layer.param_shapes().values())
        rows.append({"name": name, "kind": layer.kind, "describe": layer.describe(),
                     "output_shape": list(net.shapes[i + 1]), "params": n,
                     "trainable": 0 if layer.frozen else n, "frozen": n if layer.frozen else 0,
                     "macs": int(layer.macs())})
    total = {k: sum(r[k] for r in rows) for k in ("params", "trainable", "frozen", "macs")}
    return {"title": title, "input_shape": list(net.input_shape), "layers": rows, "total": total,
            "dtype": str(net.dtype)}


def summarize_config(cfg: Config, runs_dir="runs") -> dict:
    """The network the config builds on its data (the input width needs the data), with what a
    transfer would load and freeze."""
    ds = load_data(cfg)
    parts = build(cfg, ds, runs_dir=runs_dir)
    out = describe_network(parts.net, f"config {cfg.name}")
    out["weights"] = _weights(parts.transfer, None)
    return out


def summarize_run(run: str, runs_dir="runs") -> dict:
    """A saved run's network, with its freeze state and where its weights came from."""
    from nncli.savedrun import load_run

    run_dir, loaded = load_run(run, runs_dir)
    summary = _read_summary(run_dir)
    transfer = summary.get("transfer") or {}
    frozen = set(transfer.get("frozen", []))
    for name, layer in zip(loaded.net.names, loaded.net.layers):
        layer.frozen = name in frozen
    out = describe_network(loaded.net, f"run {run_dir.name}")
    out["weights"] = _weights(transfer, run_dir)
    out["status"] = summary.get("status")
    return out


def _weights(transfer: dict, run_dir: Path | None) -> dict:
    own = str(run_dir / runs.MODEL_FILE) if run_dir is not None else None
    if not transfer:
        return {"file": own, "init": "trained from scratch" if own else "fresh initialization"}
    return {"file": own, "init": f"transferred from {transfer['from']}", "loaded": transfer.get("loaded", []),
            "reinitialized": transfer.get("reinitialized", []), "frozen": transfer.get("frozen", [])}


def _read_summary(run_dir: Path) -> dict:
    try:
        return runs.read_summary(run_dir)
    except Exception:  # noqa: BLE001  (a damaged summary.json still leaves the weights to describe)
        return {}
