"""Inline SVG charts of call outcomes: contacts by disposition (one bar each), and the answered
rate over time, bucketed in the campaign's zone.

Geometry only, like `chart.py`: the template draws it as plain SVG, with no scripts and no
external resources. The answered rate of a bucket is answered calls / calls with a known outcome
made in it; the bucket is an hour of the zone's clock, or a day (several days) when hours would
make more than `MAX_BUCKETS` bars.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from dialer.reports.chart import BarShape
from dialer.reports.messages import Texts
from dialer.reports.summary import OutcomePoint
from dialer.reports.zone import ShownZone

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 36
PLOT_H = HEIGHT - TOP - BOTTOM
MAX_BUCKETS = 96
LABELLED_BARS = 24  # up to this many bars, each carries its percentage above it
_HOUR, _DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@dataclass(frozen=True)
class Label:
    """A text on the chart, centred on `x` unless `anchor` says otherwise."""

    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class BarChart:
    """Everything the template needs to draw one bar chart; no markup here."""

    id: str
    width: int
    height: int
    left: int
    right: int
    axis_y: float
    top_y: float
    top_text: str
    bars: list[BarShape]
    labels: list[Label]
    title: str
    legend: str


def dispositions_chart(counts: dict[str, int], texts: Texts) -> BarChart | None:
    """One bar per disposition, its height the contacts with it; None when none is known."""
    if not any(counts.values()):
        return None
    top = max(counts.values())
    step = (WIDTH - LEFT - RIGHT) / len(counts)
    bars, labels = [], []
    for i, (key, n) in enumerate(counts.items()):
        height = PLOT_H * n / top
        name, middle = texts.disposition(key), LEFT + (i + 0.5) * step
        y = TOP + PLOT_H - height
        bars.append(BarShape(LEFT + (i + 0.1) * step, y, step * 0.8, height, f"{name}: {n}"))
        # Staggered on two lines, so that long names of neighbouring bars never overlap.
        labels.append(Label(middle, HEIGHT - (20 if i % 2 == 0 else 6), name))
        labels.append(Label(middle, y - 4, str(n)))
    return BarChart(
        id="dispositions-chart",
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        axis_y=TOP + PLOT_H,
        top_y=TOP,
        top_text=str(top),
        bars=bars,
        labels=labels,
        title=texts("report.dispositions_title"),
        legend=texts("report.dispositions_title"),
    )


def bucket_size(first: dt.datetime, last: dt.datetime) -> tuple[dt.timedelta, str]:
    """The smallest bucket that spans first..last in at most `MAX_BUCKETS`, and its message."""
    span = last - first
    if span < _HOUR * MAX_BUCKETS:
        return _HOUR, "bucket.1h"
    days = max(1, math.ceil(span / (_DAY * MAX_BUCKETS)))
    return _DAY * days, "bucket.1d" if days == 1 else "bucket.days"


def _floor(local: dt.datetime, size: dt.timedelta, origin: dt.datetime) -> dt.datetime:
    # Buckets start on the zone's wall clock: on the hour, or at local midnight.
    if size == _HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    days = (midnight.date() - origin.date()).days
    return origin + _DAY * (days - days % size.days)


def answered_rate_chart(
    points: list[OutcomePoint], zone: ShownZone, texts: Texts
) -> BarChart | None:
    """Bars of the answered rate per bucket of the campaign's local time; None when no call's
    outcome is known."""
    if not points:
        return None
    size, key = bucket_size(points[0].minute, points[-1].minute)
    origin = zone.local(points[0].minute).replace(hour=0, minute=0, second=0, microsecond=0)
    buckets: dict[dt.datetime, list[int]] = {}
    for p in points:
        start = _floor(zone.local(p.minute), size, origin)
        known_answered = buckets.setdefault(start, [0, 0])
        known_answered[0] += p.known
        known_answered[1] += p.answered
    first = min(buckets)
    count = int((max(buckets) - first) / size) + 1
    step = (WIDTH - LEFT - RIGHT) / count
    bars, percents = [], []
    for start, (known, answered) in sorted(buckets.items()):
        rate = answered / known
        i = int((start - first) / size)
        at = f"{start:%Y-%m-%d %H:%M} {start.tzname()}"
        tip = texts("report.answered_tip", at=at, percent=100 * rate, known=known)
        height = PLOT_H * rate
        width = max(step * 0.9, 0.5)
        y = TOP + PLOT_H - height
        bars.append(BarShape(LEFT + i * step, y, width, height, tip))
        if count <= LABELLED_BARS:
            percents.append(Label(LEFT + i * step + width / 2, y - 4, f"{100 * rate:.0f}%"))
    end = first + size * count
    bucket = texts(key, n=size.days)
    return BarChart(
        id="answered-chart",
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        axis_y=TOP + PLOT_H,
        top_y=TOP,
        top_text="100%",
        bars=bars,
        labels=[
            *percents,
            Label(LEFT, HEIGHT - 14, f"{first:%Y-%m-%d %H:%M} {first.tzname()}", "start"),
            Label(WIDTH - RIGHT, HEIGHT - 14, f"{end:%Y-%m-%d %H:%M} {end.tzname()}", "end"),
        ],
        title=texts("report.answered_title"),
        legend=texts("report.answered_legend", bucket=bucket),
    )
