"""The key layout of the five tables: every partition and sort key is built and read here.

Nothing outside `optout.store` knows a key's shape. Callers speak of a campaign, a reminder
(its id, ``EU-07``: `models.reminder_id`), a subscriber or a webhook delivery, and the stores
and these functions turn that into keys. Changing a format here changes what is stored: the
deliveries table's claim keys in particular must read the same across a deployment, or a
message claimed before it would be sent again after it.
"""

from __future__ import annotations

from optout.domain.ab import REST
from optout.domain.models import reminder_id

# -- the campaigns table: one partition per campaign, one per subscriber's deferred notices --

CAMPAIGN = "CAMPAIGN"  # the sort key of a campaign's own item, beside its reminders and counters
# The sort key of a campaign's finish check: in the due index from its last deadline on, for
# the scheduler to see whether the campaign has finished.
FINISH_CHECK = "FINISH"
REMINDER = "REMINDER#"
DEFERRED_BATCH = "DEFERRED#"
DEFERRED_NOTICE = "NOTICE#"
# A reminder's A/B test: its rest phase, due after the wait, and the decision (``ABTEST#EU#07``).
AB_TEST = "ABTEST#"
STATS = "STATS#"  # a region's counters
TIMELINE = "TIMELINE#"  # an hour's counters
# One item of counters by one dimension's value, an attribute each (``reminder#EU-07#sent``,
# ``language#de#confirmed``): a send batch adds all of its values in one write.
BREAKDOWN = "BY"


def breakdown_name(dimension: str, value: str, counter: str) -> str:
    return f"{dimension}#{value}#{counter}"


def breakdown_of(name: str) -> tuple[str, str, str]:
    """The dimension, value and counter a breakdown attribute's name says."""
    dimension, _, rest = name.partition("#")
    value, _, counter = rest.rpartition("#")
    return dimension, value, counter


def campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


NOTICE_MARK = "N"  # before a deadline notice's number, where a reminder has its days (EU#N1)


def _slot(region: str, days_before: int, notice: int = 0) -> str:
    """A reminder's place in its campaign: its region and days before the deadline (``EU#07``),
    or its region and notice number (``EU#N1``), which no count of days can spell."""
    if notice:
        return f"{region}#{NOTICE_MARK}{notice}"
    return f"{region}#{days_before:02d}"


def reminder_sk(region: str, days_before: int, notice: int = 0) -> str:
    return f"{REMINDER}{_slot(region, days_before, notice)}"


def _reminder_named(reference: str) -> tuple[str, int, int]:
    """The region, days before and notice number of the reminder a job names: by its id
    (``EU-07``, ``EU-N1``), or by its sort key, as jobs queued before reminders had ids do.
    ValueError if it names none."""
    if reference.startswith(REMINDER):
        region, _, days = reference.removeprefix(REMINDER).rpartition("#")
    else:
        region, _, days = reference.rpartition("-")
    number = days.removeprefix(NOTICE_MARK)
    if not region or not number.isdigit() or (number != days and int(number) < 1):
        raise ValueError(f"not a reminder: {reference!r}")
    if number != days:
        return region, 0, int(number)
    return region, int(days), 0


def reminder_sk_of(reference: str) -> str:
    return reminder_sk(*_reminder_named(reference))


def reminder_id_of(reference: str) -> str:
    return reminder_id(*_reminder_named(reference))


def ab_test_sk(reminder: str) -> str:
    """The A/B test item of a reminder named by its id (``EU-07``)."""
    return f"{AB_TEST}{_slot(*_reminder_named(reminder))}"


def fanout_progress(shard: str, phase: str) -> str:
    """How a reminder's progress names an audience shard in one phase of its fan-out: the
    shard itself (``EU#07``) for a reminder sent at once or its test share, and with the phase
    after it (``EU#07@rest``) for the rest of an A/B test's audience, paged again after the
    wait."""
    return f"{shard}@{phase}" if phase == REST else shard


def deferred_batch_sk(reminder: str, digest: str) -> str:
    return f"{DEFERRED_BATCH}{reminder}#{digest}"


# The ids of a reminder's fan-out batches the sender has done with, in sixteen items a reminder
# (by the id's first hex digit), so that no item outgrows DynamoDB's 400 KB (``SENT#EU#07#a``).
SENT_BATCHES = "SENT#"


def sent_batches_sk(reminder: str, batch: str) -> str:
    return f"{SENT_BATCHES}{_slot(*_reminder_named(reminder))}#{batch[:1]}"


def sent_batches_reminder(sk: str) -> str:
    """The id (``EU-07``) of the reminder whose done batches an item of them holds."""
    slot = sk.removeprefix(SENT_BATCHES).rpartition("#")[0]
    return reminder_id_of(f"{REMINDER}{slot}")


def notice_pk(subscriber_id: str) -> str:
    return f"NOTICE#{subscriber_id}"


# One partition of the coalition's organisations and of their organisers' tokens (by the keyed
# hash of the token: the token itself is never kept).
ORGANISATIONS = "ORGANISATIONS"
ORGANISATION = "ORG#"
ORGANISER = "ORGANISER#"


def organisation_key(organisation_id: str) -> dict[str, str]:
    return {"pk": ORGANISATIONS, "sk": f"{ORGANISATION}{organisation_id}"}


def organiser_key(token_hash: str) -> dict[str, str]:
    return {"pk": ORGANISATIONS, "sk": f"{ORGANISER}{token_hash}"}


def deferred_notice_sk(kind: str) -> str:
    return f"{DEFERRED_NOTICE}{kind}"


# -- the campaigns table: list health, one partition per home group ----------------------------

LIST_COUNT = "COUNT#"  # subscribers of a region, channel and language, by state
LIST_HOUR = "HOUR#"  # sign-ups and confirmations in an hour (UTC)


def list_pk(home_group: str) -> str:
    return f"LIST#{home_group}"


def list_count_sk(region: str, channel: str, language: str) -> str:
    return f"{LIST_COUNT}{region}#{channel}#{language}"


def list_count_of(sk: str) -> tuple[str, str, str]:
    """The region, channel and language a list counter's sort key names."""
    region, channel, language = sk.removeprefix(LIST_COUNT).split("#", 2)
    return region, channel, language


def list_hour_sk(hour: str) -> str:
    return f"{LIST_HOUR}{hour}"


# -- the subscribers table's audience index -----------------------------------------------------


def audience_pk(home_group: str, shard: int) -> str:
    """One partition of a home group's audience (``EU#07``)."""
    return f"{home_group}#{shard:02d}"


# -- the deliveries table: claims, seen webhooks, clicks, rate-limit windows --------------------


def reminder_delivery(
    campaign_id: str,
    region: str,
    days_before: int,
    subscriber_id: str,
    channel: str,
    notice: int = 0,
) -> str:
    """The claim of one reminder (or deadline notice) to one subscriber by one channel:
    ``<campaign>#EU#07#<subscriber>#email``, a notice ``<campaign>#EU#N1#...``, so that no
    notice shares a claim with a reminder, nor with another notice."""
    return f"{campaign_id}#{_slot(region, days_before, notice)}#{subscriber_id}#{channel}"


def confirmation_delivery(subscriber_id: str, requested_at: str) -> str:
    """The claim of the confirmation message asked for at `requested_at`."""
    return f"notice#confirm#{subscriber_id}#{requested_at}"


def reply_delivery(kind: str, reference: str) -> str:
    """The claim of the answer to one inbound text (by its provider's id, or the number)."""
    return f"reply#{kind}#{reference}"


def webhook_delivery(webhook_id: str) -> str:
    """A policy-change delivery already applied."""
    return f"webhook#{webhook_id}"


def click(campaign_id: str, reminder: str, subscriber_id: str, link: str) -> str:
    """A subscriber's first click on one link of one reminder."""
    return f"click#{campaign_id}#{reminder}#{subscriber_id}#{link}"


def scanner_click(campaign_id: str, reminder: str, subscriber_id: str, link: str) -> str:
    """A link scanner's first visit to one link of one reminder (kept apart from the person's)."""
    return f"click#{campaign_id}#{reminder}#{subscriber_id}#{link}#scanner"


def reminder_delivery_named(
    campaign_id: str, reminder: str, subscriber_id: str, channel: str
) -> str:
    """The claim of a reminder to a subscriber, the reminder named by its id (``EU-07``, or a
    notice's ``EU-N1``)."""
    region, days_before, notice = _reminder_named(reminder)
    return reminder_delivery(campaign_id, region, days_before, subscriber_id, channel, notice)


def rate_limit(action: str, who: str) -> str:
    """The window counting how often `who` (a network address's keyed hash, a campaign) did
    `action` ("subscribe", "admin" for wrong tokens, "test" for test sends)."""
    return f"ratelimit#{action}#{who}"


# -- the watches table: watches, the versions they saw, the changes found ---------------------

WATCHES = "WATCHES"  # one partition of every watch, by its id
CHANGES = "CHANGES"  # one partition of every change, by its id, which sorts by time


def watch_key(watch_id: str) -> dict[str, str]:
    return {"pk": WATCHES, "sk": watch_id}


def version_key(watch_id: str, fetched_at: str) -> dict[str, str]:
    """A version of a watch's source, in the watch's own partition of versions, by time."""
    return {"pk": versions_pk(watch_id), "sk": fetched_at}


def versions_pk(watch_id: str) -> str:
    return f"VERSIONS#{watch_id}"


def change_key(change_id: str) -> dict[str, str]:
    return {"pk": CHANGES, "sk": change_id}


def change_email(change_id: str) -> str:
    """The deliveries table's claim of the organisers' email about a change."""
    return f"change#email#{change_id}"


def change_forward(change_id: str, ally_url: str) -> str:
    """The deliveries table's claim of a change's event to one ally."""
    return f"change#forward#{change_id}#{ally_url}"


# -- the events table: the organisers' endpoints, the events kept for replay, their logs --

ENDPOINTS = "ENDPOINTS"  # one partition of every endpoint, by its id
EVENT = "EVENT"  # the sort key of an event's own item


def endpoint_key(endpoint_id: str) -> dict[str, str]:
    return {"pk": ENDPOINTS, "sk": endpoint_id}


def event_key(event_id: str) -> dict[str, str]:
    """An event, found by its id."""
    return {"pk": f"EVENT#{event_id}", "sk": EVENT}


def events_day_pk(day: str) -> str:
    """The events of one UTC day (``2025-10-27``), sorted by time: a range replayed."""
    return f"EVENTS#{day}"


def event_day_key(at: str, event_id: str) -> dict[str, str]:
    return {"pk": events_day_pk(at[:10]), "sk": f"{at}#{event_id}"}


def attempts_pk(endpoint_id: str) -> str:
    """An endpoint's log of recent delivery attempts, sorted by time."""
    return f"LOG#{endpoint_id}"


def attempt_key(
    endpoint_id: str, at: str, event_id: str, attempt: int, nonce: str
) -> dict[str, str]:
    """`nonce` tells apart two attempts of one event in the same second (a replay)."""
    return {"pk": attempts_pk(endpoint_id), "sk": f"{at}#{event_id}#{attempt:03d}#{nonce}"}


def dead_letters_pk(endpoint_id: str) -> str:
    """An endpoint's dead letters, sorted by time."""
    return f"DEAD#{endpoint_id}"


def dead_letter_key(endpoint_id: str, at: str, event_id: str) -> dict[str, str]:
    return {"pk": dead_letters_pk(endpoint_id), "sk": f"{at}#{event_id}"}


def endpoint_paused_email(endpoint_id: str, paused_at: str) -> str:
    """The deliveries table's claim of the organisers' email about a paused endpoint."""
    return f"endpoint#paused#{endpoint_id}#{paused_at}"
