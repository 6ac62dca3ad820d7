"""What the teaching commands show: k-fold scores, gradient checks, model summaries, the
learning-rate range test and learning curves, as rich tables."""

from __future__ import annotations


def _n(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def folds_table(result: dict):
    from rich.table import Table

    metrics = [m for m in ("loss", "accuracy", "r2", "rmse", "mae") if m in result["mean"].get("validation", {})]
    table = Table(title=f"{result['k']}-fold cross-validation (held-out fold / test split)")
    table.add_column("fold")
    for m in metrics:
        table.add_column(f"val {m}", justify="right")
        table.add_column(f"test {m}", justify="right")
    for f in result["folds"]:
        table.add_row(str(f["fold"]), *[_n(f.get(s, {}).get(m)) for m in metrics for s in ("validation", "test")])
    for what in ("mean", "std"):
        table.add_row(what, *[_n(result[what].get(s, {}).get(m)) for m in metrics for s in ("validation", "test")],
                      style="bold")
    return table


def gradcheck_tables(report: dict) -> list:
    from rich.table import Table

    out = []
    for key, title in (("layers", "each layer alone: d sum(R * out) / d input and its parameters"),
                       ("network", "end to end: d loss / d every parameter array and the input")):
        table = Table(title=title)
        sampled = any(r["directions"] for r in report[key])
        columns = ("layer", "array", "entries checked", "max rel error") + (
            ("directions", "rel error along them") if sampled else ()) + ("", "worst entry (backprop vs numeric)")
        for col in columns:
            table.add_column(col, justify="left" if col in ("layer", "array", "") or col.startswith("worst") else "right")
        for r in report[key]:
            w = r["worst"]
            checked = f"{r['size']:,}" if r["checked"] == r["size"] else f"{r['checked']:,} of {r['size']:,}"
            along = (str(r["directions"]), f"{r['direction_rel_error']:.1e}") if r["directions"] else ("-", "-")
            table.add_row(r["layer"], r["param"], checked, f"{r['rel_error']:.1e}", *(along if sampled else ()),
                          ("pass (gradient 0)" if r.get("zero_gradient") else "pass") if r["passed"]
                          else "[red]FAIL[/red]",
                          f"{tuple(w['index'])}: {w['backprop']:.6g} vs {w['numeric']:.6g}")
        out.append(table)
    return out


def summary_table(s: dict):
    from rich.table import Table

    table = Table(title=f"{s['title']}: input {tuple(s['input_shape'])}")
    for col in ("layer", "kind", "output shape", "params", "trainable", "frozen", "MACs/sample"):
        table.add_column(col, justify="left" if col in ("layer", "kind", "output shape") else "right")
    for r in s["layers"]:
        table.add_row(r["name"], r["describe"], str(tuple(r["output_shape"])), _n(r["params"]),
                      _n(r["trainable"]), _n(r["frozen"]), _n(r["macs"]))
    t = s["total"]
    table.add_row("total", "", "", _n(t["params"]), _n(t["trainable"]), _n(t["frozen"]), _n(t["macs"]),
                  style="bold")
    return table


def curve_table(result: dict):
    from rich.table import Table

    table = Table(title="learning curve (J: the loss as trained, without penalties; error: "
                        + ("1 - accuracy)" if result["task"] == "classification" else "1 - R2)"))
    for col in ("fraction", "samples", "J_train", "J_cv", "train error", "cv error"):
        table.add_column(col, justify="right")
    for p in result["points"]:
        table.add_row(f"{p['fraction']:.0%}", str(p["samples"]), _n(p["train"]["loss"]), _n(p["cv"]["loss"]),
                      _n(p["train"]["error"]), _n(p["cv"]["error"]))
    return table
