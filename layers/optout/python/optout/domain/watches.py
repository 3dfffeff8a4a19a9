"""Policy watches: what organisers ask the bot to watch, the versions it saw, the changes it found.

A watch is a platform and a source: a page (a settings help page, a blog post) or a document an
Open Terms Archive Collection API keeps (its base URL, a service id such as ``LinkedIn``, a terms
type such as ``Privacy Policy``). The watcher (`optout.watching.check`) reads each source, keeps
each new version's text, and records a `SeenChange` when sentences were added or removed.

Pure records and the rules of what an organiser may declare; no AWS, no fetching.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from optout.core.errors import InvalidInput

PAGE = "page"
OTA = "ota"  # an Open Terms Archive Collection API
SOURCE_KINDS = (PAGE, OTA)
POLICY = "policy"  # a policy or terms document: a change may call for a campaign
SETTING = "setting"  # a page about the setting itself: a change may call for "check it again"
ABOUT = (POLICY, SETTING)
MAX_ALLIES = 10
MAX_URL = 2000

# No dash at the end: the draft of a change is named after its watch, and "abc-" would read
# as "abc".
_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # as in the policy-change schema
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_OTA_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,100}$")  # a service id or terms type: one path part
_FIELDS = frozenset(
    {"watch_id", "platform", "title", "source", "about", "setting_url", "terms", "allies"}
)
EDITABLE = ("title", "about", "setting_url", "terms", "add_allies", "remove_allies")
# What an edit may not change, and why: each is what the watch is.
_FIXED = {
    "source": "cannot be changed: a new source is a new watch; create one (and delete this "
    "one if it is no longer wanted)",
    "watch_id": "cannot be changed: it names the watch",
    "platform": "cannot be changed: a watch of another platform is a new watch",
    "allies": "give add_allies and remove_allies (lists of https addresses)",
}


@dataclass(frozen=True)
class Source:
    kind: str  # PAGE or OTA
    url: str = ""  # a page's address
    api_url: str = ""  # an Open Terms Archive Collection API's root, /v1 included
    service_id: str = ""
    terms_type: str = ""

    @property
    def described(self) -> str:
        """What the source is, for a person: its address, or the API, service and terms type."""
        if self.kind == PAGE:
            return self.url
        return f"{self.service_id} {self.terms_type} at {self.api_url}"


@dataclass(frozen=True)
class Ally:
    """A group told of every change, by a Standard Webhooks event signed with its own secret."""

    url: str
    secret: str  # whsec_<base64>, made by us when the ally is added and shown once
    problem: str = ""  # why the last event could not be delivered, after every retry


@dataclass(frozen=True)
class WatchStatus:
    """How the last checks went. `failures` counts the checks failed since the last success;
    `reason` is the last failure's, for organisers ("" once a check succeeds)."""

    checked_at: str = ""
    ok_at: str = ""
    failures: int = 0
    reason: str = ""
    next_check_at: str = ""  # "" means at the next run; later after failures (backoff)

    @property
    def state(self) -> str:
        if self.failures:
            return "failing"
        return "ok" if self.ok_at else "new"


@dataclass(frozen=True)
class Watch:
    watch_id: str
    platform: str
    title: str
    source: Source
    about: str = POLICY
    setting_url: str = ""
    terms: tuple[str, ...] = ()  # empty: `optout.watching.terms.DEFAULT_TERMS`
    allies: tuple[Ally, ...] = ()
    paused: bool = False
    created_at: str = ""
    # Where the dashboard is, for the links in the organisers' email when PublicBaseUrl is
    # empty: the address the watch was created on, as a campaign keeps its own.
    base_url: str = ""
    status: WatchStatus = WatchStatus()
    # The version changes are measured against (its fetched_at), its digest, and the validators
    # the source gave with it (a conditional request then costs the source nothing).
    last_version: str = ""
    last_digest: str = ""
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class Version:
    """One version of a source's text, as extracted; `fetched_at` (ISO UTC) is its id."""

    watch_id: str
    fetched_at: str
    digest: str  # SHA-256 of `text`
    text: str
    url: str = ""  # where it was read (after redirects), or the API's version address
    source_id: str = ""  # the Open Terms Archive version's id


@dataclass(frozen=True)
class SeenChange:
    """A change the watcher found between two versions of a watch's source."""

    change_id: str  # `change_id(detected_at, watch_id)`: sorts by time
    watch_id: str
    platform: str
    title: str
    about: str
    detected_at: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    terms: tuple[str, ...]
    score: float
    notify: bool  # the score reached the threshold: the organisers are emailed (allies get all)
    before: str  # the versions compared, by fetched_at
    after: str
    source_url: str
    setting_url: str = ""
    left_out: int = 0  # sentences too many to keep on the change: the versions have them all
    draft_campaign_id: str = ""
    follow_ups: Mapping[str, str] = field(default_factory=dict)  # campaign id -> send id
    told: bool = False  # the organisers' email and the allies' events are queued


@dataclass(frozen=True)
class WatchEdit:
    """What an organiser changes of a watch; a field left None is left as it is. `terms` ()
    goes back to the default list. The allies after the edit are the watch's, less
    `remove_allies`, then `add_allies` (each new one gets a new secret: removing and adding
    the same address gives it a new secret)."""

    title: str | None = None
    about: str | None = None
    setting_url: str | None = None
    terms: tuple[str, ...] | None = None
    add_allies: tuple[str, ...] = ()
    remove_allies: tuple[str, ...] = ()


def change_id(detected_at: datetime, watch_id: str) -> str:
    return f"{detected_at:%Y%m%d%H%M%S}-{watch_id}"


def parse_watch(
    document: object, *, created_at: str, allow_loopback: bool = False
) -> tuple[Watch, tuple[str, ...]]:
    """A watch from what an organiser sent, and the addresses of its allies (their secrets are
    made by the caller). Every problem is named in one `InvalidInput`. `allow_loopback` lets
    http://127.0.0.1 addresses through (the local stack); AWS reads https only."""
    if not isinstance(document, Mapping):
        raise InvalidInput({"body": "a JSON object is expected"})
    problems: dict[str, str] = {
        name: "not a field of a watch" for name in sorted(set(document) - _FIELDS)
    }
    platform = _text(document, "platform", problems, required=True)
    if platform and not _PLATFORM.fullmatch(platform):
        problems["platform"] = "lower-case letters, digits and dashes, like linkedin"
    title = _text(document, "title", problems, required=True)
    if len(title) > 200 or "\n" in title:
        problems["title"] = "one line of at most 200 characters"
    source = _source(document.get("source"), problems, allow_loopback)
    watch_id = _text(document, "watch_id", problems) or _default_id(platform, source)
    if not _SLUG.fullmatch(watch_id):
        problems["watch_id"] = "lower-case letters, digits and dashes (not at the end), at most 64"
    about = _text(document, "about", problems) or POLICY
    if about not in ABOUT:
        problems["about"] = f"one of {', '.join(ABOUT)}"
    setting_url = _text(document, "setting_url", problems)
    if setting_url:  # a link people follow, never read by the watch: any port will do
        _check_url(setting_url, "setting_url", problems, allow_loopback=False, read=False)
    terms = document.get("terms", [])
    if terms is None:
        terms = []
    if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
        problems["terms"] = "a list of words and phrases"
        terms = []
    allies = document.get("allies", [])
    if not isinstance(allies, list) or not all(isinstance(url, str) for url in allies):
        problems["allies"] = "a list of https addresses"
        allies = []
    elif len(allies) > MAX_ALLIES:
        problems["allies"] = f"at most {MAX_ALLIES}"
    for index, url in enumerate(allies[:MAX_ALLIES]):
        _check_url(url, f"allies[{index}]", problems, allow_loopback=allow_loopback)
    if problems or source is None:
        raise InvalidInput(problems or {"source": "is required"})
    watch = Watch(
        watch_id=watch_id,
        platform=platform,
        title=title,
        source=source,
        about=about,
        setting_url=setting_url,
        terms=tuple(terms),
        created_at=created_at,
    )
    return watch, tuple(allies)


def parse_edit(watch: Watch, document: object, *, allow_loopback: bool = False) -> WatchEdit:
    """An edit of `watch` from what an organiser sent: any of `EDITABLE`, each checked as
    `parse_watch` checks it (the terms' words are the caller's to check, with
    `optout.watching.terms.Terms.parse`). Every problem is named in one `InvalidInput`."""
    if not isinstance(document, Mapping):
        raise InvalidInput({"body": "a JSON object is expected"})
    problems: dict[str, str] = {
        name: _FIXED.get(name, f"not a field of an edit: one of {', '.join(EDITABLE)}")
        for name in sorted(set(document) - set(EDITABLE))
    }
    title = _text(document, "title", problems, required=True) if "title" in document else None
    if title is not None and (len(title) > 200 or "\n" in title):
        problems["title"] = "one line of at most 200 characters"
    about = (_text(document, "about", problems) or POLICY) if "about" in document else None
    if about is not None and about not in ABOUT:
        problems["about"] = f"one of {', '.join(ABOUT)}"
    setting_url = _text(document, "setting_url", problems) if "setting_url" in document else None
    if setting_url:  # "" or null: no setting link any more
        _check_url(setting_url, "setting_url", problems, allow_loopback=False, read=False)
    terms: tuple[str, ...] | None = None
    if "terms" in document:
        raw_terms = document["terms"] or []
        if not isinstance(raw_terms, list) or not all(isinstance(t, str) for t in raw_terms):
            problems["terms"] = "a list of words and phrases; [] or null: the default list"
        else:
            terms = tuple(raw_terms)
    current = [ally.url for ally in watch.allies]
    remove = _urls(document, "remove_allies", problems)
    for index, url in enumerate(remove):
        if url not in current:
            problems[f"remove_allies[{index}]"] = "not an ally of this watch"
    kept = [url for url in current if url not in remove]
    add = _urls(document, "add_allies", problems)
    for index, url in enumerate(add):
        name = f"add_allies[{index}]"
        _check_url(url, name, problems, allow_loopback=allow_loopback)
        if url in kept or url in add[:index]:
            problems.setdefault(name, "already an ally of this watch")
    if len(kept) + len(add) > MAX_ALLIES:
        problems["add_allies"] = f"a watch has at most {MAX_ALLIES} allies"
    if problems:
        raise InvalidInput(problems)
    return WatchEdit(title, about, setting_url, terms, tuple(add), tuple(remove))


def _urls(document: Mapping[str, Any], name: str, problems: dict[str, str]) -> list[str]:
    """A list of addresses (null or absent: none), each once."""
    raw = document.get(name) or []
    if not isinstance(raw, list) or not all(isinstance(url, str) for url in raw):
        problems[name] = "a list of https addresses"
        return []
    if len(raw) > MAX_ALLIES:
        problems[name] = f"at most {MAX_ALLIES}"
        return []
    return [url.strip() for url in raw]


def _default_id(platform: str, source: Source | None) -> str:
    """linkedin-privacy-policy for an Open Terms Archive document; linkedin-<last path part>
    for a page."""
    if source is None or not platform:
        return platform
    if source.kind == OTA:
        tail = source.terms_type
    else:
        tail = urlsplit(source.url).path.rstrip("/").rpartition("/")[2] or "page"
    slug = re.sub(r"[^a-z0-9]+", "-", tail.lower()).strip("-")
    return f"{platform}-{slug}"[:64].rstrip("-") if slug else platform


def _source(raw: object, problems: dict[str, str], allow_loopback: bool) -> Source | None:
    if not isinstance(raw, Mapping):
        problems["source"] = (
            'an object: {"kind": "page", "url": ...} or {"kind": "ota", "api_url": ..., '
            '"service_id": ..., "terms_type": ...}'
        )
        return None
    kind = raw.get("kind")
    if kind == PAGE:
        allowed, url = {"kind", "url"}, raw.get("url")
        if not isinstance(url, str) or not url:
            problems["source.url"] = "the page's https address is required"
        else:
            _check_url(url, "source.url", problems, allow_loopback=allow_loopback)
        found = Source(PAGE, url=url if isinstance(url, str) else "")
    elif kind == OTA:
        allowed = {"kind", "api_url", "service_id", "terms_type"}
        values = {name: raw.get(name) for name in ("api_url", "service_id", "terms_type")}
        for name, value in values.items():
            if not isinstance(value, str) or not value:
                problems[f"source.{name}"] = "is required"
        if isinstance(values["api_url"], str) and values["api_url"]:
            _check_url(values["api_url"], "source.api_url", problems, allow_loopback=allow_loopback)
        for name in ("service_id", "terms_type"):
            value = values[name]
            if isinstance(value, str) and value and not _OTA_NAME.fullmatch(value):
                problems[f"source.{name}"] = "at most 100 characters, with no slash"
        found = Source(
            OTA,
            api_url=str(values["api_url"] or "").rstrip("/"),
            service_id=str(values["service_id"] or ""),
            terms_type=str(values["terms_type"] or ""),
        )
    else:
        problems["source.kind"] = f"one of {', '.join(SOURCE_KINDS)}"
        return None
    for name in sorted(set(raw) - allowed):
        problems[f"source.{name}"] = f"not a field of a {kind} source"
    return found


def _text(
    document: Mapping[str, Any], name: str, problems: dict[str, str], *, required: bool = False
) -> str:
    value = document.get(name)
    if value is not None and not isinstance(value, str):
        problems[name] = "must be text"
        return ""
    text = (value or "").strip()
    if not text and required:
        problems[name] = "is required"
    return text


def _check_url(
    url: str, name: str, problems: dict[str, str], *, allow_loopback: bool, read: bool = True
) -> None:
    """An absolute https address (http on 127.0.0.1, ::1 or localhost when `allow_loopback`).
    An address the watch reads or posts to (`read`) must also be one `optout.watching.sources`
    would ever reach: on port 443, and not an IP address of a private, loopback or link-local
    network, so that a watch that could never be read, or an ally never told, is refused now
    rather than failing every hour. Where a host name leads is checked when it is read,
    address by address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        problems[name] = "not an address"
        return
    loopback = parts.hostname in _LOOPBACK
    local = allow_loopback and loopback
    if len(url) > MAX_URL or any(character.isspace() for character in url):
        problems[name] = f"an address of at most {MAX_URL} characters, without spaces"
    elif parts.scheme != "https" and not (local and parts.scheme == "http"):
        problems[name] = "an https address"
    elif not parts.hostname or parts.username or parts.password:
        problems[name] = "an https address with a host name and no user name or password"
    elif read and not local and port not in (None, 443):
        problems[name] = (
            f"port {port} is never reached: the watch reads and posts on the standard https "
            "port (443) only; leave the port out"
        )
    elif read and not local and _private_ip(parts.hostname):
        problems[name] = "an address on a private or local network is never reached"


def _private_ip(host: str) -> bool:
    """True for an IP address that is not a public one (10.0.0.1, 169.254.169.254, ::1)."""
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a host name: checked when it is read
