"""What the commands show, built as rich renderables; ``cli.py`` prints them.

rich is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path


def describe(logs: dict) -> str:
    """One epoch's numbers on one line."""
    parts = [f"loss {logs['loss']:.4f}"]
    for key in ("val_loss", "val_accuracy", "val_r2"):
        if key in logs:
            parts.append(f"{key} {logs[key]:.4f}")
    parts.append(f"lr {logs['lr']:.3g}")
    return "  ".join(parts)


def start_lines(summary: dict) -> list[str]:
    """What a run starts from, said before its first batch: the layers a transfer loaded,
    reinitialized and froze, and where a resumed run picks up."""
    lines = []
    resumed = summary.get("resumed")
    transfer = summary.get("transfer")
    if transfer and not resumed:
        parts = [f"loaded {', '.join(transfer['loaded'])}"]
        if transfer.get("reinitialized"):
            parts.append(f"reinitialized {', '.join(transfer['reinitialized'])} (another shape)")
        if transfer.get("frozen"):
            parts.append(f"frozen {', '.join(transfer['frozen'])}")
        lines.append(f"transfer from {transfer['from']}: {'; '.join(parts)}")
    if resumed:
        last, total = resumed[-1], summary.get("epochs")
        of = f" of {total}" if total else ""
        if last.get("batch"):
            at = f"in epoch {last['epoch'] + 1}{of}, after batch {last['batch']}"
        elif total is not None and last["epoch"] >= total:
            at = f"after epoch {last['epoch']}{of}: every epoch is done"
        else:
            at = f"at epoch {last['epoch'] + 1}{of}"
        lines.append(f"resuming {summary.get('dir', '')} {at}")
    return lines


def final_table(summary: dict):
    """Loss and metric on each split at the end of a run (None when there are none)."""
    from rich.table import Table

    final = summary.get("final") or {}
    if not final:
        return None
    metric = metric_name(summary)
    table = Table(title=f"{summary['name']}: {summary['status']}", title_justify="left")
    table.add_column("split")
    table.add_column("loss", justify="right")
    table.add_column(metric, justify="right")
    for split, vals in final.items():
        table.add_row(split, f"{vals['loss']:.4f}", f"{vals[metric]:.4f}")
    return table


def evaluation_tables(result: dict) -> list:
    """The scores of ``nncli evaluate``, and the confusion matrix for a classifier."""
    from rich.table import Table

    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
    tables = [table]
    if "confusion_matrix" in result:
        cm = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
        cm.add_column("")
        for c in result["classes"]:
            cm.add_column(c, justify="right")
        for c, row in zip(result["classes"], result["confusion_matrix"]):
            cm.add_row(c, *map(str, row))
        tables.append(cm)
    return tables


def runs_table(rows: list[dict], directory: Path):
    from rich.table import Table

    table = Table(title=f"{len(rows)} runs in {directory}", title_justify="left")
    for col in ("run", "status", "dataset", "hidden", "optimizer", "lr", "epochs", "val", "test", "time"):
        table.add_column(col, justify="right" if col in ("lr", "epochs", "val", "test", "time") else "left",
                         no_wrap=col != "run")
    for r in rows:
        table.add_row(Path(r["dir"]).name, r.get("status", "?"), str(r.get("dataset", "")), str(r.get("hidden", "")),
                      str(r.get("optimizer", "")), str(r.get("lr", "")), str(r.get("epochs_run", "")),
                      _fmt(val_metric(r)), _fmt(test_metric(r)),
                      f"{r['wall_time']:.1f}s" if r.get("wall_time") else "-")
    return table


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


SORT_KEYS = {
    "dir": lambda r: r.get("dir", ""),
    "name": lambda r: r.get("name") or "",
    "status": lambda r: r.get("status") or "",
    "val": lambda r: val_metric(r) if val_metric(r) is not None else float("-inf"),
    "test": lambda r: test_metric(r) if test_metric(r) is not None else float("-inf"),
    "time": lambda r: r.get("wall_time") or 0.0,
    "lr": lambda r: r.get("lr") or 0.0,
}


def metric_name(r: dict) -> str:
    return "accuracy" if r.get("task") == "classification" else "r2"


def val_metric(r):
    return ((r.get("final") or {}).get("validation") or {}).get(metric_name(r))


def test_metric(r):
    return ((r.get("final") or {}).get("test") or {}).get(metric_name(r))
