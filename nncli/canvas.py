"""matplotlib for nncli's pictures: the import, the house style and sizes, reusable figures, rendering.

matplotlib is an optional extra (``pip install "nncli[plot]"``), imported inside functions with
the non-interactive Agg backend and used only through the object-oriented ``Figure`` API (no
pyplot state, no window). Every picture has a fixed size in pixels (``SIZES``, at ``DPI``), the
Okabe-Ito colour-blind-safe palette and fonts readable at that size.

Speed: most of a small figure's cost is creating its axes' ticks and laying out text, so each
kind of picture is drawn on one figure that is kept and wiped between pictures (``canvas``):
a figure returned by a drawing function is valid until the next call of the same function.
"""

from __future__ import annotations

import io

import numpy as np

from nncli.errors import UsageError

INSTALL_HINT = 'matplotlib is not installed; install the plot extra: pip install "nncli[plot]"'
DPI = 100
# Okabe & Ito (2008), ordered for lines: the yellow, weakest on white, comes last but one
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# picture -> (width, height) in pixels
SIZES = {
    "learning_curves": (1200, 480),
    "lr_schedule": (800, 420),
    "confusion_matrix": (1200, 560),
    "roc_pr": (1200, 540),
    "regression": (1200, 540),
    "decision_boundary": (800, 700),
}
LEGEND_ROW = 22  # pixels added below an overlaid learning-curve picture per row of its legend
STYLE = {
    "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "figure.titlesize": 13,
    "legend.fontsize": 10, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "lines.linewidth": 1.8, "savefig.facecolor": "white",
    "svg.fonttype": "none", "svg.hashsalt": "nncli",  # SVG text stays text; ids are reproducible
    # a fixed title position spares measuring every tick label on every draw, and plain-number
    # tick labels spare the mathtext parser (about 40 ms a log axis)
    "axes.titley": 1.0, "axes.formatter.use_mathtext": False,
    "text.parse_math": False,  # a class named "$5-$10" is text, not TeX
}
FORMATS = ("png", "svg")
PNG_COMPRESSION = 1  # zlib level 1: a third faster to write than the default 6, files ~15% larger

_canvases: dict[tuple, tuple] = {}  # (kind, columns, extra height) -> (figure, axes, state)


def require_matplotlib():
    """Import matplotlib with the Agg backend, or raise UsageError naming the extra."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    return matplotlib


def available() -> bool:
    """Whether matplotlib can be imported, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec("matplotlib") is not None
    except ValueError:  # in sys.modules as None: imports of it are blocked
        return False


def styled(draw):
    """Draw under the house style (fonts, grid, palette) without touching global settings."""
    def wrapper(*args, **kwargs):
        import matplotlib
        from cycler import cycler

        with matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=PALETTE)}):
            return draw(*args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = draw.__name__, draw.__doc__
    return wrapper


def canvas(kind: str, ncols: int = 1, extra_height: int = 0):
    """(figure, axes, state): an empty figure of ``SIZES[kind]`` (plus ``extra_height`` pixels)
    with ``ncols`` axes in a row, the same one on every call with these arguments. ``state`` is
    a dict the caller may keep objects in between calls (colorbars)."""
    from matplotlib.figure import Figure

    key = (kind, ncols, extra_height)
    if key not in _canvases:
        w, h = SIZES[kind]
        fig = Figure(figsize=(w / DPI, (h + extra_height) / DPI), dpi=DPI)
        _canvases[key] = (fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)], {})
    fig, axes, state = _canvases[key]
    wipe(fig, axes)
    return fig, axes, state


def wipe(fig, axes) -> None:
    """Remove what was drawn, keeping the axes and their ticks: back to a fresh figure's state."""
    for leg in list(fig.legends):
        leg.remove()
    fig.suptitle("")
    for ax in axes:
        for artist in [*ax.lines, *ax.collections, *ax.images, *ax.texts, *ax.patches]:
            artist.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        ax.set(title="", xlabel="", ylabel="", aspect="auto")
        ax.set_xscale("linear")  # also puts back the default tick locators and formatters
        ax.set_yscale("linear")
        ax.set_autoscale_on(True)
        ax.relim()


def render(fig, fmt: str = "png") -> bytes:
    """The figure as PNG or SVG bytes at its stated size."""
    import matplotlib

    buf = io.BytesIO()
    if fmt == "png":
        extra = {"metadata": {"Software": None}, "pil_kwargs": {"compress_level": PNG_COMPRESSION}}
    else:
        extra = {"metadata": {"Date": None, "Creator": None}}
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format=fmt, dpi=DPI, **extra)
    return buf.getvalue()


def use_log(values) -> bool:
    """The log-scale rule: every value positive and max / min >= 10 (a decade or more of range,
    which a linear axis would squash into a flat line at the end of training)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    return v.size > 1 and bool((v > 0).all()) and v.max() >= 10 * v.min()


def few_ticks(ax) -> None:
    """About six labelled ticks a linear axis, whole numbers on x (epochs): every tick label is
    text to lay out, the largest cost of a small picture."""
    ax.locator_params(axis="x", nbins=6, integer=True)
    if ax.get_yscale() == "linear":
        ax.locator_params(axis="y", nbins=6)


def log_scale(ax) -> None:
    """A log y axis with plain tick labels (0.01, 1, 1e+04), no mathtext."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
