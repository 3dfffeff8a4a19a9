"""What the events for the organisers' own tools tell (`optout.core.events`, whose docstring
lists each type's fields): their `data`, made from the records they tell of, and their keys.

Pure: the producers (the confirmation, the links, the feedback, the sender, the campaigns, the
scheduler) make the data here and queue it with `optout.core.events.emit`. Ids, counts and
times only: nothing here reads a contact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from optout.domain.models import DEFAULT_ORGANISATION, Campaign, Subscriber

# How a person became subscribed (``subscriber.confirmed``'s ``how``): the confirmation link
# pressed, an organiser's import with proof of consent, START texted to our number.
CONFIRMED = "confirmed"
IMPORTED = "imported"
KEYWORD = "keyword"
# How a person stopped being subscribed (``subscriber.unsubscribed``'s ``how``): the
# unsubscribe page's button, a mail client's RFC 8058 one-click POST, STOP texted (to our
# number, or to the SMS provider, which then refuses our texts: `KEYWORD` too), a permanent
# bounce, a complaint.
LINK = "link"
ONE_CLICK = "one-click"
BOUNCE = "bounce"
COMPLAINT = "complaint"
# Why a campaign finished (``campaign.finished``'s ``reason``).
COMPLETED = "completed"
WITHDRAWN = "withdrawn"


# The organisations an event is about (its data's list; `organisations_named` reads it): an
# endpoint of organisation X is sent only the events naming X (`optout.domain.endpoints`).
ORGANISATIONS = "organisations"


def organisations_named(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The organisations an event's `data` names; none (an event from before coalitions, or
    of a deployment serving one organisation): the default organisation's."""
    named = data.get(ORGANISATIONS)
    if isinstance(named, list) and named:
        return tuple(str(org) for org in named)
    return (DEFAULT_ORGANISATION,)


def key(*parts: str) -> str:
    """An event's key (`optout.core.events.event`) from the ids and times that make it one:
    the same parts, the same event id."""
    return "/".join(parts)


def subscriber_confirmed(
    subscriber: Subscriber, how: str, confirmed_at: str, organisations: Iterable[str] = ()
) -> dict[str, Any]:
    """A person became an active subscriber at `confirmed_at`, `how`: who, by which channel,
    where, in which language, about which platforms (empty: every platform), and of which
    organisations (`organisations_field`)."""
    return {
        "subscriber_id": subscriber.subscriber_id,
        "channel": subscriber.channel,
        "region": subscriber.region,
        "locale": subscriber.locale,
        "platforms": list(subscriber.platforms),
        "confirmed_at": confirmed_at,
        "how": how,
        **organisations_field(organisations),
    }


def subscriber_unsubscribed(
    subscriber_id: str,
    channel: str,
    how: str,
    unsubscribed_at: str,
    campaign_id: str = "",
    organisations: Iterable[str] = (),
) -> dict[str, Any]:
    """An active subscriber left, `how`; `campaign_id`: the campaign whose message they left
    from (its unsubscribe link, or the email that bounced or was complained about), if known;
    `organisations`: the organisations whose messages stop (`organisations_field`)."""
    return {
        "subscriber_id": subscriber_id,
        "channel": channel,
        "how": how,
        "unsubscribed_at": unsubscribed_at,
        "campaign_id": campaign_id or None,
        **organisations_field(organisations),
    }


def subscriber_erased(
    subscriber_id: str, erased_at: str, organisations: Iterable[str] = ()
) -> dict[str, Any]:
    """A person's data was erased at their request: only the id, which leads nowhere now (or
    leads only to the organisations they kept: `organisations` are those erased from)."""
    return {
        "subscriber_id": subscriber_id,
        "erased_at": erased_at,
        **organisations_field(organisations),
    }


def organisations_field(organisations: Iterable[str]) -> dict[str, list[str]]:
    """``organisations``: the organisations a subscriber event concerns (the membership
    confirmed, those left, those erased from). Left out when that is the default organisation
    alone, or unknown: a deployment that serves one organisation tells what it always told."""
    named = list(dict.fromkeys(organisations))
    if not named or named == [DEFAULT_ORGANISATION]:
        return {}
    return {"organisations": named}


def reminder_sent(
    campaign_id: str,
    reminder: str,
    region: str,
    kind: str,
    catch_up: bool,
    counts: Mapping[str, int],
    organisations: Sequence[str] = (),
) -> dict[str, Any]:
    """One send batch of a reminder done: each of its people counted once, under the outcome
    their message had (``sent``, ``failed``, ``deferred``, ``skipped_...``); `organisations`:
    the campaign's (`organisations_field`)."""
    return {
        "campaign_id": campaign_id,
        "reminder": reminder,
        "region": region,
        "kind": kind,
        "catch_up": catch_up,
        "counts": {outcome: number for outcome, number in sorted(counts.items()) if number},
        **organisations_field(organisations),
    }


def conversion_recorded(
    campaign_id: str,
    subscriber_id: str,
    region: str,
    reminder: str,
    channel: str,
    recorded_at: str,
    organisation: str = "",
) -> dict[str, Any]:
    """A person said "I've switched it off" for a campaign, from a reminder of a region; in a
    campaign of a coalition, from `organisation` (the one the conversion is counted under)."""
    return {
        "campaign_id": campaign_id,
        "subscriber_id": subscriber_id,
        "region": region,
        "reminder": reminder,
        "channel": channel,
        "recorded_at": recorded_at,
        **({"organisations": [organisation]} if organisation else {}),
    }


def campaign_launched(campaign: Campaign, launched_at: str) -> dict[str, Any]:
    """A campaign began to go out to people (`launched_at`)."""
    return {**_campaign(campaign), "launched_at": launched_at}


def campaign_finished(campaign: Campaign, finished_at: str, reason: str) -> dict[str, Any]:
    """A campaign's run, launched at its `launched_at`, ended at `finished_at`, for `reason`."""
    return {
        **_campaign(campaign),
        "launched_at": campaign.launched_at or None,
        "finished_at": finished_at,
        "reason": reason,
    }


def campaign_key(campaign: Campaign) -> str:
    """The key of a campaign's launch and of its finish: one of each per run (a withdrawn
    campaign that a later policy change revives runs again)."""
    return key(campaign.campaign_id, campaign.launched_at)


def _campaign(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "platform": campaign.platform,
        "title": campaign.policy.text.title,
        "regions": [
            {"region": code, "effective_at": deadline}
            for code, deadline in sorted(
                campaign.regions.items(), key=lambda pair: (pair[1], pair[0])
            )
        ],
        **organisations_field(campaign.organisations),
    }
