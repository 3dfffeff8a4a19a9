"""List health as JSON for organisers (`GET /admin/list-health`), and its repair
(`POST /admin/list-health/recount`): the numbers the dashboard's first page shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from optout.core import settings
from optout.store import CampaignStore, SubscriberStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, confirm_path, to
from tests.integration.conftest import Organiser, Stack


def _row(rows: list[dict[str, Any]], dimension: str, value: str) -> dict[str, Any]:
    (row,) = [row for row in rows if row[dimension] == value]
    return row


def test_list_health_as_json_counts_people_as_they_subscribe_and_confirm(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    # Given Ada signs up by email and confirms, and a Canadian number signs up by text and
    # does not, at 09:00 on 27 October; Lena (imported) has unsubscribed since
    test_clock.now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    assert stack.call("subscribe-json").status == 202
    assert stack.call("subscribe-sms-json").status == 202
    stack.drain_notices()
    (ada,) = to(stack, "ada@example.org")
    assert stack.call("confirm", path=confirm_path(ada.text)).status == 200
    people = SubscriberStore(settings.get())
    people.unsubscribe(active("lena@example.org", "AT", "de"), test_clock.now)

    # When an organiser asks for list health with the admin token
    reply = organiser.call("GET", "/admin/list-health")

    # Then it counts each state, in all and per region, channel and language
    assert reply.status == 200
    health = reply.json()
    assert health["total"] == {"pending": 1, "active": 1, "unsubscribed": 1, "suppressed": 0}
    assert _row(health["by_region"], "region", "DE") == {
        "region": "DE",
        "pending": 0,
        "active": 1,
        "unsubscribed": 0,
        "suppressed": 0,
    }
    assert _row(health["by_region"], "region", "CA")["pending"] == 1
    assert _row(health["by_channel"], "channel", "sms")["pending"] == 1
    assert _row(health["by_channel"], "channel", "email")["active"] == 1
    assert _row(health["by_language"], "language", "de")["unsubscribed"] == 1
    assert _row(health["by_language"], "language", "fr-CA")["pending"] == 1
    # and the sign-ups, confirmed and the rate, by the hour too
    assert health["signups"] == 2 and health["confirmed"] == 1
    assert health["confirmation_rate"] == 0.5
    assert health["timeline"]["2025-10-27T09"] == {"signups": 2, "confirmed": 1}
    # No campaign yet: no rates to judge
    assert health["campaigns"] == []


def test_list_health_gives_each_campaign_s_bounce_and_complaint_rates_against_the_limits(
    stack: Stack, organiser: Organiser
) -> None:
    # Given a campaign that sent 1,000 messages, 50 of which bounced and 1 drew a complaint
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    CampaignStore(settings.get()).add_stats(
        CAMPAIGN, "EU", {"sent": 600, "bounced": 30, "complained": 1}
    )
    CampaignStore(settings.get()).add_stats(CAMPAIGN, "CA", {"sent": 400, "bounced": 20})

    (campaign,) = organiser.call("GET", "/admin/list-health").json()["campaigns"]

    assert campaign["campaign_id"] == CAMPAIGN and campaign["status"] == "active"
    assert (campaign["sent"], campaign["bounced"], campaign["complained"]) == (1000, 50, 1)
    assert campaign["bounce_rate"] == 0.05 and campaign["bounce_limit"] == 0.04
    assert campaign["bounce_over_limit"] is True
    assert campaign["complaint_rate"] == 0.001 and campaign["complaint_over_limit"] is True
    assert campaign["judged"] is True


def test_a_campaign_that_sent_little_is_not_judged_yet(stack: Stack, organiser: Organiser) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    CampaignStore(settings.get()).add_stats(CAMPAIGN, "EU", {"sent": 10, "bounced": 5})

    (campaign,) = organiser.call("GET", "/admin/list-health").json()["campaigns"]

    assert campaign["bounce_rate"] == 0.5 and campaign["judged"] is False
    assert campaign["bounce_over_limit"] is False and campaign["min_sent"] == 100


def test_list_health_needs_the_admin_token(stack: Stack, organiser: Organiser) -> None:
    assert organiser.call("GET", "/admin/list-health", token=None).status == 401
    assert organiser.call("GET", "/admin/list-health", token="guess").status == 401
    assert organiser.call("POST", "/admin/list-health/recount", token=None).status == 401


def test_a_recount_repairs_the_counters_after_a_write_they_missed_and_says_what_changed(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    # Given three active subscribers in Germany, one of whom an operator then marked
    # unsubscribed straight in the table (a write the counters never saw)
    test_clock.now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    active("ada@example.org", "DE", "de")
    active("bert@example.org", "DE", "de")
    cara = active("cara@example.org", "DE", "de")
    stack._aws.resource("dynamodb").Table(stack.env["SUBSCRIBERS_TABLE"]).update_item(
        Key={"subscriber_id": cara},
        UpdateExpression="SET #status = :left",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":left": "unsubscribed"},
    )
    assert organiser.call("GET", "/admin/list-health").json()["total"]["active"] == 3

    # When an organiser asks for a recount
    reply = organiser.call("POST", "/admin/list-health/recount")

    # Then the counts are the table's again, and the answer says which were wrong
    assert reply.status == 200
    recounted = reply.json()
    assert recounted["total"] == {"pending": 0, "active": 2, "unsubscribed": 1, "suppressed": 0}
    place = {"region": "DE", "channel": "email", "language": "de"}
    assert sorted(recounted["corrected"], key=lambda c: c["state"]) == [
        {**place, "state": "active", "was": 3, "now": 2},
        {**place, "state": "unsubscribed", "was": 0, "now": 1},
    ]
    assert organiser.call("GET", "/admin/list-health").json()["total"]["active"] == 2
    # And a second recount finds nothing to correct
    assert organiser.call("POST", "/admin/list-health/recount").json()["corrected"] == []
