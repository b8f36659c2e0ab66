"""Small inline-SVG charts for the reports: histogram, line chart, bars with CI whiskers, interval.

Hand-written SVG keeps a report one self-contained file that renders offline (no CDN, no JS).
Every chart takes its colours as arguments, so a test can find each plot in a screenshot. The
line chart is also rl_adapter's ``reward_curve.svg`` (exported as ``evalkit.line_chart``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 14, 46
AXIS = "#444"
GRID = "#e3e3e3"
WHISKER = "#222"
# Points per series up to which each point gets a dot; past it the line alone reads better.
MAX_DOTS = 40
# Round steps for axis ticks, times a power of ten.
_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)


class _Frame:
    """Maps data coordinates to pixels inside the plot area and draws axes."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, height: int = HEIGHT) -> None:
        self.x0, self.x1 = x0, (x1 if x1 > x0 else x0 + 1)
        self.y0, self.y1 = y0, (y1 if y1 > y0 else y0 + 1)
        self.height = height
        self.parts: list[str] = []

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return self.height - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (self.height - TOP - BOTTOM)

    def y_axis(self, label: str, ticks: int = 5, fmt: str = "{:.2f}") -> None:
        for i in range(ticks + 1):
            y = self.y0 + (self.y1 - self.y0) * i / ticks
            py = self.py(y)
            self.parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" stroke="{GRID}"/>')
            self.parts.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{fmt.format(y)}</text>')
        mid = (TOP + self.height - BOTTOM) / 2
        self.parts.append(
            f'<text transform="translate(13,{mid:.0f}) rotate(-90)" text-anchor="middle">{escape(label)}</text>'
        )

    def x_label(self, label: str) -> None:
        self.parts.append(
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{self.height - 6}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )

    def x_tick(self, x: float, text: str) -> None:
        px = self.px(x)
        base = self.height - BOTTOM
        self.parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{base}" y2="{base + 4}" stroke="{AXIS}"/>')
        self.parts.append(f'<text x="{px:.1f}" y="{base + 17}" text-anchor="middle">{escape(text)}</text>')

    def axes(self) -> None:
        base = self.height - BOTTOM
        self.parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="{AXIS}"/>')
        self.parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}" stroke="{AXIS}"/>')

    def svg(self, title: str) -> str:
        body = "".join(self.parts)
        # The white ground makes the chart readable on its own too (reward_curve.svg in a viewer).
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{self.height}" '
            f'viewBox="0 0 {WIDTH} {self.height}" role="img" font-family="sans-serif" font-size="11">'
            f'<title>{escape(title)}</title><rect width="{WIDTH}" height="{self.height}" fill="white"/>{body}</svg>'
        )


def nice_step(raw: float, *, integer: bool = False) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is >= raw (a whole number if ``integer``)."""
    power = 10 ** math.floor(math.log10(max(raw, 1e-12)))
    for factor in _NICE:
        step = factor * power
        if step >= raw and (not integer or step == int(step)):
            return max(1.0, step) if integer else step
    return 10 * power


def count_axis(peak: int) -> tuple[int, int]:
    """(top, step) of a count axis for a tallest bar of ``peak``: 3 to 6 round ticks, little headroom.

    Rounding the step first and then the top (peak 101 in steps of 50 makes 150) wastes up to
    half the plot; trying 4, 5 and 6 intervals and keeping the lowest top stays within 1.5x.
    """
    peak = max(1, peak)
    options = []
    for intervals in (4, 5, 6):
        step = int(nice_step(peak / intervals, integer=True))
        options.append((step * math.ceil(peak / step), -step))
    top, minus_step = min(options)
    return top, -minus_step


def ticks(lo: float, hi: float, most: int = 8) -> list[float]:
    """Round tick positions covering [lo, hi], at most ``most`` + 1 of them."""
    step = nice_step((hi - lo) / most) if hi > lo else 1.0
    first = math.ceil(lo / step - 1e-9)
    return [round(i * step, 10) for i in range(first, math.floor(hi / step + 1e-9) + 1)]


def histogram(
    values: Sequence[float], *, color: str, title: str, x_label: str, bins: int = 20, symmetric: bool = False
) -> str:
    """Histogram of ``values`` (item scores, or per-item differences when ``symmetric``).

    Each bar is centred on its value: bar i holds the values nearest to ``lo + i * width``, so
    the common scores 0, 0.5 and 1 sit on their ticks instead of beside them.
    """
    finite = [v for v in values if math.isfinite(v)]
    if symmetric:
        span = max([1e-9, *(abs(v) for v in finite)])
        lo, hi = -span, span
    else:
        lo = min([0.0, *finite])
        hi = max([1.0, *finite])
    width = (hi - lo) / bins
    counts = [0] * (bins + 1)
    for v in finite:
        counts[min(bins, max(0, math.floor((v - lo) / width + 0.5)))] += 1
    top, step = count_axis(max(counts))
    frame = _Frame(lo - width / 2, hi + width / 2, 0, top)
    frame.y_axis("items", ticks=top // step, fmt="{:.0f}")
    for i, count in enumerate(counts):
        if count:
            center = lo + i * width
            x0, x1 = frame.px(center - width / 2), frame.px(center + width / 2)
            y = frame.py(count)
            frame.parts.append(
                f'<rect x="{x0 + 1:.1f}" y="{y:.1f}" width="{max(1.0, x1 - x0 - 2):.1f}" '
                f'height="{frame.py(0) - y:.1f}" fill="{color}" shape-rendering="crispEdges">'
                f"<title>{count} items near {center:.3g}</title>"
                "</rect>"
            )
    for i in range(0, bins + 1, max(1, bins // 4)):
        frame.x_tick(lo + i * width, f"{lo + i * width:.2g}")
    frame.axes()
    frame.x_label(x_label)
    return frame.svg(title)


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    colors: Sequence[str],
    title: str,
    x_label: str,
    y_label: str,
    marks: Sequence[float] = (),
) -> str:
    """Lines through each series' (x, y) points (x ascending), with a grid and ticks on both axes.

    Args:
        series: Points by series name; more than one series gets a legend.
        colors: One colour per series, in order (cycled).
        title: The chart's title (a tooltip; captions go around the chart).
        x_label: The x axis label.
        y_label: The y axis label.
        marks: x values that get a tick (with both ends of the data); without marks, round ticks.

    Returns:
        One ``<svg>`` element. y spans [0, 1], widened to the data when it goes beyond.
    """
    points = [p for values in series.values() for p in values]
    xs = [x for x, _ in points] or [0.0, 1.0]
    ys = [y for _, y in points if math.isfinite(y)]
    frame = _Frame(min(xs), max(xs), min([0.0, *ys]), max([1.0, *ys]))
    frame.y_axis(y_label)
    for i, (name, values) in enumerate(series.items()):
        color = colors[i % len(colors)]
        path = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in values if math.isfinite(y))
        frame.parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        if len(values) <= MAX_DOTS:
            for x, y in values:
                frame.parts.append(
                    f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="4.5" fill="{color}">'
                    f"<title>{escape(name)} at {x:g}: {y:.3f}</title></circle>"
                )
        if len(series) > 1:  # a legend in the top-left corner, where rising curves rarely are
            y = TOP + 8 + 15 * (i + 1)
            frame.parts.append(
                f'<rect x="{LEFT + 6}" y="{y - 12}" width="{24 + 7 * len(name)}" height="15" fill="white" '
                f'fill-opacity="0.85"/><line x1="{LEFT + 10}" x2="{LEFT + 28}" y1="{y - 4}" y2="{y - 4}" '
                f'stroke="{color}" stroke-width="2.5"/><text x="{LEFT + 32}" y="{y}">{escape(name)}</text>'
            )
    at = sorted({*marks, min(xs), max(xs)}) if marks else ticks(min(xs), max(xs))
    for x in at:
        frame.x_tick(x, f"{x:g}")
    frame.axes()
    frame.x_label(x_label)
    return frame.svg(title)


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    color: str,
    title: str,
    y_label: str,
) -> str:
    """Vertical bars with CI whiskers, one per label (labels are cut to 14 characters)."""
    finite = [v for v in (*values, *highs) if math.isfinite(v)]
    lo = min([0.0, *finite])
    top = max([1.0, *finite])
    frame = _Frame(0, len(labels), lo, top, height=HEIGHT + 40)
    frame.y_axis(y_label)
    step = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    for i, (label, value, low, high) in enumerate(zip(labels, values, lows, highs, strict=True)):
        x = frame.px(i) + step * 0.15
        if math.isfinite(value):
            y = frame.py(max(value, lo))
            frame.parts.append(
                f'<rect x="{x:.1f}" y="{min(y, frame.py(0)):.1f}" width="{step * 0.7:.1f}" '
                f'height="{abs(frame.py(0) - y):.1f}" fill="{color}" shape-rendering="crispEdges">'
                f"<title>{escape(label)}: {value:.3f}</title></rect>"
            )
        if math.isfinite(low) and math.isfinite(high):
            cx = x + step * 0.35
            frame.parts.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{frame.py(low):.1f}" '
                f'y2="{frame.py(high):.1f}" stroke="{WHISKER}" stroke-width="1.5"/>'
            )
        short = label if len(label) <= 14 else label[:13] + "…"
        base = frame.height - BOTTOM
        frame.parts.append(
            f'<text transform="translate({x + step * 0.35:.1f},{base + 10}) rotate(35)" '
            f'font-size="10">{escape(short)}</text>'
        )
    frame.axes()
    return frame.svg(title)


def interval(label: str, mean: float, low: float, high: float, *, color: str, title: str) -> str:
    """One horizontal CI bar with its mean, against a dashed zero line (a one-row forest plot)."""
    ends = [v for v in (low, high, mean, 0.0) if math.isfinite(v)]
    span = max([1e-9, *(abs(v) for v in ends)]) * 1.15
    height = 90
    frame = _Frame(-span, span, 0, 1, height=height)
    zero = frame.px(0)
    frame.parts.append(
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{TOP}" y2="{height - BOTTOM}" '
        f'stroke="{AXIS}" stroke-dasharray="4 3"/>'
    )
    mid = frame.py(0.5)
    if math.isfinite(low) and math.isfinite(high):
        frame.parts.append(
            f'<rect x="{frame.px(low):.1f}" y="{mid - 7:.1f}" '
            f'width="{max(2.0, frame.px(high) - frame.px(low)):.1f}" height="14" fill="{color}" '
            f'shape-rendering="crispEdges"><title>95% CI [{low:.4f}, {high:.4f}]</title></rect>'
        )
    if math.isfinite(mean):
        frame.parts.append(
            f'<line x1="{frame.px(mean):.1f}" x2="{frame.px(mean):.1f}" y1="{mid - 11:.1f}" '
            f'y2="{mid + 11:.1f}" stroke="{WHISKER}" stroke-width="3"/>'
        )
    for x in (-span / 1.15, 0.0, span / 1.15):
        frame.x_tick(x, f"{x:+.3f}" if x else "0")
    frame.parts.append(f'<text x="{LEFT}" y="{TOP - 2}" font-size="11">{escape(label)}</text>')
    frame.axes()
    return frame.svg(title)
