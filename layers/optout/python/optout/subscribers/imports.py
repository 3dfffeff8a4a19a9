"""Subscribers in and out as CSV, for organisers (``/admin/subscribers/import`` and ``/export``).

An import is a list of people an organiser already has. Each row is checked by the same rules
as the subscribe form (`subscriptions.parse_request`). A row that carries proof of consent
(where, when and on which wording the person signed up) makes an active subscriber at once,
with that proof as their consent record; any other row gets the same double opt-in as the
form: a pending subscriber and one confirmation message (not a second one within the resend
window). The same contact twice in a file is one subscriber. An import never downgrades
anyone (an active subscriber stays active) and never brings back anyone who left: a contact
that unsubscribed, was suppressed (bounce, complaint) or erased is refused, row by row.

Each contact is one write (or one conditional write and one queued confirmation), so a row
that fails leaves nothing behind; contacts the table has never seen are written in batches.

In a coalition an import belongs to one organisation (`organisation_for`: the organiser's own;
the owner's, the default one unless it names another): its people become its members.
Someone already active in another organisation keeps their profile and gains the membership,
at once with the row's proof of consent, or after a confirmation from that organisation. An
organisation's export lists its members only, with their membership's status and joined time;
the owner's lists everyone, and (once organisations exist) the organisations of each.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from optout.core import events, keys, queues
from optout.core.clock import iso
from optout.core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from optout.core.events import EventType
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import Settings
from optout.domain import consent, event_data
from optout.domain.models import Consent, Membership, MembershipStatus, Status, Subscriber
from optout.domain.organisations import DEFAULT, Organiser, member_of, memberships_of
from optout.sending import catch_up
from optout.store import OrganisationStore, SubscriberStore
from optout.subscribers import subscriptions

PROVENANCE = ("consent_source", "consent_at", "consent_form")  # all three, or it is no proof
COLUMNS = (
    "contact",
    "region",
    "locale",
    "timezone",
    "platforms",
    *PROVENANCE,
    "consent_proof",
)
REQUIRED_COLUMNS = ("contact", "region")
# The longest cell each column may hold, in characters: generous for what it says, and a row
# stays far below DynamoDB's 400 KB item (a 390 KB consent_proof was accepted before).
CELL_LIMITS = {
    "contact": 320,
    "region": 8,
    "locale": 16,
    "timezone": 64,
    "platforms": 1000,
    "consent_source": 500,
    "consent_at": 64,
    "consent_form": 200,
    "consent_proof": 1000,
}
EVIDENCE_COLUMNS = (
    "consent_kind",
    "consent_wording_sha256",
    "consent_language",
    "consent_privacy_notice_url",
    "consent_proof",
)
EXPORT_COLUMNS = (
    "contact",
    "channel",
    "region",
    "locale",
    "timezone",
    "platforms",
    "consent_source",
    "consent_at",
    "consent_form",
    "subscribed_at",
    # The evidence of consent (`domain.consent`), after the columns there were before it: how
    # it was given (form, import, keyword), the form wording's hash and language, the privacy
    # notice the form linked to, and an import's proof. Empty: not recorded (or none).
    *EVIDENCE_COLUMNS,
)
# After those in the owner's export, once the coalition has organisations: each person's
# (`member_of`, ";"-separated); and in an organisation's export, their membership of it.
OWNER_COLUMNS = ("organisations",)
MEMBER_COLUMNS = ("membership_status", "joined_at")
# One request must finish well within the function's 60 s and Lambda's 6 MB request limit
# (API Gateway would take 10 MB); the CLI sends 500 rows a request.
MAX_ROWS = 5000
# An export part: 20,000 rows of about 150 bytes stay well inside a Lambda response (6 MB).
EXPORT_ROWS = 20_000
SCAN_PAGE = 1000
PLATFORM_SEPARATOR = ";"  # "," is the CSV's own
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# People who left: an import must never subscribe them again, nor write to them.
_LEFT = {
    Status.UNSUBSCRIBED: "this contact unsubscribed; an import never subscribes them again",
    Status.SUPPRESSED: "this contact is suppressed (a bounce or a complaint); it is never written to again",
    Status.ERASED: "this contact had their data erased; only they can subscribe again",
    Status.STOPPED: "this number texted STOP; nothing is sent to it until it texts START",
}
# Someone who left the importing organisation but not every one: their record is still active
# or pending for the others, and their own membership of this one says they left.
_LEFT_ORGANISATION = (
    "this contact unsubscribed from this organisation; an import never subscribes them again"
)


@dataclass
class Candidate:
    """One contact of the file: its rows merged, later non-empty cells winning."""

    subscriber_id: str
    lines: list[int]
    cells: dict[str, str]
    request: subscriptions.SubscribeRequest
    platforms_given: bool
    proof: Consent | None


@dataclass
class Report:
    imported_active: int = 0
    confirmation_sent: int = 0
    updated: int = 0
    unchanged: int = 0
    merged_duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reserved: list[Candidate] = field(default_factory=list)  # pending, confirmation not queued yet
    # Active now, by their proof: caught up, and told of to the organisers' tools.
    activated: list[Subscriber] = field(default_factory=list)

    def reject(self, line: int, column: str, reason: str) -> None:
        self.rejected.append({"line": line, "field": column, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported_active": self.imported_active,
            "confirmation_sent": self.confirmation_sent,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged_duplicates": self.merged_duplicates,
            "rejected": sorted(self.rejected, key=lambda r: (r["line"], r["field"])),
            "warnings": sorted(self.warnings, key=lambda w: (w["line"], w["field"])),
        }


def organisation_for(settings: Settings, organiser: Organiser, asked: str = "") -> str:
    """The organisation an organiser's import (or export, `asked` given) is for: their own;
    the owner's, the one `asked` names (the default one when none). An organiser who names
    another organisation than theirs is refused, and so is an id no organisation has."""
    if not organiser.owner:
        if asked and asked != organiser.organisation:
            raise Forbidden("an organiser imports and exports only their own organisation's")
        return organiser.organisation
    if not asked or asked == DEFAULT:
        return DEFAULT
    if OrganisationStore(settings).get(asked) is None:
        raise NotFound(f"there is no organisation {asked!r}")
    return asked


def import_csv(
    settings: Settings,
    body: bytes,
    *,
    base_url: str,
    now: datetime,
    organisation: str = DEFAULT,
) -> dict[str, Any]:
    """Import the subscribers of a CSV file (header row first) into `organisation`; returns
    the report: ``{imported_active, confirmation_sent, updated, unchanged, merged_duplicates,
    rejected, warnings}``, each rejected row or warning as ``{line, field, reason}`` (the
    header is line 1)."""
    report = Report()
    candidates = _candidates(_rows(body), settings, now, report)
    store = SubscriberStore(settings)
    states = store.states([c.subscriber_id for c in candidates])
    new: list[Candidate] = []
    to_confirm: list[Candidate] = []
    for candidate in candidates:
        status, existing = states.get(candidate.subscriber_id, (None, None))
        if status in _LEFT:
            for line in candidate.lines:
                report.reject(line, "contact", _LEFT[status])
        elif existing and _left(existing, organisation):
            for line in candidate.lines:
                report.reject(line, "contact", _LEFT_ORGANISATION)
        elif status is None:
            new.append(candidate)
        elif status is Status.ACTIVE and existing and organisation in member_of(existing):
            _update_active(store, candidate, existing, report)
        elif status is Status.ACTIVE and existing and candidate.proof:
            _join(store, candidate, organisation, now, report)
        elif status is Status.PENDING and existing and candidate.proof:
            _activate_pending(store, candidate, existing, settings, now, report, organisation)
        else:  # pending, without proof: a confirmation, unless one went out a moment ago
            to_confirm.append(candidate)
    _insert_new(settings, store, new, now, report, organisation)
    _request_confirmations(settings, store, to_confirm, now, report, organisation)
    _queue_confirmations(settings, store, report.reserved, base_url, now, report, organisation)
    joined = [(subscriber, _joined_at(subscriber, organisation)) for subscriber in report.activated]
    events.emit_all(
        settings,
        [
            events.event(
                EventType.SUBSCRIBER_CONFIRMED,
                event_data.subscriber_confirmed(
                    subscriber, event_data.IMPORTED, joined_at, organisations=(organisation,)
                ),
                now,
                key=event_data.key(subscriber.subscriber_id, joined_at),
            )
            for subscriber, joined_at in joined
        ],
    )
    catch_up.request(settings, [subscriber.subscriber_id for subscriber in report.activated], now)
    metrics.add_metric(
        name="SubscribersImported", unit=MetricUnit.Count, value=report.imported_active
    )
    logger.info(
        "subscribers imported",
        extra={k: v for k, v in report.as_dict().items() if isinstance(v, int)},
    )
    return report.as_dict()


def _left(subscriber: Subscriber, organisation: str) -> bool:
    """Whether the person unsubscribed from `organisation` (its link) while staying in others."""
    return any(
        m.organisation == organisation and m.status is MembershipStatus.UNSUBSCRIBED
        for m in memberships_of(subscriber)
    )


# -- reading the file -----------------------------------------------------------------------


def _rows(body: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number of the row's first line, cells by column) for every non-blank row."""
    try:
        text = body.decode("utf-8-sig")  # spreadsheets often start their UTF-8 with a BOM
    except UnicodeDecodeError:
        raise InvalidInput({"body": "the file is not UTF-8 text"}) from None
    # The csv module refuses a cell over its process-wide limit (128 KiB) with an error that
    # names neither line nor column; lift it to the body's size, and let CELL_LIMITS say which.
    csv.field_size_limit(max(len(text), csv.field_size_limit()))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InvalidInput({"body": "the file is empty: it needs a header row"}) from None
    _check_header(header)
    rows, line = 0, reader.line_num
    for cells in reader:
        first_line, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise PayloadTooLarge(f"more than {MAX_ROWS} rows: send the file in parts")
        if len(cells) > len(header):
            yield first_line, {"": f"{len(cells)} cells in a row of {len(header)} columns"}
            continue
        _check_cell_sizes(first_line, header, cells)
        yield (
            first_line,
            {name: _unneutralised(cell.strip()) for name, cell in zip(header, cells, strict=False)},
        )


def _check_cell_sizes(line: int, header: list[str], cells: list[str]) -> None:
    """A cell too long for its column refuses the whole file, naming the line and column: it
    is a file made by mistake (or on purpose), not a person to import."""
    for name, cell in zip(header, cells, strict=False):
        if len(cell) > CELL_LIMITS[name]:
            raise InvalidInput(
                {f"line {line}, {name}": f"{len(cell):,} characters; at most {CELL_LIMITS[name]:,}"}
            )


def _check_header(header: list[str]) -> None:
    """A misspelt column would silently drop what it holds: the whole file is refused."""
    problems = []
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        problems.append(f"unknown columns {', '.join(map(repr, unknown))}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        problems.append(f"missing columns {', '.join(missing)} (a header row comes first)")
    if len(set(header)) != len(header):
        problems.append("a column is named twice")
    if problems:
        columns = f"the columns are {', '.join(COLUMNS)}"
        raise InvalidInput({"header": "; ".join([*problems, columns])})


def _candidates(
    rows: Iterator[tuple[int, dict[str, str]]], settings: Settings, now: datetime, report: Report
) -> list[Candidate]:
    """Valid rows, one candidate per contact; invalid rows go to the report."""
    by_id: dict[str, Candidate] = {}
    for line, cells in rows:
        try:
            if "" in cells:
                raise InvalidInput({"": cells[""]})
            row = _candidate(line, cells, settings, proof=None)
            row.proof = _proof(line, cells, now, report)
            earlier = by_id.get(row.subscriber_id)
            if earlier is not None:
                row = _merged(earlier, row, settings)
                report.merged_duplicates += 1
        except InvalidInput as error:
            for column, reason in error.problems.items():
                report.reject(line, column, reason)
            continue
        by_id[row.subscriber_id] = row
    return list(by_id.values())


def _candidate(
    line: int, cells: dict[str, str], settings: Settings, *, proof: Consent | None
) -> Candidate:
    request = subscriptions.parse_request(_as_request(cells))
    return Candidate(
        subscriber_id=keys.contact_id(settings, request.contact.channel, request.contact.address),
        lines=[line],
        cells=cells,
        request=request,
        platforms_given=bool(cells.get("platforms")),
        proof=proof,
    )


def _merged(earlier: Candidate, later: Candidate, settings: Settings) -> Candidate:
    """The later row's non-empty cells over the earlier's, platforms joined, and the later
    proof of consent if it has one (a proof is kept whole, never mixed from two rows)."""
    cells = {**earlier.cells, **{k: v for k, v in later.cells.items() if v}}
    cells["platforms"] = _joined_platforms(earlier.cells, later.cells)
    proven = later if later.proof or not earlier.proof else earlier
    cells.update(
        {column: proven.cells.get(column, "") for column in (*PROVENANCE, "consent_proof")}
    )
    try:
        merged = _candidate(later.lines[0], cells, settings, proof=proven.proof)
    except InvalidInput as error:
        raise InvalidInput(
            {
                column: f"together with an earlier row of the same contact: {reason}"
                for column, reason in error.problems.items()
            }
        ) from None
    merged.lines = [*earlier.lines, *later.lines]
    merged.platforms_given = earlier.platforms_given or later.platforms_given
    return merged


def _as_request(cells: Mapping[str, str]) -> dict[str, object]:
    """A row as `subscriptions.parse_request` reads a subscribe form."""
    fields: dict[str, object] = {
        name: cells.get(name, "") for name in ("contact", "region", "locale", "timezone")
    }
    fields["platforms"] = [p for p in cells.get("platforms", "").split(PLATFORM_SEPARATOR) if p]
    return fields


def _joined_platforms(first: Mapping[str, str], second: Mapping[str, str]) -> str:
    names = [
        p.strip().lower()
        for cells in (first, second)
        for p in cells.get("platforms", "").split(PLATFORM_SEPARATOR)
        if p.strip()
    ]
    if any(name in subscriptions.ALL_PLATFORMS for name in names):
        return "all"
    return PLATFORM_SEPARATOR.join(dict.fromkeys(names))


def _proof(line: int, cells: Mapping[str, str], now: datetime, report: Report) -> Consent | None:
    """The row's proof of consent, or None (then the person confirms a link, as on the form).
    A row that looks as if it meant to carry proof but does not is warned about."""
    given = [column for column in PROVENANCE if cells.get(column)]
    if not given:
        return None
    missing = [column for column in PROVENANCE if column not in given]
    if missing:
        report.warnings.append(
            {
                "line": line,
                "field": missing[0],
                "reason": f"no proof of consent without {', '.join(missing)}: a confirmation is asked for instead",
            }
        )
        return None
    try:
        consented_at = _moment(cells["consent_at"])
    except ValueError:
        reason = f"{cells['consent_at']!r} is not an ISO date or time (2025-02-01 or 2025-02-01T10:30:00Z)"
    else:
        if consented_at <= now:
            return Consent(
                requested_at=iso(consented_at),
                form_version=cells["consent_form"],
                source=cells["consent_source"],
                proof=cells.get("consent_proof", ""),
                imported_at=iso(now),
                kind=consent.IMPORT,
            )
        reason = "in the future"
    report.warnings.append(
        {
            "line": line,
            "field": "consent_at",
            "reason": f"{reason}: no proof of consent, a confirmation is asked for instead",
        }
    )
    return None


def _moment(text: str) -> datetime:
    """An ISO date (midnight UTC) or date and time (UTC when no offset is given)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- writing --------------------------------------------------------------------------------


def _active(settings: Settings, candidate: Candidate, now: datetime) -> Subscriber:
    assert candidate.proof is not None
    pending = subscriptions.pending_subscriber(
        settings, candidate.request, source="import", now=now
    )
    return replace(
        pending,
        status=Status.ACTIVE,
        consent=candidate.proof,
        confirmation_sent_at="",
        confirmed_at=iso(now),
    )


def _update_active(
    store: SubscriberStore, candidate: Candidate, existing: Subscriber, report: Report
) -> None:
    """A subscriber who is active stays so; their profile takes the file's values, and their
    platforms grow by the file's (none given keeps theirs; empty, every platform, stays so)."""
    request, given = candidate.request, candidate.cells
    platforms = existing.platforms
    if candidate.platforms_given and existing.platforms:
        platforms = () if not request.platforms else tuple(sorted({*platforms, *request.platforms}))
    # A zone not given stays theirs, unless they move region (then the new region's own).
    moved = request.region.code != existing.region
    updated = replace(
        existing,
        region=request.region.code,
        home_group=request.region.group,
        locale=request.locale if given.get("locale") else existing.locale,
        timezone=request.timezone if given.get("timezone") or moved else existing.timezone,
        platforms=platforms,
    )
    if updated == existing:
        report.unchanged += 1
    elif store.replace_if(updated, Status.ACTIVE):
        report.updated += 1
    else:
        for line in candidate.lines:
            report.reject(line, "contact", "this contact left while the import ran; not changed")


def _joined_at(subscriber: Subscriber, organisation: str) -> str:
    """When the person joined `organisation` (the record's confirmation, without memberships)."""
    return next(
        (m.joined_at for m in memberships_of(subscriber) if m.organisation == organisation),
        subscriber.confirmed_at,
    )


def _join(
    store: SubscriberStore,
    candidate: Candidate,
    organisation: str,
    now: datetime,
    report: Report,
) -> None:
    """Someone active in another organisation, whom this one's organiser has proof of
    consent for: a member of it too, with that proof; their profile stays theirs."""
    assert candidate.proof is not None
    membership = Membership(
        organisation,
        MembershipStatus.ACTIVE,
        requested_at=candidate.proof.requested_at,
        joined_at=iso(now),
        consent=candidate.proof,
    )
    joined = store.join(candidate.subscriber_id, membership)
    if joined is not None:
        report.imported_active += 1
        report.activated.append(joined)
    else:
        for line in candidate.lines:
            report.reject(
                line, "contact", "this contact changed while the import ran; import it again"
            )


def _activate_pending(
    store: SubscriberStore,
    candidate: Candidate,
    existing: Subscriber,
    settings: Settings,
    now: datetime,
    report: Report,
    organisation: str = DEFAULT,
) -> None:
    """A pending subscriber for whom the organiser has proof of consent: active now, a member
    of `organisation` (in a coalition: their other memberships kept as they are, each with
    the consent it had, pending ones still waiting for their confirmation)."""
    active = replace(
        _active(settings, candidate, now),
        created_at=existing.created_at,
        confirmation_sent_at=existing.confirmation_sent_at,
    )
    if existing.memberships or organisation != DEFAULT:
        others = tuple(
            replace(m, consent=m.consent or existing.consent)
            for m in memberships_of(existing)
            if m.organisation != organisation
        )
        joined = Membership(
            organisation,
            MembershipStatus.ACTIVE,
            requested_at=active.consent.requested_at,
            joined_at=active.confirmed_at,
        )
        active = replace(active, memberships=(*others, joined))
    if store.replace_if(active, Status.PENDING, existing.memberships):
        report.imported_active += 1
        report.activated.append(active)
    else:
        for line in candidate.lines:
            report.reject(
                line, "contact", "this contact changed while the import ran; import it again"
            )


def _insert_new(
    settings: Settings,
    store: SubscriberStore,
    candidates: list[Candidate],
    now: datetime,
    report: Report,
    organisation: str = DEFAULT,
) -> None:
    """Contacts the table did not have: active with their proof, or pending with a
    confirmation reserved, written in batches (members of `organisation`).

    A batch write takes no condition, so this is the one place where what was read may have
    changed before the write. For a contact with no item, the only change possible is the
    person subscribing through the form at that very moment (nobody can unsubscribe, be
    suppressed or erased without an item): the worst outcome is a second confirmation for
    someone who asked for one. A conditional write per row (or a transaction) would close it
    at many times the cost.
    """
    records = [_new_record(settings, candidate, now, organisation) for candidate in candidates]
    store.put_new_many(records)
    for candidate, record in zip(candidates, records, strict=True):
        if record.status is Status.ACTIVE:
            report.imported_active += 1
            report.activated.append(record)
        else:
            report.reserved.append(candidate)


def _new_record(
    settings: Settings, candidate: Candidate, now: datetime, organisation: str = DEFAULT
) -> Subscriber:
    record = (
        _active(settings, candidate, now) if candidate.proof else _pending(settings, candidate, now)
    )
    if organisation == DEFAULT:
        return record  # no memberships: the default organisation's, as before coalitions
    active = record.status is Status.ACTIVE
    membership = Membership(
        organisation,
        MembershipStatus.ACTIVE if active else MembershipStatus.PENDING,
        requested_at=record.consent.requested_at,
        joined_at=record.confirmed_at if active else "",
    )
    return replace(record, memberships=(membership,))


def _pending(settings: Settings, candidate: Candidate, now: datetime) -> Subscriber:
    source = "import"
    if candidate.cells.get("consent_source"):
        source = f"import: {candidate.cells['consent_source']}"
    return subscriptions.pending_subscriber(settings, candidate.request, source=source, now=now)


def _request_confirmations(
    settings: Settings,
    store: SubscriberStore,
    candidates: list[Candidate],
    now: datetime,
    report: Report,
    organisation: str = DEFAULT,
) -> None:
    """Known contacts without proof get the form's double opt-in: the same conditional write
    as /subscribe (not twice within the resend window, never over an active membership)."""
    resend_after = timedelta(minutes=settings.confirmations.confirm_resend_minutes)
    for candidate in candidates:
        pending = _pending(settings, candidate, now)
        if store.request_confirmation(pending, resend_after, now, organisation):
            report.reserved.append(candidate)
        else:
            report.unchanged += 1  # a confirmation went out within the window, or just activated


def _queue_confirmations(
    settings: Settings,
    store: SubscriberStore,
    reserved: list[Candidate],
    base_url: str,
    now: datetime,
    report: Report,
    organisation: str = DEFAULT,
) -> None:
    """One confirmation job per reserved contact (from `organisation`), ten to a queue
    request."""
    jobs = [
        subscriptions.confirmation_job(
            c.subscriber_id, base_url=base_url, now=now, organisation=organisation
        )
        for c in reserved
    ]
    refused = set(queues.enqueue_each(settings.notice_queue_url, jobs))
    for position in sorted(refused):
        # As /subscribe does: the resend window is given back, no message is on its way.
        store.forget_confirmation_request(reserved[position].subscriber_id)
        for line in reserved[position].lines:
            report.reject(
                line, "contact", "the confirmation could not be queued; import this row again"
            )
    report.confirmation_sent += len(reserved) - len(refused)


# -- export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPart:
    text: str  # CSV, its header first
    next_after: str  # where the next part starts; "" when this was the last


def export_csv(
    settings: Settings, format_name: str = "csv", after: str = "", organisation: str | None = None
) -> ExportPart:
    """Active subscribers as CSV (`EXPORT_COLUMNS`, with the evidence of each one's consent),
    never anyone pending, unsubscribed, suppressed or erased,
    read with a paginated Scan of the table. A part holds about `EXPORT_ROWS`, so that it fits
    in a Lambda response (6 MB); `after` is where a part starts (a previous part's
    `next_after`). Cells are neutralised against CSV injection: one that a spreadsheet would
    run as a formula starts with ``'``.

    `organisation`: one organisation's export (`organisation_for`): its members, active or
    gone (unsubscribed from it, or suppressed: its tools must know whom not to write to),
    with their membership's status and joined time (`MEMBER_COLUMNS`) and the evidence of
    their consent to it; never one who has not confirmed. None: the owner's, everyone active,
    and each one's organisations once the coalition has some (`OWNER_COLUMNS`)."""
    if format_name != "csv":
        raise InvalidInput({"format": "only csv is offered"})
    store = SubscriberStore(settings)
    if organisation is not None:
        return _members_export(store, organisation, after)
    coalition = bool(OrganisationStore(settings).organisations())
    lines = [_csv_line(EXPORT_COLUMNS + (OWNER_COLUMNS if coalition else ()))]
    rows = 0
    while rows < EXPORT_ROWS:
        page, after = store.active_page(after, SCAN_PAGE)
        for subscriber in page:
            theirs = (PLATFORM_SEPARATOR.join(member_of(subscriber)),) if coalition else ()
            lines.append(_csv_line(_export_row(subscriber) + theirs))
        rows += len(page)
        if not after:
            break
    return ExportPart("".join(lines), after)


def _members_export(store: SubscriberStore, organisation: str, after: str) -> ExportPart:
    lines, rows = [_csv_line(EXPORT_COLUMNS + MEMBER_COLUMNS)], 0
    while rows < EXPORT_ROWS:
        page, after = store.members_page(organisation, after, SCAN_PAGE)
        for subscriber in page:
            membership = next(
                m for m in memberships_of(subscriber) if m.organisation == organisation
            )
            if membership.status is MembershipStatus.PENDING or not membership.joined_at:
                continue  # never confirmed: no consent to hand over
            status = membership.status.value
            if (
                membership.status is MembershipStatus.ACTIVE
                and subscriber.status is not Status.ACTIVE
            ):
                status = subscriber.status.value  # a bounce, a complaint, STOP: gone for all
            own = replace(subscriber, consent=membership.consent or subscriber.consent)
            lines.append(_csv_line((*_export_row(own), status, membership.joined_at)))
            rows += 1
        if not after:
            break
    return ExportPart("".join(lines), after)


def _export_row(subscriber: Subscriber) -> tuple[str, ...]:
    evidence = consent.evidence(subscriber)
    return (
        subscriber.contact,
        subscriber.channel,
        subscriber.region,
        subscriber.locale,
        subscriber.timezone,
        PLATFORM_SEPARATOR.join(subscriber.platforms),
        subscriber.consent.source,
        subscriber.consent.requested_at,
        subscriber.consent.form_version,
        subscriber.confirmed_at,
        evidence.source or "",
        evidence.wording_sha256 or "",
        evidence.language,
        evidence.privacy_notice_url or "",
        evidence.proof or "",
    )


def _csv_line(cells: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_neutralised(cell) for cell in cells])
    return out.getvalue()


def _neutralised(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _unneutralised(cell: str) -> str:
    """An exported cell read back: the ``'`` that neutralised it is not part of the value."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS) else cell
