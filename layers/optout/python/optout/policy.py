"""Policy-change webhook bodies: validated against the published JSON schema
(``schemas/policy-change.schema.json``) and the region catalogue, every problem reported at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from optout import plan, regions
from optout.clock import parse_iso
from optout.errors import InvalidInput, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024
CHANGED, WITHDRAWN = "policy.changed", "policy.withdrawn"


@dataclass(frozen=True)
class PolicyText:
    """What a reminder says about the policy, in one language."""

    title: str
    short_title: str  # for text messages
    summary: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    id: str
    text: PolicyText  # English
    source_url: str
    setting_url: str
    translations: dict[str, PolicyText]  # by locale; partial ones are completed from English

    def in_language(self, locale: str) -> PolicyText:
        """The text for `locale`: its own, its language's (fr for fr-CA), or English."""
        return (
            self.translations.get(locale)
            or self.translations.get(locale.split("-")[0])
            or self.text
        )


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


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The published schema of the webhook body."""
    text = (
        resources.files("optout")
        .joinpath("schemas", "policy-change.schema.json")
        .read_text("utf-8")
    )
    return dict(json.loads(text))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def parse(body: bytes) -> PolicyChange:
    """The change a webhook body describes; `InvalidInput` lists every problem by its path."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        document = json.loads(body)
    except RecursionError:
        raise InvalidInput({"body": "JSON nested too deeply"}) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput({"body": f"not valid JSON: {error}"}) from None
    problems = {_path(error): _message(error) for error in _validator().iter_errors(document)}
    entries = document.get("regions") if isinstance(document, dict) else None
    for path, problem in _check_regions(entries if isinstance(entries, list) else []).items():
        problems.setdefault(path, problem)
    if problems:
        raise InvalidInput(dict(sorted(problems.items())))
    return _build(document)


def parse_text(raw: Any, *, where: str, required: tuple[str, ...]) -> Policy:
    """A policy's text on its own (an organiser's ad-hoc message), checked by the schema's
    rules for ``policy``, with `required` fields; problems are named from `where`."""
    rules = {**schema()["properties"]["policy"], "required": list(required)}
    validator = Draft202012Validator(rules)
    problems = {
        f"{where}.{_path(error)}".removesuffix(".body"): _message(error)
        for error in validator.iter_errors(raw)
    }
    if problems:
        raise InvalidInput(dict(sorted(problems.items())))
    return policy_from(raw)


def _check_regions(entries: list[Any]) -> dict[str, str]:
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
            try:
                parse_iso(entry["effective_at"])
            except ValueError as error:
                problems[f"{where}.effective_at"] = (
                    f"not a real date and time with an offset: {error}"
                )
    return problems


def _build(document: dict[str, Any]) -> PolicyChange:
    raw_policy = document["policy"]
    raw_plan = document.get("plan", {})
    return PolicyChange(
        type=document["type"],
        platform=document["platform"],
        policy=policy_from(raw_policy),
        regions=tuple(
            RegionDeadline(regions.resolve(entry["region"]), parse_iso(entry["effective_at"]))
            for entry in document.get("regions", [])
        ),
        offsets_days=tuple(
            sorted(raw_plan.get("offsets_days", plan.DEFAULT_OFFSETS), reverse=True)
        ),
        local_hour=raw_plan.get("local_hour", plan.DEFAULT_LOCAL_HOUR),
    )


def policy_from(raw: dict[str, Any]) -> Policy:
    """A `Policy` from its JSON form (a webhook's, or a stored campaign's)."""
    english = PolicyText(
        title=raw.get("title", ""),
        short_title=raw.get("short_title", "") or raw.get("title", ""),
        summary=raw.get("summary", ""),
        steps=tuple(raw.get("steps", ())),
    )
    translations = {
        locale: PolicyText(
            title=text.get("title", english.title),
            short_title=text.get("short_title", english.short_title),
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
    return f"must be {described}" if described else str(error.message)
