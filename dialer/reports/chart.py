"""An inline SVG bar chart of calls per minute against the provider's points-per-minute limit.

Plain SVG text, no scripts and no external resources, so it survives being mailed as a file.
Minutes without calls count as zero; a long campaign is folded into at most `MAX_BARS` bars, each
showing the average calls per minute over its span and the highest limit seen in it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape

from dialer.reports.summary import MinutePoint

MAX_BARS = 240
WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 36


@dataclass(frozen=True)
class Bar:
    """One bar: when it starts, how many minutes it spans, calls per minute, the limit then."""

    start: dt.datetime
    minutes: int
    per_minute: float
    limit: int | None


def fold(points: list[MinutePoint], max_bars: int = MAX_BARS) -> list[Bar]:
    """Spread the minutes with calls over a dense timeline and fold it into at most `max_bars`."""
    if not points:
        return []
    first = points[0].minute
    span = int((points[-1].minute - first).total_seconds() // 60) + 1
    size = max(1, math.ceil(span / max_bars))
    calls = [0] * math.ceil(span / size)
    limits: list[int | None] = [None] * len(calls)
    for p in points:
        i = int((p.minute - first).total_seconds() // 60) // size
        calls[i] += p.calls
        if p.minute_limit is not None:
            limits[i] = max(limits[i] or 0, p.minute_limit)
    return [
        Bar(first + dt.timedelta(minutes=i * size), size, calls[i] / size, limits[i])
        for i in range(len(calls))
    ]


def _limit_path(bars: list[Bar], x: float, step: float, y_of: dict[int, float]) -> str:
    # A step line: one flat segment per run of bars with the same limit, joined by a vertical
    # where the limit changes, broken where no limit was reported.
    runs: list[tuple[int, int, float]] = []  # first bar, last bar, y
    for i, bar in enumerate(bars):
        if bar.limit is None:
            continue
        y = y_of[bar.limit]
        if runs and runs[-1][1] == i - 1 and runs[-1][2] == y:
            runs[-1] = (runs[-1][0], i, y)
        else:
            runs.append((i, i, y))
    parts: list[str] = []
    for n, (first, last, y) in enumerate(runs):
        pen = "L" if n and runs[n - 1][1] == first - 1 else "M"
        parts.append(f"{pen}{x + first * step:.1f},{y:.1f} L{x + (last + 1) * step:.1f},{y:.1f}")
    return " ".join(parts)


def chart_svg(points: list[MinutePoint]) -> str:
    """The chart as an `<svg>` element; a short note instead when there were no calls."""
    bars = fold(points)
    if not bars:
        return '<p class="muted">No calls yet.</p>'
    limits = {b.limit for b in bars if b.limit is not None}
    top = max(max(b.per_minute for b in bars), max(limits, default=0), 1) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(bars)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
        "<title>Calls per minute against the points limit</title>",
        f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{y(0):.1f}" class="axis"/>',
    ]
    for i, bar in enumerate(bars):
        h = y(0) - y(bar.per_minute)
        tip = f"{bar.start:%Y-%m-%d %H:%M} UTC: {bar.per_minute:.1f} calls/min"
        out.append(
            f'<rect x="{LEFT + i * step:.1f}" y="{y(bar.per_minute):.1f}" '
            f'width="{max(step * 0.9, 0.5):.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(tip)}</title></rect>"
        )
    path = _limit_path(bars, LEFT, step, {lim: y(lim) for lim in limits})
    if path:
        out.append(f'<path d="{path}" class="limit"/>')
    first, last = bars[0].start, bars[-1].start + dt.timedelta(minutes=bars[-1].minutes)
    out += [
        f'<text x="{LEFT - 6}" y="{y(top / 1.1) + 4:.1f}" text-anchor="end">{top / 1.1:.0f}</text>',
        f'<text x="{LEFT - 6}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 14}">{first:%Y-%m-%d %H:%M}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 14}" text-anchor="end">{last:%Y-%m-%d %H:%M} UTC'
        "</text>",
        "</svg>",
    ]
    per = "minute" if bars[0].minutes == 1 else f"{bars[0].minutes} minutes (average per minute)"
    legend = (
        f'<p class="muted">Bars: calls per {per}. '
        '<span class="limit-key">Dashed line</span>: the provider\'s points-per-minute limit.</p>'
    )
    return "\n".join(out) + "\n" + legend
