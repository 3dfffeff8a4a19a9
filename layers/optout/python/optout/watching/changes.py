"""What organisers see of the changes the watch found, and the campaign they draft from one.

Changes are listed newest first, each with every field the watcher recorded and the addresses
of the two versions it compared. "Draft a campaign" makes a draft campaign from a change, once:
the platform, a title (the watch's), a summary made of the sentences added (or, when none was,
of those removed), the page the change was read on (for an Open Terms Archive source, the
version's address) and the watch's setting link. A draft sends nothing; it has no regions and
no steps yet, which the organiser adds on the campaign's page before launching it
(`optout.campaigns.manage.complete_draft`, `launch`).

Every sentence is text from someone else's web page: pages show it escaped, as any text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict
from datetime import datetime
from typing import Any

from optout.campaigns import manage
from optout.core import clock
from optout.core.clock import parse_iso
from optout.core.errors import Conflict, NotFound
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain import policy
from optout.domain.watches import SETTING, SeenChange
from optout.store import CampaignStore, WatchStore
from optout.watching import follow_up
from optout.watching.terms import Terms

SHOWN = 100  # changes listed, newest first
SENTENCES_LISTED = 5  # of each side, on the list page (the change's page shows them all)
_ABOUT = {SETTING: "settings page"}  # how a title names what changed; "policy" otherwise
_NO_LONGER = "No longer in the text: "
# As `optout.core.json_body` refuses them: no web page may put them into a campaign's text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def list_changes(settings: Settings, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The latest changes, newest first, as JSON."""
    return [_view(change) for change in WatchStore(settings).changes(limit)]


def show_change(settings: Settings, change_id: str) -> dict[str, Any]:
    """One change, as JSON."""
    return _view(_existing(WatchStore(settings), change_id))


def draft(
    settings: Settings, change_id: str, *, base_url: str, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Make the draft campaign of a change, or find the one made before: its id, and whether
    this call made it. A change drafts one campaign: asked twice (or by two organisers at
    once), the answer is the same campaign. Its id comes from the change, so a call that
    stopped between making the campaign and noting it on the change is finished by the next."""
    store = WatchStore(settings)
    change = _existing(store, change_id)
    campaign_id = change.draft_campaign_id or campaign_id_for(change)
    created = False
    if CampaignStore(settings).get_campaign(campaign_id) is None:
        try:
            manage.create_draft(
                settings, draft_document(change, campaign_id), base_url=base_url, now=now
            )
            created = True
        except Conflict:
            pass  # made at this moment by another call, for this same change
    store.set_draft(change_id, campaign_id)  # False if it was noted already: the same id
    if created:
        logger.info("campaign drafted", extra={"change_id": change_id, "campaign_id": campaign_id})
    return {"change_id": change_id, "campaign_id": campaign_id, "created": created}, created


def changes_page(settings: Settings, now: datetime) -> dict[str, Any]:
    """The dashboard's Changes page: the latest changes, newest first, with their sentences."""
    zone = settings.admin.time_zone
    changes = WatchStore(settings).changes(SHOWN)
    return {
        "changes": [_shown(change, zone, SENTENCES_LISTED) for change in changes],
        "now": clock.shown(now, zone),
    }


def change_page(settings: Settings, change_id: str, now: datetime) -> dict[str, Any]:
    """One change's page: every sentence added and removed, and for a settings page's change
    the ended campaigns it may follow up ("check it again")."""
    zone = settings.admin.time_zone
    change = _existing(WatchStore(settings), change_id)
    return {
        "change": _shown(change, zone, None),
        "now": clock.shown(now, zone),
        "follow_ups": follow_up.offers_of(settings, change.change_id),
    }


# -- the draft, from the change alone --------------------------------------------------------


def campaign_id_for(change: SeenChange) -> str:
    """The id of a change's draft campaign: its watch's id and when it was found,
    ``linkedin-generative-ai-20251020-070000`` (a campaign id has at most 64 characters)."""
    stamp = change.change_id.partition("-")[0]
    watch = change.watch_id
    if len(watch) > 48:  # shortened, and told apart from another that begins the same
        watch = f"{watch[:41].rstrip('-')}-{hashlib.sha256(watch.encode()).hexdigest()[:6]}"
    return f"{watch}-{stamp[:8]}-{stamp[8:]}"


def draft_title(change: SeenChange) -> str:
    """The watch's title, or "LinkedIn changed its policy" ("... its settings page")."""
    title = " ".join(_CONTROL.sub(" ", change.title).split())[:200].strip()
    about = _ABOUT.get(change.about, "policy")
    return title or f"{policy.platform_name(change.platform)} changed its {about}"


def draft_summary(change: SeenChange, limit: int = 2000) -> str:
    """The sentences added, in order, as many as fit in `limit` characters (the schema's
    summary); when none was added, those removed, after "No longer in the text:". A first
    sentence longer than the limit is cut at a word, with an ellipsis."""
    lead, sentences = ("", change.added) if change.added else (_NO_LONGER, change.removed)
    kept: list[str] = []
    for raw in sentences:
        sentence = " ".join(_CONTROL.sub(" ", raw).split())
        if not sentence:
            continue
        if len(lead + " ".join([*kept, sentence])) > limit:
            if not kept:
                cut = sentence[: limit - len(lead) - 1]
                kept.append((cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…")
            break
        kept.append(sentence)
    return lead + " ".join(kept) if kept else ""


def draft_document(change: SeenChange, campaign_id: str) -> dict[str, Any]:
    """The policy-change document of a change's draft campaign: no regions and no steps yet.
    A link the schema would refuse (an address the watch reads that is not a web address) is
    left out, for the organiser to give."""
    text: dict[str, Any] = {"id": campaign_id, "title": draft_title(change)}
    summary = draft_summary(change)
    if summary:
        text["summary"] = summary
    for name, url in (("source_url", change.source_url), ("setting_url", change.setting_url)):
        if url and _allowed(name, url):
            text[name] = url
    return {"type": policy.CHANGED, "platform": change.platform, "policy": text, "draft": True}


# -- helpers ---------------------------------------------------------------------------------


def _existing(store: WatchStore, change_id: str) -> SeenChange:
    change = store.get_change(change_id)
    if change is None:
        raise NotFound(f"no change {change_id!r}")
    return change


def _view(change: SeenChange) -> dict[str, Any]:
    """Every field of the change, and where its two versions (and its draft) are."""
    links = {
        "before": version_link(change.watch_id, change.before),
        "after": version_link(change.watch_id, change.after),
    }
    if change.draft_campaign_id:
        links["campaign"] = f"/admin/campaigns/{change.draft_campaign_id}"
    return {**asdict(change), "follow_ups": dict(change.follow_ups), "links": links}


def version_link(watch_id: str, fetched_at: str) -> str:
    """The admin API's address of a kept version of a watch's source."""
    return f"/admin/watches/{watch_id}/versions/{fetched_at}"


def _shown(change: SeenChange, zone: str, cap: int | None) -> dict[str, Any]:
    """A change as a page shows it: its time in the dashboard's zone, and each sentence in
    parts, the terms found in it marked."""
    terms = Terms.of(change.terms)
    added, removed = change.added[:cap], change.removed[:cap]
    return {
        **_view(change),
        "when": clock.shown(parse_iso(change.detected_at), zone),
        "platform_name": policy.platform_name(change.platform),
        "score_percent": round(change.score * 100),
        "added_parts": [_parts(sentence, terms) for sentence in added],
        "removed_parts": [_parts(sentence, terms) for sentence in removed],
        "added_more": len(change.added) - len(added),
        "removed_more": len(change.removed) - len(removed),
    }


def _parts(sentence: str, terms: Terms) -> list[dict[str, Any]]:
    """The sentence as text parts, each `marked` or not; the page escapes each part."""
    parts, at = [], 0
    for start, end in terms.spans(sentence):
        if start > at:
            parts.append({"text": sentence[at:start], "marked": False})
        parts.append({"text": sentence[start:end], "marked": True})
        at = end
    if at < len(sentence):
        parts.append({"text": sentence[at:], "marked": False})
    return parts


def _allowed(name: str, url: str) -> bool:
    rule = policy.schema()["properties"]["policy"]["properties"][name]
    return len(url) <= rule["maxLength"] and re.fullmatch(rule["pattern"], url) is not None
