"""The organisers' email about a change a watch found: which platform and page, how much it may
matter (the score, the terms found), the sentences added and removed, and the links to act on it
(the dashboard's change page, where a campaign is drafted, and the page watched). In English, as
the dashboard is.

The sentences come from a web page, so they are untrusted: the HTML part escapes them like
everything else it is given, and the lists are capped, as is each sentence, so a rewritten page
cannot make an email that no one reads to the end. The whole change is on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from optout.core import clock
from optout.domain.locales import DEFAULT_LOCALE
from optout.domain.policy import platform_name
from optout.messages import render

TEMPLATE = "change_detected"  # messages/change_detected/
MAX_SENTENCES = 8  # of each list, added and removed; then "... and N more"
MAX_CHARACTERS = 400  # of one sentence; a block without a full stop can be a whole page


def change_email(change: Mapping[str, Any], dashboard_url: str) -> tuple[str, str, str]:
    """The subject, plain text and HTML of the organisers' email about `change` (a change as
    recorded: its `change_id`, `watch_id`, `platform`, `title`, `about` ("policy" or
    "setting"), `detected_at`, `added`, `removed`, `terms`, `score`, `source_url` and
    `setting_url`). `dashboard_url` is the dashboard's root (``https://.../admin``): the email
    links to ``{dashboard_url}/changes/{change_id}`` and to the watch."""
    root = dashboard_url.rstrip("/")
    added, removed = list(change["added"]), list(change["removed"])
    context = {
        "platform": platform_name(str(change["platform"])),
        "title": change["title"],
        "about": change["about"],
        "detected_at": _shown_time(change["detected_at"]),
        "score": f"{float(change['score']):.2f}",
        "terms": list(change["terms"]),
        "added": _shown(added),
        "added_count": len(added),
        "added_more": max(0, len(added) - MAX_SENTENCES),
        "removed": _shown(removed),
        "removed_count": len(removed),
        "removed_more": max(0, len(removed) - MAX_SENTENCES),
        "source_url": change["source_url"],
        "setting_url": change["setting_url"],
        "change_url": f"{root}/changes/{quote(str(change['change_id']), safe='')}",
        "watch_url": f"{root}/watches/{quote(str(change['watch_id']), safe='')}",
    }
    subject, text, html = (
        render.message_part(TEMPLATE, DEFAULT_LOCALE, part, context)
        for part in ("subject.txt", "body.txt", "body.html")
    )
    # A title is typed by an organiser: a line break in it must not break the Subject header.
    return " ".join(subject.split()), text, html


def _shown(sentences: Sequence[str]) -> list[str]:
    """The first sentences of a list, each on one line and cut to `MAX_CHARACTERS`."""
    shown = []
    for sentence in sentences[:MAX_SENTENCES]:
        line = " ".join(str(sentence).split())
        shown.append(line if len(line) <= MAX_CHARACTERS else line[: MAX_CHARACTERS - 1] + "…")
    return shown


def _shown_time(value: Any) -> str:
    """When the change was detected, as the dashboard writes it (UTC)."""
    moment = value if isinstance(value, datetime) else clock.parse_iso(str(value))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
