"""Consent kept as evidence: how a person came to be subscribed, on which wording, when.

What a data-protection officer answers a regulator with, for one person: how consent was given
(`FORM`: the subscribe form or its JSON API, then the confirmation link; `IMPORT`: an
organiser's own record of it, with its proof; `KEYWORD`: START texted to our number), the
version of the wording they agreed to and the SHA-256 of that exact wording in their language
(`messages.consent` makes both from the form's template and catalogue), their language, when
they subscribed and confirmed, and the privacy notice the form linked to. The person's privacy
page and its JSON export show it, and the organisers' CSV export; erasure removes it with the
rest of the record.

Pure logic: the record as the store keeps it (`models.Consent`) in, the evidence as people read
it out. A record from before this was kept lacks some of it: those fields read as None, "not
recorded", never as a guess.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from optout.domain.models import Subscriber

FORM = "form"
IMPORT = "import"
KEYWORD = "keyword"
KINDS = (FORM, IMPORT, KEYWORD)
# The stored `source` of a subscription through the form's page and through its JSON API.
FORM_SOURCES = ("web-form", "api")
WORDING_PREFIX = "subscribe-form"


def wording_sha256(text: str) -> str:
    """The hash kept for a wording: SHA-256 of its UTF-8 text, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_id(locale: str, sha256: str) -> str:
    """The stable id of one version of the form's wording in one language
    (``subscribe-form/de/3f2a9c1b0d4e``): the same wording always has the same id, and any change
    to it, in any catalogue, makes a new id for that language only."""
    return f"{WORDING_PREFIX}/{locale}/{sha256[:12]}"


@dataclass(frozen=True)
class Evidence:
    """The evidence of one person's consent, as their privacy page, its JSON and the organisers'
    export show it. None: not recorded (a record older than this evidence, or a pending
    subscription not confirmed yet)."""

    source: str | None  # FORM, IMPORT or KEYWORD
    source_detail: str | None  # "web-form", "api", an import's own ("paper form at FOSDEM")
    form_version: str | None
    wording_sha256: str | None
    language: str
    subscribed_at: str | None
    confirmed_at: str | None
    # "" : the form showed no privacy notice link (PrivacyNoticeUrl was empty).
    privacy_notice_url: str | None
    proof: str | None
    imported_at: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "source": self.source,
            "source_detail": self.source_detail,
            "form_version": self.form_version,
            "wording_sha256": self.wording_sha256,
            "language": self.language,
            "subscribed_at": self.subscribed_at,
            "confirmed_at": self.confirmed_at,
            "privacy_notice_url": self.privacy_notice_url,
            "proof": self.proof,
            "imported_at": self.imported_at,
        }


def kind_of(source: str, kind: str = "", imported_at: str = "") -> str | None:
    """How consent was given: as recorded, or for an older record as its source tells it."""
    if kind in KINDS:
        return kind
    if imported_at or source == IMPORT or source.startswith(f"{IMPORT}:"):
        return IMPORT
    if source in FORM_SOURCES:
        return FORM
    if source == KEYWORD:
        return KEYWORD
    return None


def evidence(subscriber: Subscriber) -> Evidence:
    """The evidence of `subscriber`'s consent (see the module's docstring)."""
    consent = subscriber.consent
    kind = kind_of(consent.source, consent.kind, consent.imported_at)
    confirmed_at = consent.requested_at if kind == KEYWORD else subscriber.confirmed_at
    # A privacy notice is the form's: recorded with its wording's hash, "" when none was shown.
    notice: str | None = consent.privacy_notice_url or None
    if notice is None and consent.wording_sha256:
        notice = ""
    return Evidence(
        source=kind,
        source_detail=consent.source or None,
        form_version=consent.form_version or None,
        wording_sha256=consent.wording_sha256 or None,
        language=consent.locale or subscriber.locale,
        subscribed_at=consent.requested_at or None,
        confirmed_at=confirmed_at or None,
        privacy_notice_url=notice,
        proof=consent.proof or None,
        imported_at=consent.imported_at or None,
    )
