"""The pictures: each function takes what ``rundata`` read (a ``Run`` or ``Outputs``) and
returns a matplotlib Figure drawn on a reused canvas (``canvas.py``), valid until the next call
of the same function. ``plots`` decides which pictures apply to a run and writes them.

Loss axes switch to a log scale when the plotted losses are all positive and the largest is at
least ten times the smallest (``canvas.use_log``).
"""

from __future__ import annotations

import numpy as np

from nncli.canvas import LEGEND_ROW, MARKERS, PALETTE, SIZES, canvas, few_ticks, log_scale, styled, use_log


def _loss_label(run) -> str:
    name = (run.config.get("loss") or {}).get("name", "auto")
    if name == "auto":
        name = "cross_entropy" if run.task == "classification" else "mse"
    return f"loss ({name.replace('_', ' ')})"


def _metric_label(metric: str) -> str:
    return "R²" if metric == "r2" else metric


def _column(history: list[dict], key: str):
    xs = [r["epoch"] for r in history if r.get(key) is not None]
    ys = [r[key] for r in history if r.get(key) is not None]
    return xs, ys


# ---------------------------------------------------------------- learning curves
@styled
def learning_curves(run_list: list, labels: list[str] | None = None):
    """Loss and metric per epoch, training (dashed when overlaid) and validation (solid).

    One run: training and validation in two colours and the best epoch marked. Several: one
    colour per run (a dotted line from the ninth on), labelled by ``labels`` in a legend below
    the axes, which adds ``LEGEND_ROW`` pixels of height per row.
    """
    one = len(run_list) == 1
    names = [_short(s) for s in (labels or [r.name for r in run_list])]
    ncol = 2 if max(map(len, names)) <= 60 else 1
    rows = 0 if one else -(-len(run_list) // ncol)
    extra = LEGEND_ROW * (rows + 1) if rows else 0
    fig, (ax_loss, ax_metric), _ = canvas("learning_curves", 2, extra_height=extra)
    metric = run_list[0].metric
    losses, handles = [], []
    for i, run in enumerate(run_list):
        for ax, key in ((ax_loss, "loss"), (ax_metric, metric)):
            xs, ys = _column(run.history, key)
            vx, vy = _column(run.history, f"val_{key}")
            if key == "loss":
                losses += ys + vy
            if one:
                ax.plot(xs, ys, color=PALETTE[0], label="training")
                if vx:
                    ax.plot(vx, vy, color=PALETTE[1], label="validation")
                continue
            colour = PALETTE[i % len(PALETTE)]
            train_line, = ax.plot(xs, ys, color=colour, alpha=0.6, linewidth=1.2, linestyle="--")
            line = train_line
            if vx:
                line, = ax.plot(vx, vy, color=colour, linestyle="-" if i < len(PALETTE) else ":")
            if ax is ax_loss:
                handles.append(line)
        if one and run.best_epoch:
            for ax in (ax_loss, ax_metric):
                ax.axvline(run.best_epoch, color="#555555", linestyle=":", linewidth=1.2,
                           label=f"best epoch ({run.best_epoch})")
    log = use_log(losses)
    if log:
        log_scale(ax_loss)
    ax_loss.set(xlabel="epoch", ylabel=_loss_label(run_list[0]) + (", log scale" if log else ""),
                title="Loss per epoch")
    ax_metric.set(xlabel="epoch", ylabel=_metric_label(metric), title=f"{_metric_label(metric)} per epoch")
    for ax in (ax_loss, ax_metric):
        few_ticks(ax)
    total = SIZES["learning_curves"][1] + extra
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 70 / total, bottom=(60 + extra) / total, wspace=0.22)
    if one:
        ax_loss.legend(loc="best", frameon=False)
        fig.suptitle(f"Learning curves: {run_list[0].name}")
    else:
        fig.suptitle(f"Learning curves of {len(run_list)} runs (solid: validation, dashed: training)")
        fig.legend(handles, names, loc="lower center", ncol=ncol, frameon=False,
                   bbox_to_anchor=(0.5, 4 / total))
    return fig


def _short(label: str, limit: int = 110) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


@styled
def lr_schedule(run):
    """The learning rate used in each epoch (the ``lr`` column), log-scaled by the same rule."""
    fig, (ax,), _ = canvas("lr_schedule")
    xs, ys = _column(run.history, "lr")
    ax.plot(xs, ys, color=PALETTE[0], marker="o" if len(xs) <= 30 else None, markersize=4)
    log = use_log(ys)
    if log:
        log_scale(ax)
    name = ((run.config.get("optimizer") or {}).get("schedule") or {}).get("name", "constant")
    ax.set(xlabel="epoch", ylabel="learning rate" + (", log scale" if log else ""),
           title=f"Learning rate per epoch ({name} schedule): {run.name}")
    few_ticks(ax)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.9, bottom=0.13)
    return fig


# ---------------------------------------------------------------- classification
def confusion_counts(y_true, y_pred, k: int) -> np.ndarray:
    """(k, k) counts, rows true class, columns predicted: sklearn.metrics.confusion_matrix with
    labels 0..k-1, in numpy because importing sklearn.metrics costs about a second."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


@styled
def confusion_matrix(outputs, title: str):
    """Counts and row-normalised fractions (each row: one true class) side by side."""
    k = len(outputs.classes)
    counts = confusion_counts(outputs.y_true, outputs.y_pred, k)
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    fig, axes, state = canvas("confusion_matrix", 2)
    ticks = np.arange(k)
    names = [c if len(c) <= 12 else c[:11] + "…" for c in outputs.classes]
    for ax, values, what, fmt in ((axes[0], counts, "samples", "d"),
                                  (axes[1], fractions, "fraction of the true class", ".2f")):
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=values.max() or 1, interpolation="nearest")
        bar = state.get(what)
        if bar is None:  # made once: a new colorbar would take its space from the axes again
            state[what] = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=what)
        else:
            bar.update_normal(image)
        tilt = max(map(len, names)) > 3
        ax.set_xticks(ticks, names, rotation=45 if tilt else 0, ha="right" if tilt else "center")
        ax.set_yticks(ticks, names)
        ax.grid(False)
        ax.set(xlabel="predicted class", ylabel="true class" if ax is axes[0] else "")
        if k <= 12:  # numbers in the cells; empty cells stay blank, which reads faster
            high = values.max() * 0.55
            for i, j in zip(*np.nonzero(counts)):
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center",
                        fontsize=10 if k <= 6 else 9, color="white" if values[i, j] > high else "black")
    axes[1].tick_params(labelleft=False)  # the same rows as on the left
    axes[0].set_title("Counts")
    axes[1].set_title("Normalised by row (recall on the diagonal)")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.93, top=0.86, bottom=0.16, wspace=0.3)
    return fig


@styled
def roc_pr(outputs, title: str):
    """ROC and precision-recall curves of a binary classifier (positive: the second class)."""
    from sklearn import metrics

    y = (np.asarray(outputs.y_true) == 1).astype(int)
    score = outputs.proba[:, 1]
    fpr, tpr, _ = metrics.roc_curve(y, score)
    precision, recall, _ = metrics.precision_recall_curve(y, score)
    auc = metrics.roc_auc_score(y, score)
    ap = metrics.average_precision_score(y, score)
    fig, (ax_roc, ax_pr), _ = canvas("roc_pr", 2)
    ax_roc.plot(fpr, tpr, color=PALETTE[0], label=f"model (AUC {auc:.3f})")
    ax_roc.plot([0, 1], [0, 1], color="#777777", linestyle="--", linewidth=1, label="chance")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve",
               xlim=(-0.01, 1.01), ylim=(-0.01, 1.02))
    ax_pr.plot(recall, precision, color=PALETTE[3], drawstyle="steps-post",
               label=f"model (average precision {ap:.3f})")
    ax_pr.axhline(y.mean(), color="#777777", linestyle="--", linewidth=1,
                  label=f"chance ({y.mean():.2f})")
    ax_pr.set(xlabel="recall", ylabel="precision", title="Precision-recall curve",
              xlim=(-0.01, 1.01), ylim=(-0.01, 1.02))
    for ax in (ax_roc, ax_pr):
        ax.legend(loc="lower right" if ax is ax_roc else "lower left", frameon=False)
        ax.set_aspect("equal")
    fig.suptitle(f"{title}, positive class '{outputs.classes[1]}'")
    fig.subplots_adjust(left=0.06, right=0.98, top=0.86, bottom=0.11, wspace=0.15)
    return fig


@styled
def decision_boundary(outputs, title: str):
    """Predicted class regions over the grid of the two raw features, with the training points."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    g = outputs.grid
    k = len(outputs.classes)
    colours = [PALETTE[i % len(PALETTE)] for i in range(k)]
    fig, (ax,), _ = canvas("decision_boundary")
    extent = (g.x0[0], g.x0[-1], g.x1[0], g.x1[-1])
    ax.imshow(g.codes, origin="lower", extent=extent, aspect="auto", interpolation="nearest",
              cmap=ListedColormap(colours), vmin=-0.5, vmax=k - 0.5, alpha=0.3)
    if k > 1:  # the boundary itself, drawn between the class regions
        ax.contour(g.x0, g.x1, g.codes, levels=np.arange(k - 1) + 0.5, colors="#333333", linewidths=1)
    for c in range(k):
        pts = g.X_train[g.y_train == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=16, color=colours[c], marker=MARKERS[c % len(MARKERS)],
                   edgecolors="black", linewidths=0.4)
    handles = [Line2D([], [], linestyle="", marker=MARKERS[c % len(MARKERS)], color=colours[c],
                      markeredgecolor="black", label=outputs.classes[c]) for c in range(k)]
    ax.legend(handles=handles, title="class (points and regions)", loc="best", framealpha=0.85)
    ax.grid(False)
    ax.set(xlabel=g.feature_names[0], ylabel=g.feature_names[1], xlim=extent[:2], ylim=extent[2:],
           title=title)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.93, bottom=0.09)
    return fig


# ---------------------------------------------------------------- regression
@styled
def regression(outputs, title: str):
    """Predicted against actual (on the diagonal when perfect), and residuals against predicted."""
    y, p = outputs.y_true.ravel(), outputs.y_pred.ravel()
    residuals = y - p
    fig, (ax_fit, ax_res), _ = canvas("regression", 2)
    lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    ax_fit.scatter(y, p, s=14, color=PALETTE[0], alpha=0.7, edgecolors="none")
    ax_fit.plot([lo, hi], [lo, hi], color="#555555", linestyle="--", linewidth=1, label="predicted = actual")
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float((residuals ** 2).sum()) / ss if ss > 0 else 0.0
    ax_fit.set(xlabel="actual value", ylabel="predicted value", title=f"Predicted vs actual (R² {r2:.3f})")
    ax_fit.legend(loc="upper left", frameon=False)
    ax_res.scatter(p, residuals, s=14, color=PALETTE[3], alpha=0.7, edgecolors="none")
    ax_res.axhline(0, color="#555555", linestyle="--", linewidth=1)
    ax_res.set(xlabel="predicted value", ylabel="residual (actual − predicted)",
               title=f"Residuals (RMSE {float(np.sqrt((residuals ** 2).mean())):.3g})")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.86, bottom=0.11, wspace=0.22)
    return fig
