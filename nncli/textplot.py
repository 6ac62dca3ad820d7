"""A small line chart drawn with text, for terminals: Unicode braille dots, or ASCII.

Braille characters hold a 2 x 4 grid of dots each, so a chart ``width`` characters wide and
``height`` lines high has 2*width x 4*height points. The ASCII fallback marks one point per
character with ``*`` and joins steep steps with ``|``. The y axis is logarithmic when every
value is positive and the largest is at least ten times the smallest (the rule of the
pictures), so the end of training stays visible.
"""

from __future__ import annotations

import math

# the bit of each dot in a braille cell, by (column, row) inside the 2 x 4 cell
_BRAILLE_BITS = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08, (1, 1): 0x10,
                 (1, 2): 0x20, (0, 3): 0x40, (1, 3): 0x80}
LABEL_WIDTH = 10  # the y labels' column: 9 characters and a space


def log_scale(values: list[float]) -> bool:
    return len(values) > 1 and min(values) > 0 and max(values) >= 10 * min(values)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if 1e-4 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"  # at most 9 characters


def chart(values: list[float], title: str, width: int = 60, height: int = 8,
          unicode: bool = True, x_label: str = "epoch") -> list[str]:
    """Lines of text: a title, ``height`` rows of the curve with the y range on the left, and
    an x axis from 1 to len(values). Each line is at most LABEL_WIDTH + 1 + width characters."""
    values = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not values:
        return [f"{title}: no values"]
    log = log_scale(values)
    ys = [math.log10(v) for v in values] if log else values
    lo, hi = min(ys), max(ys)
    span = hi - lo
    cols, rows = (2 * width, 4 * height) if unicode else (width, height)
    n = len(ys)

    def point(i: int) -> tuple[float, float]:  # x in [0, cols-1], y in [0, rows-1], 0 = top
        x = 0.0 if n == 1 else i * (cols - 1) / (n - 1)
        return x, (hi - ys[i]) / span * (rows - 1) if span else (rows - 1) / 2

    # dots along each segment, sampled finely enough to leave no gaps
    dots = set()
    for i in range(n):
        x0, y0 = point(i)
        x1, y1 = point(i + 1) if i + 1 < n else (x0, y0)
        steps = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) * 2))
        for s in range(steps + 1):
            t = s / steps
            dots.add((round(x0 + (x1 - x0) * t), round(y0 + (y1 - y0) * t)))
    grid = _braille(dots, width, height) if unicode else _ascii(dots, width, height)

    top, bottom = (10 ** hi, 10 ** lo) if log else (hi, lo)
    bar, corner, rule = ("┤", "└", "─") if unicode else ("|", "+", "-")
    lines = [title + (" (log scale)" if log else "")]
    labels = {0: top, height - 1: bottom}
    if height >= 5 and span:  # and the value at the middle row
        k = rows // height  # dots per text row
        mid = hi - span * (height // 2 * k + (k - 1) / 2) / (rows - 1)
        labels[height // 2] = 10 ** mid if log else mid
    for r, text in enumerate(grid):
        label = _fmt(labels[r]) if r in labels else ""
        lines.append(f"{label:>{LABEL_WIDTH - 1}} {bar}{text}".rstrip())
    lines.append(" " * LABEL_WIDTH + corner + rule * width)
    left, right = "1", str(n)
    middle = x_label.center(max(0, width - len(left) - len(right)))
    lines.append(" " * (LABEL_WIDTH + 1) + (left + middle + right)[:width])
    return lines


def _braille(dots: set, width: int, height: int) -> list[str]:
    cells = [[0] * width for _ in range(height)]
    for x, y in dots:
        cells[y // 4][x // 2] |= _BRAILLE_BITS[(x % 2, y % 4)]
    return ["".join(chr(0x2800 + c) if c else " " for c in row) for row in cells]


def _ascii(dots: set, width: int, height: int) -> list[str]:
    cells = [[" "] * width for _ in range(height)]
    by_column: dict[int, list[int]] = {}
    for x, y in dots:
        by_column.setdefault(x, []).append(y)
    for x, ys in by_column.items():
        for y in range(min(ys), max(ys) + 1):  # a steep step reads as a vertical stroke
            cells[y][x] = "|"
        for y in ys:
            if len(ys) == 1 or y in (min(ys), max(ys)):
                cells[y][x] = "*"
    return ["".join(row) for row in cells]
