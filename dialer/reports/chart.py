"""An inline SVG bar chart of calls per minute against the provider's points-per-minute limit.

Plain SVG drawn by the report's template (`templates/report.html.j2`) from the geometry computed
here: no scripts and no external resources, so it survives being mailed as a file.
Minutes without calls count as zero; a long campaign is folded into at most `MAX_BARS` bars, each
showing the average calls per minute over its span and the highest limit seen in it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from dialer.reports.messages import Texts
from dialer.reports.summary import MinutePoint
from dialer.reports.zone import ShownZone

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


@dataclass(frozen=True)
class BarShape:
    """One bar where it is drawn, with its tooltip."""

    x: float
    y: float
    width: float
    height: float
    tip: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the chart; no markup here."""

    width: int
    height: int
    left: int
    right: int
    axis_y: float
    top_y: float
    top_value: float
    bars: list[BarShape]
    limit_path: str
    first: str
    last: str
    title: str
    legend: str
    limit_key: str


def chart(points: list[MinutePoint], zone: ShownZone, texts: Texts) -> Chart | None:
    """The chart's geometry and labels; None when there were no calls."""
    bars = fold(points)
    if not bars:
        return None
    limits = {b.limit for b in bars if b.limit is not None}
    top = max(*(b.per_minute for b in bars), max(limits, default=0), 1) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(bars)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    def at(moment: dt.datetime) -> str:
        local = zone.local(moment)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    shapes = [
        BarShape(
            x=LEFT + i * step,
            y=y(bar.per_minute),
            width=max(step * 0.9, 0.5),
            height=y(0) - y(bar.per_minute),
            tip=texts("report.chart_tip", at=at(bar.start), rate=f"{bar.per_minute:.1f}"),
        )
        for i, bar in enumerate(bars)
    ]
    end = bars[-1].start + dt.timedelta(minutes=bars[-1].minutes)
    size = bars[0].minutes
    legend = (
        texts("report.chart_bars_minute")
        if size == 1
        else texts("report.chart_bars_span", minutes=size)
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        axis_y=y(0),
        top_y=y(top / 1.1),
        top_value=top / 1.1,
        bars=shapes,
        limit_path=_limit_path(bars, LEFT, step, {lim: y(lim) for lim in limits}),
        first=at(bars[0].start),
        last=at(end),
        title=texts("report.chart_title"),
        legend=legend,
        limit_key=texts("report.chart_limit"),
    )
