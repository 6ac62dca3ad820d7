"""``nncli report``: one self-contained HTML page comparing runs.

The page holds a table of the config keys that differ between the runs and their final scores
(click a header to sort: a few lines of inline JavaScript), the runs' learning curves overlaid,
and each run's confusion matrix (classification) or predicted-vs-actual and residuals
(regression). Pictures are inline base64 PNG, the style sheet and the script are inline: the
file refers to nothing outside itself, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from nncli import __version__, canvas, figures, plots, rundata, runs
from nncli.errors import NncliError

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1a1a1a; background: #fff; margin: 0 auto; max-width: 1240px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta, .hint { color: #555; margin: 0 0 8px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th { background: #f3f5f8; cursor: pointer; user-select: none; vertical-align: bottom; white-space: normal; }
th:hover { background: #e4e9f0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 11px; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 11px; }
td.text, th.text { text-align: left; }
td.long { white-space: normal; min-width: 16em; max-width: 28em; }
tbody tr:nth-child(even) { background: #fafafa; }
tbody tr:hover { background: #eef4fb; }
figure { margin: 8px 0 24px; }
figcaption { color: #333; margin-bottom: 6px; font-size: 14px; }
img { max-width: 100%; height: auto; display: block; border: 1px solid #eee; }
code { font-size: 13px; }
"""

# click a header to sort by that column; numbers as numbers, empty cells always last
SCRIPT = """
(function () {
  var table = document.getElementById("runs");
  if (!table) { return; }
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent : v;
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[col]), y = key(b.cells[col]);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var nx = Number(x), ny = Number(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y, undefined, {numeric: true}) : nx - ny;
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""


def write_report(items: list[str], output: Path, runs_dir: str | Path = "runs",
                 workers: int | None = None) -> plots.Result:
    """Write the report for the runs ``items`` select (see ``rundata.select_runs``) to ``output``."""
    canvas.require_matplotlib()
    run_list = [rundata.read_run(d) for d in rundata.select_runs(items, runs_dir)]
    result = plots.Result()
    curves = []
    groups = {}
    for run in run_list:
        if run.history:
            groups.setdefault(run.task or "unknown", []).append(run)
    for task, group in groups.items():
        fig = figures.learning_curves(group, rundata.labels(group) if len(group) > 1 else None)
        curves.append((task, _png(fig)))
    predictions = []
    for pictures, notes in plots.map_runs(_prediction_pictures, run_list, workers):
        predictions.append(pictures)
        result.notes += notes
    page = render_page(run_list, curves, predictions)
    runs.atomic_write_text(output, page)
    result.paths.append(Path(output))
    return result


def _prediction_pictures(run: rundata.Run) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(caption, PNG) of the run's confusion matrix or regression picture, and notes."""
    try:
        outputs = rundata.model_outputs(run.dir, grid_points=None)  # no decision boundary in the report
    except NncliError as e:  # one run's missing model or data never sinks the page
        return [], [f"{run.dir}: no pictures of the model's predictions ({e})"]
    name, fig = next(plots.task_figures(run, outputs))  # the confusion matrix or the regression
    return [(name, _png(fig))], []


def _png(fig) -> bytes:
    return canvas.render(fig, "png")


def _img(png: bytes, alt: str) -> str:
    """An inline <img> with its pixel size, so the page lays out before the image decodes."""
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" width="{w}" height="{h}" src="data:image/png;base64,{data}">'


# ---------------------------------------------------------------- the table
def table_columns(run_list: list[rundata.Run]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(differing config keys, [(split, measure, heading)]) for the runs' table: the metric on
    each split, then the loss on validation and test."""
    keys = rundata.differing_keys([r.config for r in run_list], skip={"name"})
    wanted = [(split, m) for m in ("accuracy", "r2") for split in ("test", "validation", "train")]
    wanted += [("validation", "loss"), ("test", "loss")]
    scores = [(split, m, f"{split} {m}") for split, m in wanted
              if any(m in ((r.summary.get("final") or {}).get(split) or {}) for r in run_list)]
    return keys, scores


def display_names(run_list: list[rundata.Run]) -> list[str]:
    """Run names, or directory names where names repeat."""
    names = [r.name for r in run_list]
    return names if len(set(names)) == len(names) else [r.dir.name for r in run_list]


def _cell(value, text: str | None = None, kind: str = "num") -> str:
    """A table cell; numbers carry their exact value in data-sort, text sorts as shown."""
    if value is None:
        return f'<td class="{kind}" data-sort="">–</td>'
    shown = html.escape(text if text is not None else rundata.show_value(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<td class="{kind}" data-sort="{value!r}">{shown}</td>'
    return f'<td class="{kind}">{shown}</td>'


def runs_table(run_list: list[rundata.Run]) -> str:
    keys, scores = table_columns(run_list)
    heads = ['<th class="text">run</th>', '<th class="text">status</th>']
    heads += [f'<th class="text">{html.escape(k)}</th>' for k in keys]
    heads += ["<th>epochs</th>", "<th>best epoch</th>", "<th>time (s)</th>"]
    heads += [f"<th>{html.escape(h)}</th>" for _, _, h in scores]
    rows = []
    for run, name in zip(run_list, display_names(run_list)):
        s, flat = run.summary, rundata.flatten(run.config)
        cells = [_cell(name, kind="text").replace("<td ", f'<td title="{html.escape(str(run.dir))}" ', 1),
                 _cell(s.get("status", "unknown"), kind="text")]
        cells += [_cell(flat.get(k), kind="text long" if k == "description" else "text") for k in keys]
        cells += [_cell(s.get("epochs_run", len(run.history) or None)), _cell(run.best_epoch),
                  _cell(s.get("wall_time"), None if s.get("wall_time") is None else f"{s['wall_time']:.1f}")]
        final = s.get("final") or {}
        for split, measure, _ in scores:
            v = (final.get(split) or {}).get(measure)
            cells.append(_cell(v, None if v is None else f"{v:.4f}"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table id="runs"><thead><tr>{"".join(heads)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


# ---------------------------------------------------------------- the page
def render_page(run_list: list[rundata.Run], curves: list[tuple[str, bytes]],
                predictions: list[list[tuple[str, bytes]]]) -> str:
    labels = rundata.labels(run_list) if len(run_list) > 1 else [run_list[0].name]
    keys = rundata.differing_keys([r.config for r in run_list])
    now = time.strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nncli report: {len(run_list)} run{'s' * (len(run_list) != 1)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>nncli report: {len(run_list)} run{'s' * (len(run_list) != 1)}</h1>",
        f'<p class="meta">Written {now} by nncli {html.escape(__version__)}. '
        + (f"The runs differ in {html.escape(', '.join(keys))}." if keys else
           "The runs have the same config.") + "</p>",
        "<h2>Runs</h2>",
        '<p class="hint">Final scores of each run, and the config keys that differ between runs. '
        "Click a column heading to sort.</p>",
        runs_table(run_list),
        "<h2>Learning curves</h2>",
    ]
    if not curves:
        parts.append("<p>No run has a recorded epoch yet.</p>")
    for task, png in curves:
        parts.append(f"<figure><figcaption>{html.escape(task)}: loss and metric per epoch; "
                     "solid lines validation, dashed training</figcaption>"
                     f"{_img(png, f'learning curves of the {task} runs')}</figure>")
    parts.append("<h2>Predictions</h2>")
    for run, name, label, pictures in zip(run_list, display_names(run_list), labels, predictions):
        parts.append(f"<h3>{html.escape(name)}</h3>")
        detail = f"<code>{html.escape(label)}</code> · " if label != name else ""
        parts.append(f'<p class="meta">{detail}{html.escape(str(run.dir))}</p>')
        if not pictures:
            parts.append("<p>No saved model to draw (see the run's status).</p>")
        for kind, png in pictures:
            what = kind.replace("_", " ")
            parts.append(f"<figure>{_img(png, f'{what} of {run.dir.name}')}</figure>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
