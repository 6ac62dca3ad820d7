"""What the commands show, built as rich renderables; ``cli.py`` prints them.

rich is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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


# ---------------------------------------------------------------- epochs as lines
def _num(v: float) -> str:
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4f}"


def epoch_line(logs: dict, epochs: int, width: int = 80) -> str:
    """One finished epoch as a line (as Keras' ``verbose=2``), at most ``width`` characters:
    ``epoch 3/30   loss 0.1234  accuracy 0.9500  val_loss 0.2345  val_accuracy 0.9400  lr 0.001  1.20s``.
    Fields are dropped when the line is too long, least telling first (lr, the training metric,
    the time, ...); the epoch counter always stays."""
    counter = f"epoch {logs['epoch']}/{epochs}".ljust(len(f"epoch {epochs}/{epochs}"))  # columns line up
    fields = [(0, counter)]  # (priority: lower stays longer, text)
    order = {"loss": 3, "accuracy": 5, "r2": 5, "val_loss": 2, "val_accuracy": 1, "val_r2": 1}
    for key, prio in order.items():
        if logs.get(key) is not None:
            fields.append((prio, f"{key} {_num(logs[key])}"))
    if logs.get("lr") is not None:
        fields.append((6, f"lr {logs['lr']:.3g}"))
    if logs.get("seconds") is not None:
        s = logs["seconds"]
        fields.append((4, f"{s:.2f}s" if s < 10 else f"{s:.0f}s"))
    while len(fields) > 1 and len("  ".join(t for _, t in fields)) > width:
        fields.remove(max(fields, key=lambda f: f[0]))
    return "  ".join(t for _, t in fields).rstrip()


def shows_epoch(epoch: int, epochs: int) -> bool:
    """Which epochs (from 1) get a line: all of up to 50, else every k-th so that a run prints
    between about 25 and 50 lines, always with the first and the last."""
    every = 1 if epochs <= 50 else math.ceil(epochs / 40)
    return epoch == 1 or epoch == epochs or epoch % every == 0


# ---------------------------------------------------------------- nncli show
def run_header(run) -> list[str]:
    """What a run is and how it ended, a few short lines: name and directory, status, best epoch."""
    s = run.summary
    status = s.get("status", "unknown") + (f" ({s['reason']})" if s.get("reason") else "")
    epochs = s.get("epochs_run", len(run.history))
    lines = [run.name, f"directory: {run.dir}", f"status: {status}"]
    facts = [f"epochs: {epochs}"]
    if s.get("wall_time") is not None:
        facts.append(f"time: {s['wall_time']:.1f}s")
    best = s.get("best") or {}
    if best.get("epoch"):
        facts.append(f"best epoch: {best['epoch']} ({best.get('monitor', '?')} {_num(best['value'])})")
    lines.append("  ".join(facts))
    if s.get("diagnosis"):
        lines.append(f"diagnosis: {s['diagnosis']}")
    return lines


def history_rows(history: list[dict], best_epoch: int | None, limit: int = 15) -> list[dict]:
    """All rows of a short history; of a long one ``limit`` rows: the first, the best and the
    last epoch, and evenly spaced epochs between."""
    if len(history) <= limit:
        return list(history)
    n = len(history)
    keep = {0, n - 1}
    if best_epoch is not None:
        keep |= {i for i, r in enumerate(history) if r.get("epoch") == best_epoch}
    spaced = limit - len(keep)
    keep |= {round(i * (n - 1) / (spaced + 1)) for i in range(1, spaced + 1)}
    return [history[i] for i in sorted(keep)]


def history_table(history: list[dict], best_epoch: int | None, limit: int = 15):
    """The history as a table (a subset of a long one), the best epoch marked with '*'."""
    from rich.table import Table

    rows = history_rows(history, best_epoch, limit)
    columns = [c for c in ("loss", "accuracy", "r2", "val_loss", "val_accuracy", "val_r2", "lr", "seconds")
               if any(r.get(c) is not None for r in history)]
    caption = f"{len(rows)} of {len(history)} epochs: first, best, last and evenly spaced" \
        if len(rows) < len(history) else None
    table = Table(title="history (* best epoch)", title_justify="left", caption=caption,
                  caption_justify="left")
    table.add_column("epoch", justify="right", no_wrap=True)
    for c in columns:
        table.add_column(c, justify="right", no_wrap=True)
    for r in rows:
        mark = "*" if best_epoch is not None and r.get("epoch") == best_epoch else " "
        cells = []
        for c in columns:
            v = r.get(c)
            cells.append("" if v is None else f"{v:.3g}" if c == "lr" else f"{v:.3f}" if c == "seconds" else _num(v))
        table.add_row(f"{r.get('epoch')}{mark}", *cells)
    return table


def history_chart(history: list[dict], width: int = 80, unicode: bool = True) -> list[str]:
    """The validation loss per epoch (the training loss when there is no validation) as text."""
    from nncli.textplot import LABEL_WIDTH, chart

    key = "val_loss" if any(r.get("val_loss") is not None for r in history) else "loss"
    values = [r.get(key) for r in history]
    return chart(values, f"{key} per epoch", width=max(20, min(width, 80) - LABEL_WIDTH - 1),
                 height=8, unicode=unicode)
