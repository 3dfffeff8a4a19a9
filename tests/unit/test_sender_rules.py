"""The sender's rules that need no AWS: pacing, quiet hours, SMS segments, whom a segment
reaches."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from optout.channels.sms import plain, segments
from optout.core.settings import from_environ
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import (
    Audience,
    AudienceMember,
    Consent,
    ReminderState,
    Segment,
    Status,
    Subscriber,
)
from optout.domain.quiet_hours import in_quiet_hours
from optout.messages import reminders
from optout.sending.fanout import reached
from optout.sending.sender import Pacer, ReadAhead
from tests.helpers import COMPLETE, linkedin_campaign, planned_reminder


def subscriber(timezone: str, locale: str = "en", channel: str = "sms") -> Subscriber:
    return Subscriber(
        subscriber_id="sabc",
        channel=channel,
        contact="+14165550123",
        region="CA",
        home_group="CA",
        locale=locale,
        timezone=timezone,
        platforms=(),
        status=Status.ACTIVE,
        consent=Consent(requested_at="", form_version="", source="test"),
        created_at="",
    )


def test_the_pacer_spaces_sends_to_its_rate() -> None:
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(rate=10, clock=lambda: now[0], sleep=sleep)
    for _ in range(11):
        pacer.wait()
    assert now[0] == pytest.approx(1.0)  # eleven sends at ten a second take one second
    assert len(slept) == 10


def test_a_batch_is_read_a_few_first_then_a_hundred_at_a_time_off_the_sending_thread() -> None:
    reads: list[tuple[list[str], str]] = []

    def read(chunk: list[str]) -> dict[str, Subscriber]:
        reads.append((chunk, threading.current_thread().name))
        return {sid: subscriber("Europe/Berlin") for sid in chunk if sid != "s7"}  # s7: erased

    ids = [f"s{n}" for n in range(250)]
    batch = ReadAhead(ids, read)
    assert batch.get("s7") is None
    assert batch.get("s249") is not None
    batch.close()
    assert [len(chunk) for chunk, _ in reads] == [20, 100, 100, 30]
    assert [sid for chunk, _ in reads for sid in chunk] == ids
    assert all(thread != threading.current_thread().name for _, thread in reads)


def test_a_failed_read_fails_the_send_that_needs_it_and_later_reads_are_dropped() -> None:
    reads: list[str] = []

    def read(chunk: list[str]) -> dict[str, Subscriber]:
        reads.append(chunk[0])
        if chunk[0] == "s0":
            raise RuntimeError("ProvisionedThroughputExceededException")
        threading.Event().wait(0.3)  # a slow read, still going when the batch gives up
        return {}

    batch = ReadAhead([f"s{n}" for n in range(300)], read)  # four reads: 20, 100, 100, 80
    with pytest.raises(RuntimeError, match="ProvisionedThroughput"):
        batch.get("s0")
    batch.close()
    assert reads in (["s0"], ["s0", "s20"])  # the reads not yet started never start


@pytest.mark.parametrize(
    "utc, local_next",
    [
        ("2025-11-03T03:00:00Z", "2025-11-03T08:00:00-05:00"),  # 22:00 in Toronto: next morning
        ("2025-11-03T12:59:00Z", "2025-11-03T08:00:00-05:00"),  # 07:59: an hour later
        ("2025-11-04T02:00:00Z", "2025-11-04T08:00:00-05:00"),  # 21:00 sharp is night
    ],
)
def test_a_text_at_night_waits_for_eight_in_the_morning(utc: str, local_next: str) -> None:
    later = in_quiet_hours(
        subscriber("America/Toronto"), datetime.fromisoformat(utc.replace("Z", "+00:00"))
    )
    assert later is not None and later.isoformat() == local_next


def test_daytime_texts_go_at_once_and_an_unknown_zone_falls_back_to_the_region() -> None:
    assert (
        in_quiet_hours(subscriber("America/Toronto"), datetime(2025, 11, 3, 17, 0, tzinfo=UTC))
        is None
    )
    assert (
        in_quiet_hours(subscriber("Mars/Olympus"), datetime(2025, 11, 3, 17, 0, tzinfo=UTC)) is None
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("€" * 80, ("GSM-7", 1)),
        ("€" * 81, ("GSM-7", 2)),
        ("你" * 70, ("UCS-2", 1)),
        ("你" * 71, ("UCS-2", 2)),
        ("ą" * 134, ("UCS-2", 2)),
        ("ą" * 135, ("UCS-2", 3)),
    ],
)
def test_segments_are_counted_as_networks_count_them(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


def test_french_typography_is_made_plain_so_a_text_stays_in_gsm_7() -> None:
    assert segments("Plus qu\u2019une semaine\u00a0: «\u202fvite\u202f»")[0] == "UCS-2"
    assert segments(plain("Plus qu\u2019une semaine\u00a0: «\u202fvite\u202f»"))[0] == "GSM-7"


REMINDER = planned_reminder(
    "CA",
    7,
    "2025-10-27T13:00:00Z",
    deadline="2025-11-03T05:00:00Z",
    state=ReminderState.FANNING_OUT,
)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_first_reminder_text_fits_in_two_segments_in_every_language(locale: str) -> None:
    # Given a deployment with a short public address (PublicBaseUrl), as texts need
    base = "https://optout.example.org"
    link = reminders.Links(
        setting=f"{base}/r/x",
        done=f"{base}/done/x",
        unsubscribe=f"{base}/unsubscribe/x",
        privacy=f"{base}/privacy/x",
        short=f"{base}/s/abcdefghijklmnop",
    )
    text = subscriber("America/Toronto", locale)
    drafts = reminders.Drafts(
        from_environ(COMPLETE),
        linkedin_campaign(),
        REMINDER,
        datetime(2025, 10, 27, 13, 0, tzinfo=UTC),
    )
    message = drafts.sms(text, link, first=True)
    # Then it carries the short link, says how to stop, and takes two segments at most
    assert link.short in message.text and "STOP" in message.text
    assert "/privacy/" not in message.text  # emails only: a text has no room for it
    assert segments(message.text)[1] <= 2, (segments(message.text), message.text)


@pytest.mark.parametrize(
    "text, sent",
    [
        ("Cómo desactivarlo", "Como desactivarlo"),
        ("Zostało 7 dni: wyłącz", "Zostalo 7 dni: wylacz"),
        ("Noch 1 Woche für Sie", "Noch 1 Woche für Sie"),  # ü is in GSM-7: kept
        ("還有 1 星期", "還有 1 星期"),  # another script: left alone, sent as UCS-2
    ],
)
def test_accents_gsm_7_lacks_are_dropped_only_when_that_makes_the_whole_text_gsm_7(
    text: str, sent: str
) -> None:
    assert plain(text) == sent


def test_a_segment_of_converts_reaches_only_who_switched_it_off_in_its_campaign() -> None:
    audience = Audience(groups=("EU",))
    segment = Segment(platforms=("linkedin",), converted_in="linkedin-genai-2025")
    member = AudienceMember("s1", "DE", "email", "de", ("linkedin",))
    assert not reached(member, audience, "", segment)
    assert not reached(replace(member, done_campaigns=frozenset({"other"})), audience, "", segment)
    converted = replace(member, done_campaigns=frozenset({"linkedin-genai-2025"}))
    assert reached(converted, audience, "", segment)
    # and every other rule still holds: the platforms they asked about
    assert not reached(replace(converted, platforms=("meta",)), audience, "", segment)
