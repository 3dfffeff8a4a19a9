"""The watcher's run: read each watch's source, keep a new version, record a real change.

Each hour (template.yaml's WatcherFunction) every watch that is not paused, and not waiting
after failures, is read: a page by its URL, or the version an Open Terms Archive Collection API
says is in force now. Its text is compared with the version the watch compares against:

- the same text (or a 304): nothing but the watch's status changes;
- only cosmetic differences (whitespace, markup, order, a date, a rotating token; see
  `compare`): the same, and the watch keeps comparing against the version it had;
- sentences added or removed: the new version becomes the one compared against, and a change
  is recorded with it, in one write; then the organisers' email and the allies' events are
  queued (`tell`). A run that stopped before queueing them queues them at the next run.

A source that cannot be read is retried within the run (`sources.fetch_with_retries`), then
reported on the watch's status, and read again after a wait that doubles with each failed run;
a failure is never a change.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import requests

from optout.core import events, queues
from optout.core.clock import iso, parse_iso
from optout.core.events import EventType
from optout.core.jobs import ChangeNoticeJob, ForwardJob, Notice
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain.watches import OTA, SeenChange, Version, Watch, WatchStatus, change_id
from optout.store import VersionTooLarge, WatchStore
from optout.watching import compare, extract, forward, sources
from optout.watching.terms import DEFAULT_TERMS, Terms

ATTEMPTS = 3  # reads of a failing source within one run, before it is reported
LONGEST_WAIT = timedelta(hours=24)  # between runs that read a source failing for days
# The longest a source's reads may take in one run, in seconds: each read's deadline
# (`sources.TOTAL_TIMEOUT`) for every attempt, and the waits between them (at most 2 + 4 s),
# with room to record the outcome.
SENTENCES_KEPT = 120 * 1024  # bytes of added, and of removed, sentences kept on a change
LONGEST_READ = ATTEMPTS * sources.TOTAL_TIMEOUT + 6 + 10


@dataclass(frozen=True)
class _Read:
    """A source's text as read now, or None for a 304 (unchanged since the validators)."""

    text: str | None
    url: str
    source_id: str = ""
    etag: str = ""
    last_modified: str = ""


def run(
    settings: Settings,
    now: datetime,
    *,
    time_left: Callable[[], float] = lambda: float("inf"),
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """Check every watch that is due, the one read longest ago first; how many ended each way
    ("changed", "unchanged", "cosmetic", "first", "failed", "raced", "paused", "waiting", "told
    again", "error", and "next run": not started, `time_left()` seconds being too few to read
    one more source). A watch that fails in a way no source explains (a bug, DynamoDB refusing)
    is logged and counted "error"; the others are still checked."""
    store = WatchStore(settings)
    outcomes: Counter[str] = Counter()
    for change in store.untold_changes():
        try:
            tell(settings, store, change, store.get(change.watch_id))
            outcomes["told again"] += 1
        except Exception:
            logger.exception(
                "change not told; the next run tries again", extra={"change_id": change.change_id}
            )
            outcomes["error"] += 1
    for watch in sorted(store.watches(), key=lambda watch: watch.status.checked_at):
        if watch.paused:
            outcomes["paused"] += 1
        elif watch.status.next_check_at and parse_iso(watch.status.next_check_at) > now:
            outcomes["waiting"] += 1
        elif time_left() < LONGEST_READ:
            outcomes["next run"] += 1  # read first by the next run: it was read longest ago
        else:
            try:
                outcomes[check(settings, store, watch, now, session=session, sleep=sleep)] += 1
            except Exception:
                logger.exception("watch not checked", extra={"watch_id": watch.watch_id})
                outcomes["error"] += 1
    logger.info("watches checked", extra=dict(outcomes))
    return dict(outcomes)


def check(
    settings: Settings,
    store: WatchStore,
    watch: Watch,
    now: datetime,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Check one watch now; how it ended (see `run`)."""
    try:
        read = sources.fetch_with_retries(
            lambda: _read(watch, now, settings.watching.allow_loopback, session),
            attempts=ATTEMPTS,
            sleep=sleep,
        )
        if read.text is not None and not read.text.strip():
            raise sources.SourceFailed("the source has no text to read", retryable=False)
    except sources.SourceFailed as failed:
        store.record_check(watch, _failing(watch.status, failed.reason, now))
        logger.warning("watch failed", extra={"watch_id": watch.watch_id, "reason": failed.reason})
        return "failed"
    status = WatchStatus(checked_at=iso(now), ok_at=iso(now))
    validators = {"etag": read.etag, "last_modified": read.last_modified}
    if read.text is None or _digest(read.text) == watch.last_digest:
        store.record_check(watch, status, **validators)
        return "unchanged"
    version = Version(
        watch_id=watch.watch_id,
        fetched_at=iso(now),
        digest=_digest(read.text),
        text=read.text,
        url=read.url,
        source_id=read.source_id,
    )
    previous = store.version(watch.watch_id, watch.last_version) if watch.last_version else None
    found = None
    if previous is not None:
        found = compare.compare(previous.text, read.text, Terms.of(watch.terms or DEFAULT_TERMS))
        if found is None:
            store.record_check(watch, status, **validators)
            return "cosmetic"
    change = _seen(settings, watch, found, previous, version, now) if found else None
    try:
        recorded = store.record_version(watch, version, status, now, change=change, **validators)
    except VersionTooLarge as refused:
        store.record_check(watch, _failing(watch.status, str(refused), now))
        return "failed"
    if not recorded:
        return "raced"  # another run recorded this version first, and told of it
    if change is None:
        return "first"
    logger.info("policy change found", extra={"change_id": change.change_id, "score": change.score})
    tell(settings, store, change, watch)
    return "changed"


def tell(settings: Settings, store: WatchStore, change: SeenChange, watch: Watch | None) -> None:
    """Queue the organisers' email (for a change at or above the threshold, when there is an
    address), an event to each of the watch's allies, and one for the organisers' own tools
    (for every change); then note that they are queued. Each job sends once (`notices`), and
    the organisers' event has the change's id for its key, so queueing twice is harmless."""
    jobs: list[Notice] = []
    if change.notify and settings.watching.organisers_address:
        jobs.append(ChangeNoticeJob(change_id=change.change_id))
    if watch is not None:
        jobs.extend(
            ForwardJob(change_id=change.change_id, ally=index, url=ally.url)
            for index, ally in enumerate(watch.allies)
        )
    queues.enqueue_many(settings.notice_queue_url, jobs)
    events.emit(
        settings,
        EventType.POLICY_CHANGE_DETECTED,
        forward.event_data(asdict(change)),
        parse_iso(change.detected_at),
        key=change.change_id,
    )
    store.mark_told(change.change_id)


def _read(
    watch: Watch, now: datetime, allow_loopback: bool, session: requests.Session | None
) -> _Read:
    source = watch.source
    if source.kind == OTA:
        version = sources.fetch_ota_version(
            source.api_url,
            source.service_id,
            source.terms_type,
            now,
            allow_loopback=allow_loopback,
            session=session,
        )
        return _Read(extract.text_of_markdown(version.content), version.url, version.id)
    page = sources.fetch_page(
        source.url,
        etag=watch.etag,
        last_modified=watch.last_modified,
        allow_loopback=allow_loopback,
        session=session,
    )
    if isinstance(page, sources.NotModified):
        return _Read(None, page.url, etag=page.etag, last_modified=page.last_modified)
    if page.content_type in {"text/plain", "text/markdown"}:
        text = extract.text_of_markdown(extract.decode(page.body, page.encoding))
    else:
        text = extract.text_of_html(page.body, page.encoding)
    return _Read(text, page.url, etag=page.etag, last_modified=page.last_modified)


def _seen(
    settings: Settings,
    watch: Watch,
    found: compare.Change,
    previous: Version | None,
    version: Version,
    now: datetime,
) -> SeenChange:
    added, left_out_added = _within(found.added, SENTENCES_KEPT)
    removed, left_out_removed = _within(found.removed, SENTENCES_KEPT)
    return SeenChange(
        change_id=change_id(now, watch.watch_id),
        watch_id=watch.watch_id,
        platform=watch.platform,
        title=watch.title,
        about=watch.about,
        detected_at=iso(now),
        added=added,
        removed=removed,
        left_out=left_out_added + left_out_removed,
        terms=found.terms,
        score=found.score,
        notify=found.score >= settings.watching.notify_at,
        before=previous.fetched_at if previous else "",
        after=version.fetched_at,
        source_url=version.url or watch.source.described,
        setting_url=watch.setting_url,
    )


def _within(sentences: tuple[str, ...], budget: int) -> tuple[tuple[str, ...], int]:
    """The first sentences whose UTF-8 takes at most `budget` bytes, and how many are left
    out: a page rewritten whole must still fit a change in one DynamoDB item (400 KB). The
    versions keep every sentence."""
    kept: list[str] = []
    for sentence in sentences:
        budget -= len(sentence.encode("utf-8"))
        if budget < 0:
            break
        kept.append(sentence)
    return tuple(kept), len(sentences) - len(kept)


def _failing(status: WatchStatus, reason: str, now: datetime) -> WatchStatus:
    """The status after a failed check: the reason, and the next check after a wait that
    doubles with each failure in a row (1, 2, 4 ... hours, at most a day)."""
    failures = status.failures + 1
    # The exponent stops growing at the cap: 2 ** 36 hours is past what a timedelta holds.
    wait = min(LONGEST_WAIT, timedelta(hours=2 ** min(failures - 1, 5)))
    # A little early: the next hourly run that comes after the wait reads it.
    return replace(
        status,
        checked_at=iso(now),
        failures=failures,
        reason=reason,
        next_check_at=iso(now + wait - timedelta(minutes=5)),
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
