"""Each function checks only its own settings: a broken SMS channel, a broken list of accepted
SNS topics and a broken subscribe limit stop only the functions that use them, and say which
setting is wrong; the scheduler, the links and the admin API go on."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest

from local import environments, invoke
from optout.core import settings
from optout.core.settings import SettingsError
from optout.store import CampaignStore
from tests.helpers import BASE, CAMPAIGN, LINKEDIN, active, to
from tests.integration.conftest import Organiser, Stack

BROKEN = {
    # An HTTP SMS provider without its URL.
    "SMS_PROVIDER": "http",
    "SMS_HTTP_ACCOUNT": "AC123",
    "OPTOUT_SMS_HTTP_TOKEN": "secret-token",
    "SMS_FROM": "+15005550006",
    "ACCEPTED_SNS_TOPIC_ARNS": "arn:aws:sqs:eu-west-1:123456789012:not-a-topic",
    "SUBSCRIBES_PER_HOUR_PER_ADDRESS": "twenty",
}


@pytest.fixture
def broken(stack: Stack, test_clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The LinkedIn campaign, Lena by email and Jonas by text in Germany, then bad settings."""
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    active("lena@example.org", "DE", "de")
    active("+4915112345678", "DE", "de")
    for name, value in BROKEN.items():
        monkeypatch.setenv(name, value)
    settings.get.cache_clear()


def tick(test_clock, moment: datetime) -> dict[str, int]:
    """The scheduler's handler, on EventBridge's tick at `moment`."""
    test_clock.now = moment
    answer: dict[str, int] = invoke.invoke("SchedulerFunction", invoke.scheduled_event(moment))
    return answer


ONE_WEEK_LEFT_IN_THE_EU = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


def test_bad_settings_of_other_areas_stop_neither_the_scheduler_nor_the_links_nor_the_admin(
    stack: Stack, test_clock, broken, organiser: Organiser
) -> None:
    # When the scheduler ticks as "one week left" comes due, and the queues are drained
    ticked = tick(test_clock, ONE_WEEK_LEFT_IN_THE_EU)
    stack.run_fanout()
    stack.run_sender()
    # Then the reminder started, and Lena's email went out
    assert ticked["reminders_started"] > 0 and ticked["reminders_failed"] == 0
    (email,) = to(stack, "lena@example.org")
    # And the links in it work
    done = re.search(rf"{re.escape(BASE)}(/done/[\w.-]+)", email.text)
    assert done and stack.call("done-page", path=done.group(1)).status == 200
    # And organisers see their campaigns
    listed = organiser.call("GET", "/admin/campaigns")
    assert listed.status == 200 and [c["campaign_id"] for c in listed.json()["campaigns"]] == [
        CAMPAIGN
    ]


def test_a_text_waits_while_the_sms_settings_are_wrong_saying_which_and_goes_once_fixed(
    stack: Stack,
    test_clock,
    broken,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given "one week left" came due while the SMS provider has no URL
    tick(test_clock, ONE_WEEK_LEFT_IN_THE_EU)
    stack.run_fanout()
    stack.run_sender()
    # Then Jonas's text did not go, is counted deferred, and waits with the reason
    assert to(stack, "+4915112345678") == []
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["deferred"] == 1
    (held,) = [
        item for item in stack.items("CAMPAIGNS_TABLE") if item["sk"].startswith("DEFERRED#")
    ]
    assert held["reason"] == "missing or invalid settings: SMS_HTTP_URL"
    assert '"TextsHeldBack"' in capsys.readouterr().out  # the metric TextsHeldBackAlarm watches
    assert not [i for i in stack.items("DELIVERIES_TABLE") if i["pk"].endswith("#sms")]  # unclaimed
    # When the operator goes back to SNS, and the scheduler ticks half an hour later
    monkeypatch.setenv("SMS_PROVIDER", "sns")
    settings.get.cache_clear()
    released = tick(test_clock, ONE_WEEK_LEFT_IN_THE_EU + timedelta(minutes=30))
    stack.run_sender()
    # Then the text goes, once
    assert released["deferred_batches_released"] == 1
    (text,) = to(stack, "+4915112345678")
    assert "LinkedIn" in text.text
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["sent"] == 2


def test_a_broken_subscribe_limit_stops_the_subscribe_api_naming_it(stack: Stack, broken) -> None:
    with pytest.raises(SettingsError, match="SUBSCRIBES_PER_HOUR_PER_ADDRESS"):
        stack.call("subscribe-json")


def test_broken_accepted_topics_stop_sns_over_http_naming_them(stack: Stack, broken) -> None:
    with pytest.raises(SettingsError, match="ACCEPTED_SNS_TOPIC_ARNS"):
        stack.call("feedback-http-sms-stop")


def test_locally_each_function_sees_only_what_template_yaml_gives_it(stack: Stack) -> None:
    # Given the one process's environment, which holds every function's variables
    assert os.environ["SMS_PROVIDER"] == "sns"
    # Then the scheduler, which template.yaml gives no SMS setting, does not see it
    assert "SMS_PROVIDER" not in environments.OwnEnvironment("SchedulerFunction")
    assert environments.OwnEnvironment("SenderFunction")["SMS_PROVIDER"] == "sns"
    # And the read is reported, as the stack fixture reports it after each test
    assert environments.missing_variables() == [
        "SchedulerFunction reads SMS_PROVIDER, which template.yaml does not give it"
    ]
    environments.forget_missing_variables()
