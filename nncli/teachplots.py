"""Pictures of the teaching commands: the learning-rate range test and the learning curve
(matplotlib, the plot extra, imported only when one is drawn)."""

from __future__ import annotations

from pathlib import Path

from nncli import canvas
from nncli.atomic import atomic_write_bytes


def _figure(w: int = 800, h: int = 420):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w / canvas.DPI, h / canvas.DPI), dpi=canvas.DPI)
    return fig, fig.add_subplot(1, 1, 1)


def _plain_ticks(axis) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


@canvas.styled
def _lr_find(result: dict):
    fig, ax = _figure()
    ax.plot(result["lr"], result["loss"], color=canvas.PALETTE[5], alpha=0.5, label="batch loss")
    ax.plot(result["lr"], result["smoothed"], color=canvas.PALETTE[0], label="smoothed")
    if result["suggestion"] is not None:
        ax.axvline(result["suggestion"], color=canvas.PALETTE[3], linestyle="--",
                   label=f"suggestion {result['suggestion']:.2e}")
    ax.set_xscale("log")
    _plain_ticks(ax.xaxis)
    smooth = [v for v in result["smoothed"] if v == v]
    if smooth:  # the explosion at the end would flatten the part that matters
        ax.set_ylim(min(smooth) * 0.9, max(smooth[0], min(smooth)) * 1.5)
    ax.set(title="learning-rate range test", xlabel="learning rate", ylabel="training loss")
    ax.legend()
    return fig


@canvas.styled
def _learning_curve(result: dict):
    fig, ax = _figure()
    n = [p["samples"] for p in result["points"]]
    ax.plot(n, [p["train"]["loss"] for p in result["points"]], marker="o", color=canvas.PALETTE[0], label="J_train")
    ax.plot(n, [p["cv"]["loss"] for p in result["points"]], marker="s", color=canvas.PALETTE[1], label="J_cv")
    trivial = result["verdict"]["baseline"]["trivial"]["loss"]
    ax.axhline(trivial, color="grey", linestyle=":", label=f"trivial model {trivial:.3g}")
    ref = result["verdict"]["baseline"]["reference"].get("loss")
    if ref is not None:
        ax.axhline(ref, color=canvas.PALETTE[2], linestyle="--", label=f"baseline {ref:.3g}")
    if canvas.use_log([v for p in result["points"] for v in (p["train"]["loss"], p["cv"]["loss"])]):
        ax.set_yscale("log")
        _plain_ticks(ax.yaxis)
    ax.set(title=f"learning curve: {result['verdict']['verdict']}", xlabel="training samples", ylabel="loss")
    ax.legend()
    return fig


def write(kind: str, result: dict, path: Path) -> Path:
    """Draw ``kind`` ("lr_find" or "learning_curve") into ``path`` (png or svg by its suffix)."""
    canvas.require_matplotlib()
    fig = {"lr_find": _lr_find, "learning_curve": _learning_curve}[kind](result)
    fmt = "svg" if Path(path).suffix == ".svg" else "png"
    atomic_write_bytes(Path(path), canvas.render(fig, fmt))
    return Path(path)
