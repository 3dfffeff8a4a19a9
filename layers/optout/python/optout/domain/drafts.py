"""A draft campaign as organisers complete it on the dashboard: the form on a draft's page, read
into the parts of a policy-change document it fills (`optout.campaigns.manage.complete_draft`
validates the whole document with the webhook's schema).

The form has a text box for the regions, one a line: a region and its deadline, as a date
(midnight there: in the region's reference time zone, as the plan reckons its mornings), a
date and a time there, or an ISO 8601 date and time with its offset:

    EU 2025-11-03
    CA 2025-11-03 00:00
    HK 2025-11-03T00:00:00+08:00

and one for the opt-out steps, one a line; the title, summary and setting's address as text.
A field left empty changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from optout.core.clock import parse_iso
from optout.core.errors import InvalidInput
from optout.domain import plan, regions

FORM_TEXT = ("title", "summary", "setting_url")
FORM_FIELDS = frozenset({*FORM_TEXT, "steps", "regions"})
_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2}))?$")


def from_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a policy-change document the form's fields give: ``policy`` (title,
    summary, setting_url, steps) and ``regions``. `InvalidInput` names each field and line
    that cannot be read."""
    problems = {name: "not a field of this form" for name in sorted(set(fields) - FORM_FIELDS)}
    policy: dict[str, Any] = {}
    for name in FORM_TEXT:
        value = str(fields.get(name, "")).strip()
        if value:
            policy[name] = value
    steps = _lines(fields.get("steps", ""))
    if steps:
        policy["steps"] = steps
    document: dict[str, Any] = {"policy": policy} if policy else {}
    entries = []
    for number, line in enumerate(_lines(fields.get("regions", "")), start=1):
        try:
            entries.append(_region_line(line))
        except ValueError as error:
            problems.setdefault("regions", "")
            problems["regions"] += f"{'; ' if problems['regions'] else ''}line {number}: {error}"
    if problems:
        raise InvalidInput(problems)
    if entries:
        document["regions"] = entries
    return document


def _lines(value: object) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _region_line(line: str) -> dict[str, str]:
    """``{"region", "effective_at"}`` from "EU 2025-11-03" and the like; ValueError says why not."""
    code, _, when = line.replace(",", " ").partition(" ")
    when = when.strip()
    try:
        region = regions.resolve(code)
    except InvalidInput as error:
        raise ValueError(error.problems["region"]) from None
    if not when:
        raise ValueError(f"{region.code} needs its deadline, like {region.code} 2025-11-03")
    local = _LOCAL.fullmatch(when)
    try:
        if local:
            day, hour, minute = local.groups()
            at = time(int(hour or 0), int(minute or 0))
            deadline = datetime.combine(
                date.fromisoformat(day), at, tzinfo=plan.reference_zone(region)
            )
        else:
            deadline = parse_iso(when)
    except ValueError:
        raise ValueError(
            f"{when!r} is not a date (2025-11-03), a date and time (2025-11-03 09:00) or an "
            "ISO 8601 date and time with its offset"
        ) from None
    return {"region": region.code, "effective_at": deadline.isoformat(timespec="seconds")}
