""" "Check it again" rules without AWS: when a campaign has ended, who a follow-up's segment
reaches, and the follow-up's id."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from optout.domain.models import CampaignStatus
from optout.watching.follow_up import ended, send_id
from tests.helpers import linkedin_campaign

LAST_DEADLINE = datetime(2025, 11, 3, 5, 0, tzinfo=UTC)  # Canada's midnight, the latest


@pytest.mark.parametrize(
    "status, at, expected",
    [
        (CampaignStatus.ACTIVE, datetime(2025, 11, 2, 23, 0, tzinfo=UTC), False),  # CA still on
        (CampaignStatus.ACTIVE, LAST_DEADLINE, True),  # every region's deadline passed
        (CampaignStatus.PAUSED, LAST_DEADLINE, True),  # paused, but over all the same
        (CampaignStatus.WITHDRAWN, datetime(2025, 10, 20, tzinfo=UTC), True),  # cancelled
        (CampaignStatus.DRAFT, datetime(2026, 1, 1, tzinfo=UTC), False),  # never started
    ],
)
def test_a_campaign_has_ended_once_cancelled_or_past_every_deadline(
    status: CampaignStatus, at: datetime, expected: bool
) -> None:
    assert ended(replace(linkedin_campaign(), status=status), at) is expected


def test_a_campaign_without_regions_never_ended() -> None:
    assert not ended(replace(linkedin_campaign(), regions={}), LAST_DEADLINE)


def test_the_follow_up_id_is_one_per_change_and_campaign_and_fits_a_campaign_id() -> None:
    change = "20251110080000-" + "w" * 64
    campaign = "c" * 64
    one = send_id(change, campaign)
    assert one == send_id(change, campaign)
    assert one != send_id(change, "c" * 63 + "d")  # cut to fit, still told apart
    assert one != send_id("20251110080001-" + "w" * 64, campaign)
    assert len(one) <= 64 and one.startswith("again-20251110-")
