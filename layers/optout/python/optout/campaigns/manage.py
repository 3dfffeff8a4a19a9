"""What organisers do to campaigns by hand: list, show, create, launch, edit, pause, resume and
cancel them; in a coalition, say which organisations joined one, or leave it.

Each organiser sees the campaigns their organisation runs or joined (the coalition owner sees
all): one they may not see is answered as one that does not exist. Only the organisers of the
organisation that runs it (and the owner) change it; members only read it, or leave.

Campaigns made here are the same as the webhook's: the same document, validated by the same
schema, planned by the same code. Editing a campaign's text is allowed until its first
reminder has gone out; after that, what people read must stay what was sent.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from optout.campaigns import policy_changes
from optout.core.clock import iso
from optout.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain import ab, plan, policy
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    STARTED,
    Campaign,
    CampaignStatus,
    Reminder,
    ReminderState,
)
from optout.domain.organisations import OWNER, Organiser
from optout.domain.policy import EDITABLE_TEXT
from optout.messages import reminders as messages
from optout.store import CampaignStore, OrganisationStore


def list_campaigns(settings: Settings, seen_by: Organiser = OWNER) -> list[dict[str, Any]]:
    """Every campaign `seen_by` may see, newest first, with its regions' deadlines."""
    found = [c for c in CampaignStore(settings).campaigns() if _sees(seen_by, c)]
    return sorted(
        (_summary(item) for item in found), key=lambda c: c["created_at"] or "", reverse=True
    )


def visible(settings: Settings, seen_by: Organiser, campaign_id: str) -> Campaign:
    """The campaign, if `seen_by` may see it: their organisation runs it or joined it, or they
    are the coalition owner. NotFound otherwise, exactly as for a campaign that does not exist,
    so that nobody learns of another organisation's campaigns."""
    campaign = _existing(CampaignStore(settings), campaign_id)
    if not _sees(seen_by, campaign):
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign


def changeable(settings: Settings, seen_by: Organiser, campaign_id: str) -> Campaign:
    """The campaign, if `seen_by` may change it: the organisers of the organisation that runs
    it, and the coalition owner. A member organisation's organisers only read it: Forbidden."""
    campaign = visible(settings, seen_by, campaign_id)
    if not (seen_by.owner or seen_by.organisation == campaign.organisation):
        raise Forbidden(
            f"only {campaign.organisation}'s organisers or the coalition owner change this campaign"
        )
    return campaign


def set_organisations(
    settings: Settings, campaign_id: str, document: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Which organisations joined the campaign (``members``: every one but the organisation
    that runs it), and optionally the order its messages are attributed in to a person who
    belongs to several (``attribution``; left out: the organisation they joined first). The
    coalition owner's only: an organisation's messages carry its name, and nobody but the
    owner, whom all trust, may make another organisation send."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    unknown = sorted(set(document) - {"members", "attribution"})
    problems = {name: "not a field (members, attribution)" for name in unknown}
    members = _organisation_ids(document.get("members"), "members", problems)
    attribution = _organisation_ids(document.get("attribution", []), "attribution", problems)
    added = OrganisationStore(settings).organisations()
    known = {DEFAULT_ORGANISATION, *(org.organisation_id for org in added)}
    for name, listed in (("members", members), ("attribution", attribution)):
        strangers = [org for org in listed if org not in known]
        if strangers:
            problems[name] = "no such organisations: " + ", ".join(strangers)
    if campaign.organisation in members:
        problems["members"] = (
            f"names {campaign.organisation}, which runs the campaign: list only those that "
            "joined it"
        )
    outside = [org for org in attribution if org not in (campaign.organisation, *members)]
    if outside and "attribution" not in problems:
        problems["attribution"] = "not organisations of this campaign: " + ", ".join(outside)
    if problems:
        raise InvalidInput(problems)
    store.set_organisations(campaign_id, members, attribution, now)
    logger.info(
        "campaign's organisations set", extra={"campaign_id": campaign_id, "members": members}
    )
    return _organisations_of(replace(campaign, members=members, attribution=attribution))


def organisations_from_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A campaign's organisations from the dashboard's form: a box per organisation that may
    join it (none checked: none joined), and the attribution order as ids separated by commas
    or spaces."""
    members = fields.get("members", [])
    order = str(fields.get("attribution", "")).replace(",", " ").split()
    return {
        "members": [members] if isinstance(members, str) else list(members),
        "attribution": order,
    }


def leave(
    settings: Settings, seen_by: Organiser, campaign_id: str, now: datetime
) -> dict[str, Any]:
    """Take `seen_by`'s organisation out of a campaign it joined: its members are no longer
    reached by it (those of other organisations still are)."""
    campaign = visible(settings, seen_by, campaign_id)
    mine = seen_by.organisation
    if mine == campaign.organisation:
        raise Conflict(f"{mine} runs this campaign: cancel it rather than leave it")
    if mine not in campaign.members:
        raise Conflict(f"{mine} has not joined this campaign")
    members = tuple(org for org in campaign.members if org != mine)
    attribution = tuple(org for org in campaign.attribution if org != mine)
    CampaignStore(settings).set_organisations(campaign_id, members, attribution, now)
    logger.info("organisation left a campaign", extra={"campaign_id": campaign_id, "left": mine})
    return _organisations_of(replace(campaign, members=members, attribution=attribution))


def show_campaign(settings: Settings, campaign_id: str) -> dict[str, Any]:
    """A campaign, its plan per region (each reminder's state and counts) and its counters."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    regions: dict[str, list[dict[str, Any]]] = {code: [] for code in campaign.regions}
    for reminder in sorted(store.reminders(campaign_id), key=lambda r: r.due_at):
        regions.setdefault(reminder.region, []).append(_reminder_view(reminder))
    return {
        **_summary(campaign),
        "policy": policy.policy_document(campaign.policy),
        "plan": regions,
        "good_news_available": policy_changes.good_news_available(
            campaign, store.reminders(campaign_id)
        ),
        "stats": store.stats(campaign_id),
        "ab_tests": [_test_view(test) for test in campaign.ab_tests],
        "held_batches": store.count_held_batches(campaign_id),
        # What a draft still needs before it can be launched ("" when nothing).
        "to_complete": policy.launch_problem(campaign.policy, campaign.regions)
        if campaign.status == CampaignStatus.DRAFT
        else "",
    }


def create_campaign(
    settings: Settings,
    body: bytes,
    *,
    base_url: str,
    now: datetime,
    draft: bool = False,
    organisation: str = DEFAULT_ORGANISATION,
) -> dict[str, Any]:
    """A campaign from a policy-change document, exactly as the webhook would make it, run by
    `organisation`; as a draft, it is planned but sends nothing until it is launched."""
    change = policy.parse(body, now)
    if CampaignStore(settings).get_campaign(change.policy.id) is not None:
        raise Conflict(f"campaign {change.policy.id!r} exists: edit it instead")
    status = CampaignStatus.DRAFT if draft or change.draft else CampaignStatus.ACTIVE
    return policy_changes.apply(
        settings, change, base_url=base_url, now=now, status=status, organisation=organisation
    )


def create_draft(
    settings: Settings, document: Mapping[str, Any], *, base_url: str, now: datetime
) -> dict[str, Any]:
    """A draft campaign from a policy-change document that may still lack what only launching
    needs (`policy.LAUNCH_NEEDS`: regions and deadlines, steps, the setting's address): the
    rest is validated by the webhook's schema. It sends nothing; `complete_draft` adds what
    it lacks, and `launch` refuses it until then."""
    change = policy.parse(json.dumps(document).encode(), now, draft=True)
    if CampaignStore(settings).get_campaign(change.policy.id) is not None:
        raise Conflict(f"campaign {change.policy.id!r} exists: edit it instead")
    return policy_changes.apply(
        settings, change, base_url=base_url, now=now, status=CampaignStatus.DRAFT
    )


def complete_draft(
    settings: Settings, campaign_id: str, changes: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Add to a draft, or change, its ``regions`` (each region's deadline), ``policy`` (any of
    its text and links, steps among them) and ``plan``, as in a policy-change document; what
    is not given stays. The whole document is validated by the webhook's schema (regions,
    steps and the setting's address may still wait: launching checks them) and planned
    again. Only a draft: once launched, its text changes by `edit_text`."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(f"the campaign is {campaign.status}, not a draft: edit its text instead")
    unknown = sorted(set(changes) - {"regions", "policy", "plan"})
    if unknown:
        raise InvalidInput({name: "not a part of a draft to change" for name in unknown})
    text = changes.get("policy", {})
    if not isinstance(text, Mapping):
        raise InvalidInput({"policy": "must be a JSON object"})
    document = _document(campaign, text)
    document.update({name: changes[name] for name in ("regions", "plan") if name in changes})
    change = policy.parse(json.dumps(document).encode(), now, draft=True)
    return policy_changes.apply(settings, change, base_url=campaign.base_url, now=now)


def launch(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Start a draft: its due reminders go out at the next tick (the latest of each region).
    A draft that lacks regions, steps or the setting's address is refused, saying which."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        # A launch that stopped before its event was queued: the retry tells it.
        policy_changes.settle_launch(settings, store, campaign_id, now)
        raise Conflict(f"the campaign is {campaign.status}, not a draft")
    lacking = policy.launch_problem(campaign.policy, campaign.regions)
    if lacking:
        raise Conflict(lacking)
    # The run first, then active: a crash in between leaves a draft, launched again by a retry.
    store.mark_launched(campaign_id, now, policy_changes.last_deadline(campaign, now))
    store.set_status(campaign_id, CampaignStatus.ACTIVE, now)
    policy_changes.settle_launch(settings, store, campaign_id, now)
    logger.info("campaign launched", extra={"campaign_id": campaign_id})
    return {"campaign_id": campaign_id, "status": CampaignStatus.ACTIVE}


def edit_text(
    settings: Settings, campaign_id: str, changes: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Change what reminders say (title, summary, steps, links, translations), until the
    first reminder has gone out. The result is validated as a whole by the webhook schema."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    unknown = sorted(set(changes) - set(EDITABLE_TEXT))
    if unknown:
        raise InvalidInput({name: "cannot be edited here" for name in unknown})
    started = [r for r in store.reminders(campaign_id) if r.state in STARTED]
    if started:
        raise Conflict("reminders have gone out: their text can no longer change")
    document = _document(campaign, changes)
    draft = campaign.status == CampaignStatus.DRAFT  # it may still wait for its regions
    change = policy.parse(json.dumps(document).encode(), now, draft=draft)
    return policy_changes.apply(settings, change, base_url=campaign.base_url, now=now)


def pause(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Stop sending: due reminders wait, batches already queued are held, nothing is lost."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign.status != CampaignStatus.ACTIVE:
        raise Conflict(f"the campaign is {campaign.status}, not active")
    store.set_status(campaign_id, CampaignStatus.PAUSED, now, "paused by an organiser")
    logger.info("campaign paused", extra={"campaign_id": campaign_id})
    return {"campaign_id": campaign_id, "status": CampaignStatus.PAUSED}


def resume(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Send again: held batches go back in the due index (the next tick sends them), and due
    reminders go out, the latest of each region only, as after any pause in the schedule."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise Conflict(f"the campaign is {campaign.status}, not paused")
    store.set_status(campaign_id, CampaignStatus.ACTIVE, now)
    released = store.release_held_batches(campaign_id, now)
    logger.info("campaign resumed", extra={"campaign_id": campaign_id, "batches": released})
    return {
        "campaign_id": campaign_id,
        "status": CampaignStatus.ACTIVE,
        "held_batches_released": released,
    }


def set_catch_up(
    settings: Settings, campaign_id: str, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Turn on or off the catch-up of late joiners (`optout.sending.catch_up`): the one field
    `enabled` is true or false, as JSON or as a form's "true" or "false"."""
    problems = {name: "not a field of this action" for name in sorted(set(fields) - {"enabled"})}
    enabled = fields.get("enabled")
    switched = {True: True, False: False, "true": True, "false": False}.get(
        enabled if isinstance(enabled, bool | str) else None
    )
    if switched is None:
        problems["enabled"] = "true or false"
    if problems or switched is None:
        raise InvalidInput(problems)
    store = CampaignStore(settings)
    _existing(store, campaign_id)
    store.set_catch_up(campaign_id, switched, now)
    logger.info("campaign catch-up set", extra={"campaign_id": campaign_id, "enabled": switched})
    return {"campaign_id": campaign_id, "catch_up": switched}


def set_ab_tests(
    settings: Settings, campaign_id: str, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Give reminders variants to test (`optout.domain.ab`): the one field ``ab_tests``, a list
    of tests, each naming its reminder by ``days_before`` the deadline, with its ``variants``
    (two or more: a ``subject`` and/or an ``opening`` per language, "en" required), its
    ``share`` of the audience (0.2) and its ``wait_hours`` (4). The list replaces the
    campaign's tests; an empty one removes them. Refused with a 409 once a reminder it
    concerns has gone out, and with a 400 naming each problem (one variant, a share outside
    0-1, a language the bot does not speak, a template that does not render): then nothing
    changes."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    unknown = sorted(set(fields) - {"ab_tests"})
    problems = {name: "not a field of this action" for name in unknown}
    raw = fields.get("ab_tests")
    problems.update(ab.problems_of(raw, campaign.offsets_days, SUPPORTED_LOCALES))
    if problems:
        raise InvalidInput(problems)
    assert isinstance(raw, list)
    tests = ab.parse_tests(raw, secrets.token_hex(16))
    for index, test in enumerate(tests):
        problems.update(
            {
                f"ab_tests[{index}].{where}": problem
                for where, problem in messages.check_variants(settings, campaign, test, now).items()
            }
        )
    if problems:
        raise InvalidInput(problems)
    # A test keeps its seed (where each person stands) for as long as it exists: saving the
    # campaign's tests again moves nobody, neither in a test nor in a reminder going out now.
    before = {test.days_before: test for test in campaign.ab_tests}
    tests = tuple(
        replace(test, seed=before[test.days_before].seed) if test.days_before in before else test
        for test in tests
    )
    after = {test.days_before: test for test in tests}
    changed = {
        days
        for days in set(before) | set(after)
        if _test_view_of(before.get(days)) != _test_view_of(after.get(days))
    }
    # Only a change to a reminder that has gone out is refused: its test (frozen when its test
    # share started) is what its people were split by; the campaign's other tests may change.
    started = [
        r.reminder_id
        for r in store.reminders(campaign_id)
        if r.state in STARTED and not r.notice and r.days_before in changed
    ]
    if started:
        raise Conflict(
            f"reminders with these days before the deadline have gone out ({', '.join(started)}): "
            "their test can no longer change"
        )
    store.set_ab_tests(campaign_id, tests, now)
    logger.info("campaign A/B tests set", extra={"campaign_id": campaign_id, "tests": len(tests)})
    return {"campaign_id": campaign_id, "ab_tests": [_test_view(test) for test in tests]}


def _test_view_of(test: ab.ABTest | None) -> dict[str, Any] | None:
    return _test_view(test) if test else None


def _test_view(test: ab.ABTest) -> dict[str, Any]:
    """A test as organisers read it (its hash key stays inside)."""
    document = ab.document_of(test)
    document.pop("seed")
    return document


def cancel(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """End the campaign: no reminder that has not gone out will."""
    _existing(CampaignStore(settings), campaign_id)
    return policy_changes.withdraw(settings, campaign_id, now)


def send_good_news(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """After a withdrawal, tell everyone of the regions that had reminders out that the
    change is dropped and nothing needs doing: a notice per region, due at once, through the
    scheduler, fan-out and sender like every reminder (texts wait for the morning; one claim
    per person). Once: asked again, a 409."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign.status != CampaignStatus.WITHDRAWN:
        raise Conflict(f"the campaign is {campaign.status}, not withdrawn")
    reminders = store.reminders(campaign_id)
    if not policy_changes.good_news_available(campaign, reminders):
        raise Conflict("no good news to send: none went out, or it was sent already")
    planned = [
        replace(
            latest,
            days_before=0,
            kind=plan.GOOD_NEWS,
            due_at=iso(now),
            state=ReminderState.PENDING,
            notice=plan.next_notice(reminders, latest.region),
            reason="",
            fanout_jobs=None,
            shards_done=None,
            audience_size=None,
            batches=None,
            progress={},
            finished_at="",
        )
        for latest in plan.good_news(reminders)
    ]
    for notice in planned:
        store.save_unsent_reminder(notice)
    logger.info("good news planned", extra={"campaign_id": campaign_id, "regions": len(planned)})
    return {"campaign_id": campaign_id, "status": campaign.status, "good_news": len(planned)}


def _document(campaign: Campaign, text: Mapping[str, Any]) -> dict[str, Any]:
    """The campaign as a policy-change document, its policy's fields changed by `text`."""
    document: dict[str, Any] = {
        "type": policy.CHANGED,
        "platform": campaign.platform,
        "policy": {**policy.policy_document(campaign.policy), **text, "id": campaign.campaign_id},
        "plan": {
            "offsets_days": list(campaign.offsets_days),
            "local_hour": campaign.local_hour,
            "catch_up": campaign.catch_up,
        },
    }
    if campaign.regions:  # a draft may have none yet
        document["regions"] = [
            {"region": code, "effective_at": deadline}
            for code, deadline in campaign.regions.items()
        ]
    # A draft's policy leaves out what it does not have yet, rather than give it empty.
    document["policy"] = {
        name: value for name, value in document["policy"].items() if value not in ("", [])
    }
    return document


def _existing(store: CampaignStore, campaign_id: str) -> Campaign:
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign


def _sees(organiser: Organiser, campaign: Campaign) -> bool:
    return organiser.owner or organiser.organisation in campaign.organisations


def _organisation_ids(raw: object, name: str, problems: dict[str, str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(org, str) for org in raw):
        problems[name] = "a list of organisations' ids"
        return ()
    return tuple(dict.fromkeys(org.strip() for org in raw))


def _organisations_of(campaign: Campaign) -> dict[str, Any]:
    return {"campaign_id": campaign.campaign_id, **_organisations(campaign)}


def _organisations(campaign: Campaign) -> dict[str, Any]:
    """Whose campaign it is, and who joined it (`Campaign.organisation`, `members`,
    `attribution`)."""
    return {
        "organisation": campaign.organisation,
        "members": list(campaign.members),
        "attribution": list(campaign.attribution),
    }


def _summary(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "title": campaign.policy.text.title,
        "platform": campaign.platform,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
        "catch_up": campaign.catch_up,
        "regions": dict(sorted(campaign.regions.items(), key=lambda pair: pair[1])),
        "created_at": campaign.created_at or None,
        "updated_at": campaign.updated_at or None,
        **_organisations(campaign),
    }


def _reminder_view(reminder: Reminder) -> dict[str, Any]:
    view: dict[str, Any] = {
        "kind": reminder.kind,
        "days_before": reminder.days_before,
        "due_at": reminder.due_at,
        "deadline": reminder.deadline,
        "state": reminder.state,
    }
    if reminder.notice:  # a deadline notice, the region's n-th ("the deadline moved")
        view["notice"] = reminder.notice
    if reminder.reason:
        view["reason"] = reminder.reason
    counts = {
        "audience_size": reminder.audience_size,
        "batches": reminder.batches,
        "shards_done": reminder.shards_done,
        "fanout_jobs": reminder.fanout_jobs,
    }
    view.update({name: count for name, count in counts.items() if count is not None})
    return view
