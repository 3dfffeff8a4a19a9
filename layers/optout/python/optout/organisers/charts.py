"""Charts for the dashboard, drawn here as SVG: no script, no third-party request, readable by
screen readers (each chart has a title and a description, and the page shows its numbers in a
table beside it).

Readable at phone and desktop width: every chart is drawn on a narrow canvas (`WIDTH` user
units, about a phone's width), with labels on their own line above their bar rather than
beside it, so that the page scales it up on a desktop and hardly down on a phone. Axis labels
are thinned so that no two overlap (`thinned`), and times are shown in the organiser's zone.

Text in the SVG is escaped here, since the markup is handed to templates as safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from markupsafe import Markup

# Colour-blind-safe steps of one hue family, each at least 4.5:1 against white (WCAG AA).
FUNNEL_COLOURS = ("#3b4a66", "#1f5fbf", "#7a4fb3", "#16794a")
WIDTH = 400
FONT_SIZE = 14
# The advance of one character of a system sans-serif font, as a share of the font size: a
# little more than the average, so that labels spaced by this estimate never touch.
CHAR_WIDTH = 0.62
_FONT = f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}"'
_INK, _MUTED, _AXIS = "#1d2330", "#4f5869", "#8a93a3"


def text_width(label: str, font_size: float = FONT_SIZE) -> float:
    """How wide `label` is drawn, at most (an estimate that errs on the wide side)."""
    return len(label) * font_size * CHAR_WIDTH


def funnel(
    rows: Sequence[tuple[str, Sequence[int]]],
    stages: Sequence[str],
    title: str,
    empty: str = "nothing yet: no reminder has gone out",
) -> Markup:
    """Per row (a region), one labelled bar per stage with its value and its share of the
    stage before ("62% of the previous step"), scaled to the row's first stage; a row with
    nothing at all says so in words instead of a column of zeros."""
    line, bar_height, gap = FONT_SIZE + 4, 12, 14
    parts: list[str] = []
    y = 0
    for label, values in rows:
        y += line
        parts.append(
            f'<text x="0" y="{y}" {_FONT} font-weight="700" fill="{_INK}">{escape(label)}</text>'
        )
        if not any(values):
            y += line
            parts.append(f'<text x="0" y="{y}" {_FONT} fill="{_MUTED}">{escape(empty)}</text>')
            y += gap
            continue
        largest = max(values)
        for index, value in enumerate(values):
            y += line
            previous = values[index - 1] if index else 0
            share = f" · {value / previous:.0%}" if index and previous else ""
            parts.append(
                f'<text x="0" y="{y}" {_FONT} fill="{_INK}">{escape(stages[index])}</text>'
                f'<text x="{WIDTH}" y="{y}" {_FONT} fill="{_INK}" text-anchor="end" '
                f'font-weight="600">{value:,}{share}</text>'
            )
            bar = round(value / largest * WIDTH) if largest else 0
            colour = FUNNEL_COLOURS[index % len(FUNNEL_COLOURS)]
            parts.append(
                f'<rect x="0" y="{y + 4}" width="{WIDTH}" height="{bar_height}" fill="#e6e9ef"/>'
                f'<rect x="0" y="{y + 4}" width="{max(bar, 2 if value else 0)}" '
                f'height="{bar_height}" fill="{colour}"><title>{escape(label)} '
                f"{escape(stages[index])}: {value:,}{share}</title></rect>"
            )
            y += bar_height + 4
        y += gap
    if not rows:
        y += line
        parts.append(f'<text x="0" y="{y}" {_FONT} fill="{_MUTED}">{escape(empty)}</text>')
    return _svg(WIDTH, y + 6, title, _describe(rows, stages, empty), "".join(parts))


def bars(rows: Sequence[tuple[str, int, str]], title: str, empty: str) -> Markup:
    """Labelled horizontal bars, one per row (label, value, note shown after the value, such
    as a rate), scaled to the largest; `empty` in words when there is no row or all are 0."""
    line, bar_height, gap = FONT_SIZE + 4, 12, 8
    parts: list[str] = []
    y = 0
    largest = max([value for _, value, _ in rows] + [0])
    if not largest:
        y += line
        parts.append(f'<text x="0" y="{y}" {_FONT} fill="{_MUTED}">{escape(empty)}</text>')
        return _svg(WIDTH, y + 6, title, empty, "".join(parts))
    for label, value, note in rows:
        y += line
        shown = f"{value:,}" + (f" · {note}" if note else "")
        parts.append(
            f'<text x="0" y="{y}" {_FONT} fill="{_INK}">{escape(label)}</text>'
            f'<text x="{WIDTH}" y="{y}" {_FONT} fill="{_INK}" text-anchor="end" '
            f'font-weight="600">{escape(shown)}</text>'
            f'<rect x="0" y="{y + 4}" width="{max(round(value / largest * WIDTH), 2 if value else 0)}" '
            f'height="{bar_height}" fill="{FUNNEL_COLOURS[1]}"><title>{escape(label)}: '
            f"{escape(shown)}</title></rect>"
        )
        y += bar_height + 4 + gap
    description = "; ".join(
        f"{label}: {value:,}" + (f" ({note})" if note else "") for label, value, note in rows
    )
    return _svg(WIDTH, y + 2, title, description, "".join(parts))


# Steps between labelled ticks, in columns: whole days and weeks, or whole hours.
DAY_STEPS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364)
HOUR_STEPS = (1, 2, 3, 6, 12, 24, 48)


def thinned(labels: Sequence[str], column: float, steps: Sequence[int], room: float) -> list[int]:
    """The indexes of the labels to draw, centred under columns `column` wide that start at
    0 and end at `room`: every n-th one for the smallest n of `steps` that leaves a gap of at
    least one character between neighbours, none sticking out at either end."""
    if not labels:
        return []
    widest = max(text_width(label) for label in labels) + FONT_SIZE * CHAR_WIDTH
    every = next((n for n in steps if n * column >= widest), None)
    if every is None:
        every = max(math.ceil(widest / column), 1)
    first = 0
    while first < len(labels) and (first + 0.5) * column < text_width(labels[first]) / 2:
        first += 1
    return [
        index
        for index in range(first, len(labels), every)
        if (index + 0.5) * column + text_width(labels[index]) / 2 <= room
    ]


def timeline(
    counts_by_hour: dict[str, int],
    title: str,
    start: datetime,
    end: datetime,
    zone: str = "UTC",
) -> Markup:
    """Columns per day (or per hour, over two days or less) from `start` to `end`, by the
    clock of `zone` (an IANA name); `counts_by_hour` are keyed by UTC hour, ``2025-10-27T09``.
    Only as many axis labels as fit side by side are drawn, and the zone is named."""
    tz = ZoneInfo(zone)
    hourly = end - start <= timedelta(days=2)
    # Buckets by the wall clock of `zone` (naive local times): a day is a calendar day, also
    # on the day summer time begins or ends.
    first = start.astimezone(tz).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    last = end.astimezone(tz).replace(tzinfo=None)
    if not hourly:
        first = first.replace(hour=0)
    buckets: dict[datetime, int] = {}
    moment = first
    while moment <= last and len(buckets) < 400:
        buckets[moment] = 0
        moment += timedelta(hours=1) if hourly else timedelta(days=1)
    for hour, value in counts_by_hour.items():
        try:
            at = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC).astimezone(tz)
        except ValueError:
            continue
        local = at.replace(minute=0, tzinfo=None)
        key = local if hourly else local.replace(hour=0)
        if key in buckets:
            buckets[key] += value
    height, bottom, top = 170, 40, 22
    largest = max([*buckets.values(), 1])
    left = text_width(f"{largest:,}") + 6
    column = (WIDTH - left) / max(len(buckets), 1)
    chart = height - bottom - top
    parts = [
        f'<text x="{left - 4:.1f}" y="{top + 5}" {_FONT} fill="{_MUTED}" text-anchor="end">{largest:,}</text>',
        f'<text x="{left - 4:.1f}" y="{height - bottom}" {_FONT} fill="{_MUTED}" text-anchor="end">0</text>',
        f'<line x1="{left:.1f}" y1="{height - bottom}" x2="{WIDTH}" y2="{height - bottom}" stroke="{_AXIS}"/>',
    ]
    labels = [_tick(moment, hourly) for moment in buckets]
    shown = set(thinned(labels, column, HOUR_STEPS if hourly else DAY_STEPS, WIDTH - left))
    for index, (moment, value) in enumerate(buckets.items()):
        x = left + index * column
        bar = chart * value / largest
        parts.append(
            f'<rect x="{x + min(1, column / 4):.1f}" y="{height - bottom - bar:.1f}" '
            f'width="{max(column - min(2, column / 2), 0.5):.1f}" height="{bar:.1f}" '
            f'fill="{FUNNEL_COLOURS[3]}"><title>{escape(_tick(moment, hourly, full=True))}: '
            f"{value:,}</title></rect>"
        )
        if index in shown:
            centre = x + column / 2
            parts.append(
                f'<line x1="{centre:.1f}" y1="{height - bottom}" x2="{centre:.1f}" '
                f'y2="{height - bottom + 4}" stroke="{_AXIS}"/>'
                f'<text x="{centre:.1f}" y="{height - bottom + 18}" {_FONT} fill="{_INK}" '
                f'text-anchor="middle" class="tick">{escape(labels[index])}</text>'
            )
    parts.append(
        f'<text x="{WIDTH}" y="{height - 4}" {_FONT} fill="{_MUTED}" text-anchor="end">'
        f"{'hours' if hourly else 'days'}, {escape(zone)} time</text>"
    )
    total = sum(buckets.values())
    description = (
        f"{total:,} in all, at most {largest:,} in one {'hour' if hourly else 'day'} "
        f"(times in {zone})"
    )
    return _svg(WIDTH, height, title, description, "".join(parts))


def _tick(moment: datetime, hourly: bool, *, full: bool = False) -> str:
    day = f"{moment.day} {moment:%b}"
    if not hourly:
        return day
    return f"{day} {moment:%H}:00" if full or moment.hour == 0 else f"{moment:%H}:00"


def _describe(rows: Sequence[tuple[str, Sequence[int]]], stages: Sequence[str], empty: str) -> str:
    if not rows:
        return empty
    return "; ".join(
        f"{label}: "
        + (
            ", ".join(f"{stage} {value:,}" for stage, value in zip(stages, values, strict=True))
            if any(values)
            else empty
        )
        for label, values in rows
    )


def _svg(width: int, height: int, title: str, description: str, body: str) -> Markup:
    return Markup(  # noqa: S704 - every piece of text above went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:40rem" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>{body}</svg>"
    )
