"""Policy-change webhook bodies: validated against the published JSON schema
(``schemas/policy-change.schema.json``) and the region catalogue, every problem reported at once."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from optout.core import json_body
from optout.core.clock import iso, parse_iso
from optout.core.errors import InvalidInput, PayloadTooLarge
from optout.domain import plan, regions
from optout.domain.models import Policy, PolicyText

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

MAX_BODY_BYTES = 64 * 1024
CHANGED, WITHDRAWN = "policy.changed", "policy.withdrawn"
# A short title fits the schema's 40 characters; in a script that writes no spaces between
# words (Chinese, Japanese, Thai) a character carries a word and a text message in it holds
# half as many characters (UCS-2), so half as many.
SHORT_TITLE_CHARS, SHORT_TITLE_CHARS_UNSPACED = 40, 20
# How far from today a region's deadline may lie.
DEADLINE_PAST, DEADLINE_AHEAD = timedelta(days=365), timedelta(days=5 * 366)
# Platforms whose names are not their slug capitalised.
_PLATFORM_NAMES = {
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "whatsapp": "WhatsApp",
    "x": "X",
}


# The parts of a campaign's text an organiser may change by hand (`optout.campaigns.manage.edit_text`).
EDITABLE_TEXT = (
    "title",
    "short_title",
    "summary",
    "steps",
    "setting_url",
    "source_url",
    "translations",
)


# What a policy.changed body must hold that a draft may still lack, by the schema's path, as an
# organiser reads it: a draft made from a change the watch found has none of them yet.
LAUNCH_NEEDS = {
    "regions": "regions and deadlines",
    "policy.steps": "the opt-out steps",
    "policy.setting_url": "the setting's address",
}


@dataclass(frozen=True)
class RegionDeadline:
    region: regions.Region
    deadline: datetime  # UTC


@dataclass(frozen=True)
class PolicyChange:
    type: str
    platform: str
    policy: Policy
    regions: tuple[RegionDeadline, ...]
    offsets_days: tuple[int, ...]
    local_hour: int
    catch_up: bool = True  # late joiners get the latest reminder at once
    draft: bool = False  # a new campaign waits for an organiser's launch


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The published schema of the webhook body."""
    text = (
        resources.files("optout")
        .joinpath("schemas", "policy-change.schema.json")
        .read_text("utf-8")
    )
    return dict(json.loads(text))


def _validator_for(rules: dict[str, Any]) -> Draft202012Validator:
    # Deferred: jsonschema (and the referencing and attrs it imports) takes a quarter of a
    # second to import from source, and only a webhook body or an organiser's text needs it,
    # not the links, pages and queues that read a campaign's policy (`policy_from`).
    from jsonschema import Draft202012Validator

    return Draft202012Validator(rules)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return _validator_for(schema())


def parse(body: bytes, now: datetime | None = None, *, draft: bool = False) -> PolicyChange:
    """The change a webhook body describes; `InvalidInput` lists every problem by its path.
    Given `now` (the stack's clock), each deadline must also lie a year back to five years
    ahead of it; the CLI, which cannot know a stack's clock, checks without it. A `draft`
    (an organiser's campaign not yet launched) may leave out what only launching needs
    (`LAUNCH_NEEDS`); everything it gives is checked as in any other body."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    document = json_body.parse_object(body)
    problems = {_path(error): _message(error) for error in _validator().iter_errors(document)}
    if draft:
        problems = {
            path: problem
            for path, problem in problems.items()
            if not (path in LAUNCH_NEEDS and problem == "is required")
        }
    entries = document.get("regions") if isinstance(document, dict) else None
    regions_given = entries if isinstance(entries, list) else []
    for path, problem in _check_regions(regions_given, now).items():
        problems.setdefault(path, problem)
    if problems:
        raise InvalidInput(dict(sorted(problems.items())))
    return _build(document)


def parse_text(raw: Any, *, where: str, required: tuple[str, ...]) -> Policy:
    """A policy's text on its own (an organiser's ad-hoc message), checked by the schema's
    rules for ``policy``, with `required` fields; problems are named from `where`."""
    rules = {**schema()["properties"]["policy"], "required": list(required)}
    validator = _validator_for(rules)
    problems = {
        f"{where}.{_path(error)}".removesuffix(".body"): _message(error)
        for error in validator.iter_errors(raw)
    }
    if problems:
        raise InvalidInput(dict(sorted(problems.items())))
    return policy_from(raw)


def _check_regions(entries: list[Any], now: datetime | None) -> dict[str, str]:
    """What the schema can't know: the region catalogue, real dates, and no region twice.
    Entries of the wrong shape are left to the schema's report."""
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"regions[{index}]"
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("region"), str):
            try:
                code = regions.resolve(entry["region"]).code
            except InvalidInput as error:
                problems[f"{where}.region"] = error.problems["region"]
            else:
                if code in seen:
                    problems[f"{where}.region"] = f"{code} is listed twice"
                seen.add(code)
        if isinstance(entry.get("effective_at"), str):
            problem = _deadline_problem(entry["effective_at"], now)
            if problem:
                problems[f"{where}.effective_at"] = problem
    return problems


def _deadline_problem(text: str, now: datetime | None) -> str | None:
    """Why `text` cannot be a region's deadline, or None. A deadline far from today is a
    typing error (0001 or 9999), and its reminders could not be planned or shown."""
    try:
        deadline = parse_iso(text)
    except (ValueError, OverflowError) as error:
        return f"not a real date and time with an offset: {error}"
    if now is not None and not now - DEADLINE_PAST <= deadline <= now + DEADLINE_AHEAD:
        return (
            f"must lie between {iso(now - DEADLINE_PAST)} and {iso(now + DEADLINE_AHEAD)} "
            "(a year back, five years ahead)"
        )
    return None


def _build(document: dict[str, Any]) -> PolicyChange:
    raw_policy = document["policy"]
    raw_plan = document.get("plan", {})
    return PolicyChange(
        type=document["type"],
        platform=document["platform"],
        policy=policy_from(raw_policy, document["platform"]),
        regions=tuple(
            RegionDeadline(regions.resolve(entry["region"]), parse_iso(entry["effective_at"]))
            for entry in document.get("regions", [])
        ),
        offsets_days=tuple(
            sorted(raw_plan.get("offsets_days", plan.DEFAULT_OFFSETS), reverse=True)
        ),
        local_hour=raw_plan.get("local_hour", plan.DEFAULT_LOCAL_HOUR),
        catch_up=raw_plan.get("catch_up", True),
        draft=document.get("draft", False),
    )


def launch_problem(policy: Policy, deadlines: Mapping[str, str]) -> str:
    """Why a draft with this text and these deadlines cannot be launched yet ("" if it can):
    what it still lacks of `LAUNCH_NEEDS`, as one sentence to act on."""
    lacking = [
        LAUNCH_NEEDS[path]
        for path, given in (
            ("regions", deadlines),
            ("policy.steps", policy.text.steps),
            ("policy.setting_url", policy.setting_url),
        )
        if not given
    ]
    if not lacking:
        return ""
    also = f"; it also needs {' and '.join(lacking[1:])}" if len(lacking) > 1 else ""
    return f"the draft is not complete: add {lacking[0]} first{also}"


def platform_name(platform: str) -> str:
    """How people write a platform's name: LinkedIn for linkedin, Meta for meta."""
    return _PLATFORM_NAMES.get(platform) or platform.replace("-", " ").title()


def short_title_for(title: str, platform: str = "") -> str:
    """The short title a text message uses when the sender gives none (the schema's rule):
    the title cut at the last word boundary within 40 characters (20 when it is written in a
    script without spaces between words, such as Chinese), never mid-word, without a dangling
    punctuation mark or space at its end; led by the platform's name when what is left of the
    title does not name it. Only a title that is one word longer than the limit is cut inside
    it, and only when there is no platform name to stand for it."""
    title = " ".join(title.split())
    limit = (
        SHORT_TITLE_CHARS_UNSPACED if any(map(_is_unspaced_script, title)) else SHORT_TITLE_CHARS
    )
    short = _cut(title, limit)
    name = platform_name(platform) if platform else ""
    if name and _squash(name) not in _squash(short):
        short = _cut(f"{name}: {title}", limit) or name
    return short or title[:limit]


def _cut(text: str, limit: int) -> str:
    """`text`, or its longest start of at most `limit` characters that ends at a word boundary
    (a space, or between two characters of a script without spaces), tidied; "" if none."""
    if len(text) > limit:
        ends = [
            i
            for i in range(1, limit + 1)
            if text[i] == " " or (_is_unspaced_script(text[i - 1]) and _is_unspaced_script(text[i]))
        ]
        text = text[: ends[-1]] if ends else ""
    return _strip_dangling(text)


def _squash(text: str) -> str:
    return re.sub(r"[\s-]", "", text).casefold()


def _is_unspaced_script(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"))


def _strip_dangling(text: str) -> str:
    """`text` without spaces, punctuation marks or symbols at its end (a closing bracket or
    quote that closes something kept stays)."""
    while text and (
        text[-1].isspace() or (unicodedata.category(text[-1])[0] in "PS" and not _closes(text))
    ):
        text = text[:-1]
    return text


def _closes(text: str) -> bool:
    """Whether `text` ends with a closing bracket or quote whose opening one it keeps."""
    closing = unicodedata.category(text[-1]) in ("Pe", "Pf")
    return closing and any(unicodedata.category(c) in ("Ps", "Pi") for c in text[:-1])


def policy_from(raw: dict[str, Any], platform: str = "") -> Policy:
    """A `Policy` from its JSON form (a webhook's, or a stored campaign's). A missing short
    title is made from the title (`short_title_for`), in English and in each translation that
    gives its own title."""
    english = PolicyText(
        title=raw.get("title", ""),
        short_title=raw.get("short_title") or short_title_for(raw.get("title", ""), platform),
        summary=raw.get("summary", ""),
        steps=tuple(raw.get("steps", ())),
    )
    translations = {
        locale: PolicyText(
            title=text.get("title", english.title),
            short_title=text.get("short_title")
            or (
                short_title_for(text["title"], platform) if "title" in text else english.short_title
            ),
            summary=text.get("summary", english.summary),
            steps=tuple(text.get("steps", english.steps)),
        )
        for locale, text in raw.get("translations", {}).items()
    }
    return Policy(
        id=raw["id"],
        text=english,
        source_url=raw.get("source_url", ""),
        setting_url=raw.get("setting_url", ""),
        translations=translations,
    )


def policy_document(policy: Policy) -> dict[str, Any]:
    """The JSON form of a policy, as the campaign stores it (the inverse of `policy_from`)."""

    def text(value: PolicyText) -> dict[str, Any]:
        return {
            "title": value.title,
            "short_title": value.short_title,
            "summary": value.summary,
            "steps": list(value.steps),
        }

    return {
        "id": policy.id,
        **text(policy.text),
        "source_url": policy.source_url,
        "setting_url": policy.setting_url,
        "translations": {locale: text(value) for locale, value in policy.translations.items()},
    }


def _path(error: ValidationError) -> str:
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        path += f".{missing}"
    return path.lstrip(".") or "body"


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return str(error.message)
    if not error.absolute_path:
        return "must be a JSON object"
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    # A description's first sentence says what is valid; the rest, what a default is.
    return f"must be {described.split('. ')[0]}" if described else str(error.message)
