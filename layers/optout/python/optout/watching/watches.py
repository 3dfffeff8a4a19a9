"""What organisers do to watches by hand: create, list, show, edit, pause, resume and delete them,
and read a version the watcher kept.

A watch is declared as `optout.domain.watches.parse_watch` reads it (every problem named in one
400), with its terms checked as `optout.watching.terms.Terms.parse` does. Each ally gets a
signing secret of its own (`forward.new_secret`), shown in full in the answer that created it
and never again: afterwards only its last characters, enough to tell which one an ally holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from optout.core import json_body
from optout.core.clock import iso
from optout.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain.watches import EDITABLE, OTA, PAGE, Ally, Watch, parse_edit, parse_watch
from optout.store import WatchStore
from optout.watching import forward
from optout.watching.terms import DEFAULT_TERMS, Terms

# A watch with 200 terms of 60 characters and 10 allies of 2,000 is about 40 KB.
MAX_BODY = 64 * 1024
SHOWN_ONCE = "each ally's secret is shown here once, and never again: give it to that ally now"
HINT_LENGTH = 4
# The dashboard's form: its fields, each a field of the watch or of its source.
FORM_FIELDS = frozenset(
    {
        "watch_id",
        "platform",
        "title",
        "kind",
        "url",
        "api_url",
        "service_id",
        "terms_type",
        "about",
        "setting_url",
        "allies",
        "terms",
    }
)


def read_document(body: bytes) -> dict[str, Any]:
    """A watch as an API client sends it: a JSON object of at most `MAX_BODY` bytes."""
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"a watch is at most {MAX_BODY // 1024} KiB of JSON")
    return json_body.parse_object(body)


def from_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A watch from the dashboard's form: the source's fields of the kind chosen, and allies and
    terms one per line; a field left empty is left out (its default applies)."""
    unknown = sorted(set(fields) - FORM_FIELDS)
    if unknown:
        raise InvalidInput({name: "not a field of this form" for name in unknown})
    values = {name: str(value).strip() for name, value in fields.items()}
    document: dict[str, Any] = {
        name: values[name]
        for name in ("watch_id", "platform", "title", "about", "setting_url")
        if values.get(name)
    }
    kind = values.get("kind", "")
    if kind == PAGE:
        document["source"] = {"kind": PAGE, "url": values.get("url", "")}
    elif kind == OTA:
        document["source"] = {
            "kind": OTA,
            **{name: values.get(name, "") for name in ("api_url", "service_id", "terms_type")},
        }
    else:
        document["source"] = {"kind": kind}
    for name in ("allies", "terms"):
        lines = [line.strip() for line in values.get(name, "").splitlines()]
        if any(lines):
            document[name] = [line for line in lines if line]
    return document


def from_edit_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """An edit from the dashboard's form, which shows every field filled in: each is set as
    sent (terms left empty: the default list; no setting URL: none), allies to add one per line,
    and the allies to remove as their checked boxes (one value each)."""
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise InvalidInput({name: "not a field of this form" for name in unknown})
    document: dict[str, Any] = {
        name: str(fields.get(name, "")).strip() for name in ("title", "about", "setting_url")
    }
    for name in ("terms", "add_allies"):
        lines = (line.strip() for line in str(fields.get(name, "")).splitlines())
        document[name] = [line for line in lines if line]
    removed = fields.get("remove_allies", [])
    document["remove_allies"] = [removed] if isinstance(removed, str) else list(removed)
    return document


def create(
    settings: Settings, document: Mapping[str, Any], now: datetime, *, base_url: str = ""
) -> dict[str, Any]:
    """Save a new watch; the answer holds each ally's secret, in full, this once. Nothing is
    saved when anything is wrong (every problem named, 400) or the id is taken (409).
    `base_url` is where the API was called: the organisers' email links to the dashboard there
    when no PublicBaseUrl is set."""
    problems: dict[str, str] = {}
    terms: Terms | None = None
    raw_terms = document.get("terms")
    if raw_terms not in (None, []):  # none given: the default list
        try:
            terms = Terms.parse(raw_terms)
        except InvalidInput as error:
            problems.update(error.problems)
    try:
        watch, ally_urls = parse_watch(
            document, created_at=iso(now), allow_loopback=settings.watching.allow_loopback
        )
    except InvalidInput as error:
        raise InvalidInput({**error.problems, **problems}) from None
    if problems:
        raise InvalidInput(problems)
    allies = tuple(Ally(url, forward.new_secret()) for url in ally_urls)
    watch = replace(watch, terms=terms.words if terms else (), allies=allies, base_url=base_url)
    if not WatchStore(settings).create(watch):
        raise Conflict(
            f"a watch {watch.watch_id!r} exists: give another watch_id, or delete that one first"
        )
    logger.info("watch created", extra={"watch_id": watch.watch_id, "allies": len(allies)})
    return {
        **_view(watch),
        "allies": [{"url": ally.url, "secret": ally.secret} for ally in allies],
        "note": SHOWN_ONCE,
    }


def list_watches(settings: Settings) -> list[dict[str, Any]]:
    """Every watch, failing ones first, then by platform and id, each with its status."""
    found = [_view(watch) for watch in WatchStore(settings).watches()]
    return sorted(
        found,
        key=lambda w: (w["status"]["state"] != "failing", w["platform"], w["watch_id"]),
    )


def show(settings: Settings, watch_id: str, *, base_url: str) -> dict[str, Any]:
    """A watch, the terms it looks for, and the versions kept of its source (newest first),
    each with the address of its text."""
    store = WatchStore(settings)
    watch = _existing(store, watch_id)
    root = f"{base_url}/admin/watches/{quote(watch_id, safe='')}/versions/"
    versions = [
        {
            "fetched_at": kept["fetched_at"],
            "digest": kept["digest"],
            "url": kept.get("url", ""),
            "kept_until": iso(datetime.fromtimestamp(int(kept["expires_at"]), UTC))
            if kept.get("expires_at")
            else "",
            "text_url": root + quote(kept["fetched_at"], safe=":"),
        }
        for kept in store.versions(watch_id)
    ]
    return {
        **_view(watch),
        "terms": list(watch.terms or DEFAULT_TERMS),
        "default_terms": not watch.terms,
        "versions": versions,
    }


def edit(settings: Settings, watch_id: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """Change a watch's title, about, setting URL, terms or allies (`parse_edit`); its source,
    the version it compares against, its status and its other allies' secrets stay. The
    watcher scores changes by the new terms from its next run. The answer is the watch as
    `show` gives it (without its versions), with each new ally's secret, in full, this once.
    Nothing is saved when anything is wrong (every problem named, 400); 404 for no such watch;
    409 when the allies were changed meanwhile."""
    store = WatchStore(settings)
    before = _existing(store, watch_id)
    problems: dict[str, str] = {}
    raw_terms = document.get("terms") if isinstance(document, Mapping) else None
    terms: tuple[str, ...] = ()
    if raw_terms not in (None, []):  # none: the default list
        try:
            terms = Terms.parse(raw_terms).words
        except InvalidInput as error:
            problems.update(error.problems)
    try:
        change = parse_edit(before, document, allow_loopback=settings.watching.allow_loopback)
    except InvalidInput as error:
        raise InvalidInput({**error.problems, **problems}) from None
    if problems:
        raise InvalidInput(problems)
    added = tuple(Ally(url, forward.new_secret()) for url in change.add_allies)
    after = replace(
        before,
        title=before.title if change.title is None else change.title,
        about=before.about if change.about is None else change.about,
        setting_url=before.setting_url if change.setting_url is None else change.setting_url,
        terms=before.terms if change.terms is None else terms,
        allies=tuple(a for a in before.allies if a.url not in change.remove_allies) + added,
    )
    if not store.edit(before, after):
        _existing(store, watch_id)  # deleted meanwhile: 404
        raise Conflict("the watch's allies were changed meanwhile: read it again and retry")
    logger.info(
        "watch edited",
        extra={
            "watch_id": watch_id,
            "fields": sorted(name for name in document if name in EDITABLE),
            "allies_added": len(added),
            "allies_removed": len(before.allies) + len(added) - len(after.allies),
        },
    )
    return {
        **_view(after),
        "terms": list(after.terms or DEFAULT_TERMS),
        "default_terms": not after.terms,
        "new_allies": [{"url": ally.url, "secret": ally.secret} for ally in added],
        "note": SHOWN_ONCE if added else "",
    }


def pause(settings: Settings, watch_id: str) -> dict[str, Any]:
    """Stop reading the watch's source until it is resumed (paused again: no change)."""
    return _set_paused(settings, watch_id, True)


def resume(settings: Settings, watch_id: str) -> dict[str, Any]:
    """Read the watch's source again, from the watcher's next run (resumed again: no change)."""
    return _set_paused(settings, watch_id, False)


def delete(settings: Settings, watch_id: str) -> dict[str, Any]:
    """Forget the watch. The changes it found stay, and the versions they compare stay readable
    until the retention ends."""
    if not WatchStore(settings).delete(watch_id):
        raise NotFound(f"no watch {watch_id!r}")
    logger.info("watch deleted", extra={"watch_id": watch_id})
    return {"watch_id": watch_id, "deleted": True}


def version(settings: Settings, watch_id: str, fetched_at: str) -> dict[str, Any]:
    """A version kept of a watch's source, with its text (still there after the watch was
    deleted, until the retention ends: the changes that compare it link to it)."""
    kept = WatchStore(settings).version(watch_id, fetched_at)
    if kept is None:
        raise NotFound(f"no version of {watch_id!r} fetched at {fetched_at!r} is kept")
    return {
        "watch_id": kept.watch_id,
        "fetched_at": kept.fetched_at,
        "digest": kept.digest,
        "url": kept.url,
        "source_id": kept.source_id,
        "text": kept.text,
    }


def secret_hint(secret: str) -> str:
    """Enough of a secret to tell which one an ally holds: ``whsec_…`` and its last characters
    (the base64 padding aside)."""
    return "whsec_…" + secret.rstrip("=")[-HINT_LENGTH:]


def _set_paused(settings: Settings, watch_id: str, paused: bool) -> dict[str, Any]:
    if not WatchStore(settings).set_paused(watch_id, paused):
        raise NotFound(f"no watch {watch_id!r}")
    logger.info("watch paused" if paused else "watch resumed", extra={"watch_id": watch_id})
    return {"watch_id": watch_id, "paused": paused}


def _existing(store: WatchStore, watch_id: str) -> Watch:
    watch = store.get(watch_id)
    if watch is None:
        raise NotFound(f"no watch {watch_id!r}")
    return watch


def _view(watch: Watch) -> dict[str, Any]:
    """A watch as organisers read it: its secrets reduced to hints."""
    source = watch.source
    status = watch.status
    return {
        "watch_id": watch.watch_id,
        "platform": watch.platform,
        "title": watch.title,
        "about": watch.about,
        "source": {"kind": PAGE, "url": source.url}
        if source.kind == PAGE
        else {
            "kind": OTA,
            "api_url": source.api_url,
            "service_id": source.service_id,
            "terms_type": source.terms_type,
        },
        "setting_url": watch.setting_url,
        "paused": watch.paused,
        "created_at": watch.created_at,
        "status": {
            "state": "paused" if watch.paused else status.state,
            "checked_at": status.checked_at,
            "ok_at": status.ok_at,
            "failures": status.failures,
            "reason": status.reason,
            "next_check_at": status.next_check_at,
        },
        "last_version": watch.last_version,
        "allies": [
            {"url": ally.url, "secret_hint": secret_hint(ally.secret), "problem": ally.problem}
            for ally in watch.allies
        ],
    }
