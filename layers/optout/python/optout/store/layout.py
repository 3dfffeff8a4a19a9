"""The key layout of the three tables: every partition and sort key is built and read here.

Nothing outside `optout.store` knows a key's shape. Callers speak of a campaign, a reminder
(its id, ``EU-07``: `models.reminder_id`), a subscriber or a webhook delivery, and the stores
and these functions turn that into keys. Changing a format here changes what is stored: the
deliveries table's claim keys in particular must read the same across a deployment, or a
message claimed before it would be sent again after it.
"""

from __future__ import annotations

from optout.domain.models import reminder_id

# -- the campaigns table: one partition per campaign, one per subscriber's deferred notices --

CAMPAIGN = "CAMPAIGN"  # the sort key of a campaign's own item, beside its reminders and counters
REMINDER = "REMINDER#"
DEFERRED_BATCH = "DEFERRED#"
DEFERRED_NOTICE = "NOTICE#"
STATS = "STATS#"  # a region's counters
TIMELINE = "TIMELINE#"  # an hour's counters
BREAKDOWN = "BY#"  # counters by one dimension's value: BY#reminder#EU-07, BY#language#de


def breakdown_sk(dimension: str, value: str) -> str:
    return f"{BREAKDOWN}{dimension}#{value}"


def breakdown_of(sk_rest: str) -> tuple[str, str]:
    """The dimension and value a breakdown counter's sort key (less its prefix) names."""
    dimension, _, value = sk_rest.partition("#")
    return dimension, value


def campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def reminder_sk(region: str, days_before: int) -> str:
    return f"{REMINDER}{region}#{days_before:02d}"


def _reminder_named(reference: str) -> tuple[str, int]:
    """The region and days before of the reminder a job names: by its id (``EU-07``), or by
    its sort key, as jobs queued before reminders had ids do. ValueError if it names none."""
    if reference.startswith(REMINDER):
        region, _, days = reference.removeprefix(REMINDER).rpartition("#")
    else:
        region, _, days = reference.rpartition("-")
    if not region or not days.isdigit():
        raise ValueError(f"not a reminder: {reference!r}")
    return region, int(days)


def reminder_sk_of(reference: str) -> str:
    return reminder_sk(*_reminder_named(reference))


def reminder_id_of(reference: str) -> str:
    return reminder_id(*_reminder_named(reference))


def deferred_batch_sk(reminder: str, digest: str) -> str:
    return f"{DEFERRED_BATCH}{reminder}#{digest}"


def notice_pk(subscriber_id: str) -> str:
    return f"NOTICE#{subscriber_id}"


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
    campaign_id: str, region: str, days_before: int, subscriber_id: str, channel: str
) -> str:
    """The claim of one reminder to one subscriber by one channel."""
    return f"{campaign_id}#{region}#{days_before:02d}#{subscriber_id}#{channel}"


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
    """The claim of a reminder to a subscriber, the reminder named by its id (``EU-07``)."""
    region, days_before = _reminder_named(reminder)
    return reminder_delivery(campaign_id, region, days_before, subscriber_id, channel)


def rate_limit(action: str, who: str) -> str:
    """The window counting how often `who` (a network address's keyed hash, a campaign) did
    `action` ("subscribe", "admin" for wrong tokens, "test" for test sends)."""
    return f"ratelimit#{action}#{who}"
