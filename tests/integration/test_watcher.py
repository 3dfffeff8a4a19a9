"""The hourly watcher, from what it leaves for organisers: a page served on 127.0.0.1 by a server
started here changes, and the watcher's run records one change with the right sentences and
terms and queues its notices; cosmetic edits and failing sources record none."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from local import invoke
from optout.core import settings
from optout.domain.watches import OTA, PAGE, Ally, Source, Watch
from optout.store import WatchStore
from optout.watching import check
from tests.helpers import AFTER, BEFORE, WatchedSite, sample_event
from tests.integration.conftest import Stack

# The same text, differently dressed: other markup, spacing, another token, another date, a
# cookie banner, the navigation reordered.
COSMETIC = (
    BEFORE.replace('"a81f9c2e"', '"77d0b1aa"')
    .replace("1 October 2025", "9 October 2025")
    .replace("<p>We use your profile", "<p class='lead'>We  use your\n profile")
    .replace(
        '<a href="/">Home</a> <a href="/help">Help</a>',
        '<a href="/help">Help</a> <a href="/">Home</a>',
    )
    .replace("<body>", '<body><div id="cookie-banner">We use cookies. Accept all</div>')
)


def _watch(site: WatchedSite, **fields: Any) -> Watch:
    watch = Watch(
        watch_id="linkedin-generative-ai",
        platform="linkedin",
        title="LinkedIn: Data for Generative AI Improvement",
        source=Source(PAGE, url=site.url()),
        setting_url="https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
        **fields,
    )
    assert WatchStore(settings.get()).create(watch)
    return watch


def _run(stack: Stack, test_clock: Any) -> dict[str, int]:
    # EventBridge's event as events/ has it; the run goes by the clock, not by its "time".
    result: dict[str, int] = invoke.invoke("WatcherFunction", sample_event("watcher-hourly"))
    return result


def test_a_change_is_recorded_once_with_its_sentences_and_terms(
    stack: Stack, test_clock: Any, site: WatchedSite
) -> None:
    settings_ = settings.get()
    _watch(site, allies=(Ally("http://127.0.0.1:9/hook", "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="),))
    assert _run(stack, test_clock) == {"first": 1}
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"unchanged": 1}

    site.page = AFTER
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"changed": 1}
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"unchanged": 1}

    [change] = WatchStore(settings_).changes()
    assert change.added == (
        "From 3 November 2025 we use your posts to train generative AI models by default; "
        "you may opt out in your settings.",
    )
    assert change.removed == ()
    assert {"AI", "train", "default", "opt out"} <= set(change.terms)
    assert change.notify and change.score >= 0.3
    assert change.setting_url.endswith("data-for-ai-improvement")
    # Both versions are kept, and the change names them.
    store = WatchStore(settings_)
    before = store.version(change.watch_id, change.before)
    after = store.version(change.watch_id, change.after)
    assert before is not None and "train" not in before.text
    assert after is not None and "train generative AI" in after.text
    # Organisers' email (when an address is set) and the ally's event are queued.
    kinds = [job["kind"] for job in stack.notice_jobs()]
    assert kinds == ["change-forward"]
    assert store.get_change(change.change_id).told  # type: ignore[union-attr]


def test_the_organisers_email_is_queued_when_there_is_an_address(
    stack: Stack, test_clock: Any, site: WatchedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORGANISERS_ADDRESS", "organisers@example.org")
    settings.get.cache_clear()
    _watch(site)
    _run(stack, test_clock)
    site.page = AFTER
    test_clock.advance(hours=1)
    _run(stack, test_clock)
    kinds = [job["kind"] for job in stack.notice_jobs()]
    assert kinds == ["change-notice"]


def test_cosmetic_edits_record_no_change(stack: Stack, test_clock: Any, site: WatchedSite) -> None:
    _watch(site)
    _run(stack, test_clock)
    site.page = COSMETIC
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"cosmetic": 1}
    assert WatchStore(settings.get()).changes() == []
    assert stack.notice_jobs() == []


@pytest.mark.parametrize(
    ("status", "content_type", "page", "reason"),
    [
        (503, "text/html", "busy", "503"),
        (404, "text/html", "gone", "404"),
        (200, "application/octet-stream", "\x00\x01binary", "not text"),
        (200, "text/html", "<html><body><nav>Home</nav></body></html>", "no text"),
    ],
)
def test_a_failing_source_is_reported_on_the_watch_never_recorded(
    stack: Stack,
    test_clock: Any,
    site: WatchedSite,
    status: int,
    content_type: str,
    page: str,
    reason: str,
) -> None:
    _watch(site)
    _run(stack, test_clock)
    site.status, site.content_type, site.page = status, content_type, page
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"failed": 1}
    store = WatchStore(settings.get())
    watch = store.get("linkedin-generative-ai")
    assert watch is not None
    assert watch.status.state == "failing" and watch.status.failures == 1
    assert reason in watch.status.reason.lower() or reason in watch.status.reason
    assert store.changes() == []
    # It waits before the next read, longer after each failure; then, served again, it is ok.
    test_clock.advance(minutes=30)
    assert _run(stack, test_clock) == {"waiting": 1}
    site.status, site.content_type, site.page = 200, "text/html", BEFORE
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"unchanged": 1}
    recovered = store.get("linkedin-generative-ai")
    assert recovered is not None and recovered.status.state == "ok"


def test_a_paused_watch_is_not_read(stack: Stack, test_clock: Any, site: WatchedSite) -> None:
    _watch(site, paused=True)
    assert _run(stack, test_clock) == {"paused": 1}
    assert site.requests == 0


def test_an_open_terms_archive_version_is_watched(
    stack: Stack, test_clock: Any, site: WatchedSite
) -> None:
    site.content_type = "application/json"
    versions = {
        "v1": "# Privacy Policy\n\nWe use your data to show you jobs.\n",
        "v2": "# Privacy Policy\n\nWe use your data to show you jobs.\n\n"
        "We use your data to train AI models unless you object.\n",
    }
    site.page = json.dumps(
        {"id": "v1", "fetchDate": "2025-10-01T00:00:00Z", "content": versions["v1"]}
    )
    WatchStore(settings.get()).create(
        Watch(
            watch_id="linkedin-privacy-policy",
            platform="linkedin",
            title="LinkedIn privacy policy",
            source=Source(
                OTA, api_url=site.url("/api/v1"), service_id="LinkedIn", terms_type="Privacy Policy"
            ),
        )
    )
    assert _run(stack, test_clock) == {"first": 1}
    site.page = json.dumps(
        {"id": "v2", "fetchDate": "2025-10-20T00:00:00Z", "content": versions["v2"]}
    )
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"changed": 1}
    [change] = WatchStore(settings.get()).changes()
    assert change.added == ("We use your data to train AI models unless you object.",)
    assert {"AI", "train"} <= set(change.terms)
    assert "/api/v1/version/LinkedIn/Privacy%20Policy/" in change.source_url


def test_notices_a_run_could_not_queue_are_queued_by_the_next(
    stack: Stack, test_clock: Any, site: WatchedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    _watch(site, allies=(Ally("http://127.0.0.1:9/hook", "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="),))
    _run(stack, test_clock)
    site.page = AFTER
    test_clock.advance(hours=1)

    def queue_down(*_args: Any) -> None:
        raise ConnectionError("SQS is unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(check.queues, "enqueue_many", queue_down)
        # The change is recorded; its notices are not queued, and the run says so.
        assert _run(stack, test_clock) == {"error": 1}
    [change] = WatchStore(settings.get()).changes()
    assert not change.told and stack.notice_jobs() == []

    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"told again": 1, "unchanged": 1}
    assert [job["kind"] for job in stack.notice_jobs()] == ["change-forward"]
    assert len(WatchStore(settings.get()).changes()) == 1


def test_two_runs_reading_the_same_change_record_it_once(
    stack: Stack, test_clock: Any, site: WatchedSite
) -> None:
    watch = _watch(site)
    _run(stack, test_clock)
    store = WatchStore(settings.get())
    read_before = store.get(watch.watch_id)
    assert read_before is not None
    site.page = AFTER
    test_clock.advance(hours=1)
    assert check.check(settings.get(), store, read_before, test_clock.now) == "changed"
    # A second run that read the watch before the first recorded: refused by the condition.
    assert check.check(settings.get(), store, read_before, test_clock.now) == "raced"
    assert len(store.changes()) == 1


def test_the_version_compared_against_is_kept_and_a_replaced_one_for_the_retention(
    stack: Stack, test_clock: Any, site: WatchedSite
) -> None:
    watch = _watch(site)
    store = WatchStore(settings.get())
    retention = timedelta(days=settings.get().watching.retention_days)
    _run(stack, test_clock)
    [first] = store.versions(watch.watch_id)
    # The version compared against never expires, however long the watch waits or is paused.
    assert "expires_at" not in first
    store.set_paused(watch.watch_id, True)
    test_clock.advance(days=400)
    _run(stack, test_clock)
    assert "expires_at" not in store.versions(watch.watch_id)[0]
    store.set_paused(watch.watch_id, False)

    # Replaced by a new version: it is kept a retention from then, the new one for good.
    site.page = AFTER
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"changed": 1}
    replaced_at = test_clock.now
    newest, older = store.versions(watch.watch_id)
    assert older["fetched_at"] == first["fetched_at"]
    assert older["expires_at"] == int((replaced_at + retention).timestamp())
    assert "expires_at" not in newest


def test_a_page_rewritten_whole_keeps_what_fits_on_the_change_and_counts_the_rest(
    stack: Stack, test_clock: Any, site: WatchedSite
) -> None:
    watch = _watch(site)
    _run(stack, test_clock)
    # 300 KB of new sentences: more than a DynamoDB item holds beside the rest of the change
    sentences = [f"Sentence {n} says we may train AI models on what you post." for n in range(5000)]
    site.page = "<html><body>" + "".join(f"<p>{s}</p>" for s in sentences) + "</body></html>"
    test_clock.advance(hours=1)
    assert _run(stack, test_clock) == {"changed": 1}
    [change] = WatchStore(settings.get()).changes()
    assert change.added == tuple(sentences[: len(change.added)])
    assert len(change.added) + change.left_out == len(sentences)  # the removed ones all fit
    assert change.left_out > 0
    after = WatchStore(settings.get()).version(watch.watch_id, change.after)
    assert after is not None and sentences[-1] in after.text


def test_a_watch_that_breaks_the_run_does_not_stop_the_others(
    stack: Stack, test_clock: Any, site: WatchedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    _watch(site)
    WatchStore(settings.get()).create(
        Watch(
            watch_id="linkedin-other",
            platform="linkedin",
            title="Another page",
            source=Source(PAGE, url=site.url("/other")),
        )
    )
    real_read = check._read

    def broken_for_one(watch: Watch, *args: Any) -> Any:
        if watch.watch_id == "linkedin-generative-ai":
            raise RuntimeError("a bug")
        return real_read(watch, *args)

    monkeypatch.setattr(check, "_read", broken_for_one)
    assert _run(stack, test_clock) == {"error": 1, "first": 1}
