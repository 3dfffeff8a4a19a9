"""Charts for the dashboard, drawn here as SVG: no script, no third-party request, readable by
screen readers (each chart has a title and a description, and the page shows its numbers in a
table beside it).

Text in the SVG is escaped here, since the markup is handed to templates as safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from markupsafe import Markup

# Colour-blind-safe steps of one hue family, dark enough for white text (WCAG AA on white).
FUNNEL_COLOURS = ("#3b4a66", "#1f5fbf", "#7a4fb3", "#16794a")
_FONT = 'font-family="system-ui, sans-serif" font-size="15"'


def funnel(rows: Sequence[tuple[str, Sequence[int]]], stages: Sequence[str], title: str) -> Markup:
    """Horizontal bars: for each row (a region), one bar per stage, scaled to the largest."""
    label_width, bar_height, gap, width = 70, 16, 10, 640
    scale_width = width - label_width - 70
    largest = max([value for _, values in rows for value in values] + [1])
    height = len(rows) * (len(stages) * bar_height + gap) + 36
    parts = []
    y = 28
    for label, values in rows:
        parts.append(
            f'<text x="0" y="{y + bar_height * len(stages) / 2 + 4:.0f}" {_FONT} '
            f'font-weight="600">{escape(label)}</text>'
        )
        for index, value in enumerate(values):
            bar = max(round(value / largest * scale_width), 1 if value else 0)
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{bar}" height="{bar_height - 2}" '
                f'fill="{FUNNEL_COLOURS[index % len(FUNNEL_COLOURS)]}">'
                f"<title>{escape(label)} {escape(stages[index])}: {value:,}</title></rect>"
                f'<text x="{label_width + bar + 6}" y="{y + bar_height - 5}" {_FONT}>{value:,}</text>'
            )
            y += bar_height
        y += gap
    legend = "".join(
        f'<rect x="{label_width + i * 130}" y="4" width="12" height="12" '
        f'fill="{FUNNEL_COLOURS[i % len(FUNNEL_COLOURS)]}"/>'
        f'<text x="{label_width + i * 130 + 17}" y="14" {_FONT}>{escape(stage)}</text>'
        for i, stage in enumerate(stages)
    )
    return _svg(width, height, title, _describe(rows, stages), legend + "".join(parts))


def timeline(counts_by_hour: dict[str, int], title: str, start: datetime, end: datetime) -> Markup:
    """Columns per day (or per hour, over two days or less) from `start` to `end`, UTC."""
    hourly = end - start <= timedelta(days=2)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    key_format = "%Y-%m-%dT%H" if hourly else "%Y-%m-%d"
    buckets: dict[str, int] = {}
    moment = start.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        moment = moment.replace(hour=0)
    while moment <= end and len(buckets) < 400:
        buckets[moment.strftime(key_format)] = 0
        moment += step
    for hour, value in counts_by_hour.items():
        key = hour if hourly else hour[:10]
        if key in buckets:
            buckets[key] += value
    width, height, left, bottom = 640, 180, 40, 24
    largest = max([*buckets.values(), 1])
    column = (width - left) / max(len(buckets), 1)
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#8a93a3"/>',
        f'<text x="0" y="14" {_FONT}>{largest:,}</text>',
        f'<text x="0" y="{height - bottom}" {_FONT}>0</text>',
    ]
    labels_every = max(len(buckets) // 8, 1)
    for index, (key, value) in enumerate(buckets.items()):
        x = left + index * column
        bar = (height - bottom - 8) * value / largest
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{height - bottom - bar:.1f}" width="{max(column - 2, 1):.1f}" '
            f'height="{bar:.1f}" fill="#16794a"><title>{escape(key)}: {value:,}</title></rect>'
        )
        if index % labels_every == 0:
            label = key[11:] + ":00" if hourly else key[5:]
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" {_FONT}>{escape(label)}</text>')
    total = sum(buckets.values())
    description = f"{total:,} in all, at most {largest:,} in one {'hour' if hourly else 'day'}"
    return _svg(width, height, title, description, "".join(parts))


def _describe(rows: Sequence[tuple[str, Sequence[int]]], stages: Sequence[str]) -> str:
    return "; ".join(
        f"{label}: "
        + ", ".join(f"{stage} {value:,}" for stage, value in zip(stages, values, strict=True))
        for label, values in rows
    )


def _svg(width: int, height: int, title: str, description: str, body: str) -> Markup:
    return Markup(  # noqa: S704 - every piece of text above went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>{body}</svg>"
    )
