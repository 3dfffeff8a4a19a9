"""A person's own data: the link to their privacy page, what is kept about them, and its erasure.

A person who joined several organisations of a coalition sees each (`ORGANISATIONS`) and may
erase themselves from some of them only: those memberships go, with their consent evidence,
and the record stays for the rest (`SubscriberStore.erase_from`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from optout.core import events, keys, tokens
from optout.core.clock import iso
from optout.core.errors import InvalidInput, NotFound
from optout.core.events import EventType
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.domain import consent, event_data
from optout.domain.organisations import DEFAULT, memberships_of
from optout.links import verified
from optout.store import OrganisationStore, SubscriberStore, plain

# The key of the consent evidence in what `stored_data` gives (no stored field is named so).
EVIDENCE = "consent_evidence"
# The key of a coalition member's organisations in it: each ``{organisation, name, status,
# since}``; left out for a person of the default organisation alone (whose page is as it was).
ORGANISATIONS = "organisations"


@dataclass(frozen=True)
class Erasure:
    """What an erasure did, for the page that answers: in the person's language, the names of
    the organisations they were erased from and of those they are still subscribed to (both
    empty for a person of the default organisation alone, or erased already)."""

    locale: str
    erased_from: tuple[str, ...] = ()
    still_subscribed: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()  # the ids of `erased_from`
    still_subscribed_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer: erased, and (a coalition's member) from which and which are kept."""
        answer: dict[str, Any] = {"status": "erased"}
        if self.organisations:
            answer["erased_from"] = list(self.organisations)
            answer["still_subscribed"] = list(self.still_subscribed_ids)
        return answer

    def page_context(self) -> dict[str, Any]:
        return {"erased_from": self.erased_from, "still_subscribed": self.still_subscribed}


def privacy_link(settings: Settings, subscriber_id: str, base_url: str, now: datetime) -> str:
    """A link to the person's own privacy page."""
    expires = now + tokens.LIFETIMES[tokens.Purpose.PRIVACY]
    return f"{base_url}/privacy/{tokens.mint(keys.token_keyring(settings), tokens.Purpose.PRIVACY, [subscriber_id], expires)}"


def stored_data(settings: Settings, token: str, now: datetime) -> dict[str, Any]:
    """Everything the bot keeps about the person the link names, as stored, and beside it
    (``consent_evidence``) the evidence of their consent as `domain.consent` reads it: how they
    subscribed, on which wording, when, with which privacy notice (None: not recorded); for a
    member of several organisations, each of them (``organisations``: id, name, status and
    since when)."""
    (subscriber_id,) = verified.parts(settings, token, tokens.Purpose.PRIVACY, now, 1)
    kept = SubscriberStore(settings).kept(subscriber_id)
    if kept is None:
        raise NotFound("we hold nothing about you under this link")
    stored, subscriber = kept
    data = {name: plain(value) for name, value in sorted(stored.items())}
    data[EVIDENCE] = consent.evidence(subscriber).as_dict()
    if subscriber.memberships:
        names = OrganisationStore(settings)
        data[ORGANISATIONS] = [
            {
                "organisation": m.organisation,
                "name": names.name_of(m.organisation),
                "status": m.status.value,
                "since": m.left_at or m.joined_at or m.requested_at,
            }
            for m in memberships_of(subscriber)
        ]
    return data


def chosen_organisations(fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The organisations an erasure form (or JSON body) chose, ``organisations``: None when it
    names none (every one: the default)."""
    chosen = fields.get(ORGANISATIONS)
    if chosen in (None, "", []):
        return None
    if isinstance(chosen, str):
        chosen = [chosen]
    if not isinstance(chosen, list) or not all(isinstance(o, str) and o for o in chosen):
        raise InvalidInput({ORGANISATIONS: "give the ids of the organisations to erase you from"})
    return tuple(dict.fromkeys(chosen))


def erase(
    settings: Settings, token: str, now: datetime, organisations: tuple[str, ...] | None = None
) -> Erasure:
    """Erase the person the link names (idempotent: a second erasure finds nothing), from
    `organisations` (None: from every one, the whole record). Returns what it did, with the
    language they read, learnt before it is erased, for the page that answers. An organisation
    they do not belong to is refused, and nothing is erased."""
    (subscriber_id,) = verified.parts(settings, token, tokens.Purpose.PRIVACY, now, 1)
    locale = verified.locale_of(settings, subscriber_id)
    subscribers = SubscriberStore(settings)
    if organisations is not None:
        person = subscribers.get(subscriber_id)
        theirs = {m.organisation for m in memberships_of(person)} if person else set()
        unknown = [o for o in organisations if o not in theirs]
        if person is not None and unknown:
            raise InvalidInput(
                {ORGANISATIONS: f"you are not subscribed to {', '.join(unknown)}: nothing erased"}
            )
        if person is not None and not person.memberships:
            organisations = None  # the default organisation alone: the whole record, as always
    erased = subscribers.erase_from(
        subscriber_id, organisations, "erased at the person's request", now
    )
    if erased is None:
        return Erasure(locale)
    metrics.add_metric(name="Erased", unit=MetricUnit.Count, value=1)
    events.emit(
        settings,
        EventType.SUBSCRIBER_ERASED,
        event_data.subscriber_erased(subscriber_id, iso(now), organisations=erased.organisations),
        now,
        key=event_data.key(subscriber_id, iso(now)),
    )
    if erased.organisations == (DEFAULT,):  # the default organisation alone: as it always was
        return Erasure(locale)
    names = OrganisationStore(settings)
    return Erasure(
        locale,
        erased_from=tuple(names.name_of(o) for o in erased.organisations),
        still_subscribed=tuple(names.name_of(o) for o in erased.still_subscribed),
        organisations=erased.organisations,
        still_subscribed_ids=erased.still_subscribed,
    )
