"""What the commands show, built as rich renderables; ``cli.py`` prints them.

rich is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass


def describe(logs: dict) -> str:
    """One epoch's numbers on one line."""
    parts = [f"loss {logs['loss']:.4f}"]
    for key in ("val_loss", "val_accuracy", "val_r2"):
        if key in logs:
            parts.append(f"{key} {logs[key]:.4f}")
    parts.append(f"lr {logs['lr']:.3g}")
    return "  ".join(parts)


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


# ---------------------------------------------------------------- nncli runs
@dataclass
class Column:
    """A column of ``nncli runs``: its header, the row key it shows, and how long it stays
    when the terminal is narrow (columns with a larger ``keep`` go first; 0 never goes)."""

    header: str
    key: str
    right: bool = False
    keep: int = 9
    score: bool = False


def _cell(value, score: bool = False) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}" if score else f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ",".join(_cell(v) for v in value) + "]"
    return str(value)


def _time(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 600 else f"{seconds / 60:.0f}m"


def _score_columns(rows: list[dict], keep: int) -> list[Column]:
    """val and test scores, one pair of columns per metric present: accuracy and R^2 never share one."""
    metrics = [m for m in ("accuracy", "r2") if any(r.get("metric") == m for r in rows)] or ["accuracy"]
    short = {"accuracy": "acc", "r2": "r2"}
    out = []
    for split, k in (("val", keep), ("test", keep + 1)):
        for m in metrics:
            for r in rows:
                r[f"{split}:{m}"] = r.get(split) if r.get("metric") == m else None
            out.append(Column(f"{split} {short[m]}", f"{split}:{m}", right=True, keep=k, score=True))
    return out


def run_columns(rows: list[dict]) -> list[Column]:
    for r in rows:
        r["_time"] = _time(r.get("time"))
    return [Column("run", "run", keep=0), Column("status", "status", keep=1),
            Column("dataset", "dataset", keep=9), Column("hidden", "hidden", keep=6),
            Column("optimizer", "optimizer", keep=8), Column("lr", "lr", right=True, keep=5),
            Column("epochs", "epochs", right=True, keep=7), *_score_columns(rows, 2),
            Column("time", "_time", right=True, keep=4)]


def trial_columns(rows: list[dict], swept: dict[str, str], metric: str | None, rungs: bool) -> list[Column]:
    """A sweep's trials: the swept keys (by their short names) as columns."""
    for r in rows:
        r["_time"] = _time(r.get("time"))
    cols = [Column("trial", "trial", keep=0)]
    cols += [Column(short, key, right=True, keep=2) for key, short in swept.items()]
    cols.append(Column("status", "status", keep=1))
    if rungs:
        cols.append(Column("rung", "_rung", right=True, keep=6))
        for r in rows:
            r["_rung"] = None if r.get("rung") is None else r["rung"] + 1
    cols.append(Column("epochs", "epochs", right=True, keep=5))
    if metric and metric.endswith("loss"):
        cols.append(Column(metric.replace("_", " "), "score", right=True, keep=2, score=True))
    cols += _score_columns(rows, 3)
    cols.append(Column("time", "_time", right=True, keep=7))
    cols.append(Column("run", "run", keep=8))
    return cols


def _cells(columns: list[Column], rows: list[dict]) -> list[list[str]]:
    return [[_cell(r.get(c.key), c.score) for c in columns] for r in rows]


def plain_table(columns: list[Column], rows: list[dict]) -> str:
    """Every column in full, aligned with spaces: for pipes, files and awk."""
    cells = [[c.header for c in columns], *_cells(columns, rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for row in cells:
        parts = [v.rjust(w) if c.right else v.ljust(w) for v, w, c in zip(row, widths, columns)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


def fitted_table(columns: list[Column], rows: list[dict], title: str, console):
    """A rich table that fits the terminal: the columns people need least are left out first,
    never the run's (or trial's) name, and no cell is cut short."""
    from rich import box
    from rich.table import Table

    def build(cols):
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                      padding=(0, 1), collapse_padding=True)
        for c in cols:
            table.add_column(c.header, justify="right" if c.right else "left", no_wrap=True,
                             overflow="fold" if c.keep == 0 else "ellipsis")
        for row in _cells(cols, rows):
            table.add_row(*row)
        return table

    from rich.measure import Measurement

    wide = console.options.update_width(10_000)
    cols = list(columns)
    while True:
        table = build(cols)
        droppable = [c for c in cols if c.keep > 0]
        if Measurement.get(console, wide, table).maximum <= console.width or not droppable:
            return table
        cols.remove(max(droppable, key=lambda c: (c.keep, cols.index(c))))


def metric_name(r: dict) -> str:
    return "accuracy" if r.get("task") == "classification" else "r2"

