"""Organisers' CSV import and export of subscribers, through the real /admin routes: proof of
consent or a confirmation, duplicates merged, nobody who left brought back, nothing but the
active in an export."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest

from optout.core import clock, keys, settings
from optout.messages import consent
from optout.store import SubscriberStore
from optout.subscribers import imports, subscriptions
from tests.helpers import active
from tests.integration.conftest import ADMIN_TOKEN, Organiser, Reply, Stack

HEADER = (
    "contact,region,locale,timezone,platforms,consent_source,consent_at,consent_form,consent_proof"
)
PROVEN = "paper form at FOSDEM,2025-02-01T10:30:00Z,fosdem-2025-v2,box 3 folder 12"


def import_csv(organiser: Organiser, *lines: str, header: str = HEADER) -> Reply:
    body = "\r\n".join([header, *lines]) + "\r\n"
    return organiser.call(
        "POST", "/admin/subscribers/import", body=body, headers={"Content-Type": "text/csv"}
    )


def report_of(organiser: Organiser, *lines: str, header: str = HEADER) -> dict[str, Any]:
    reply = import_csv(organiser, *lines, header=header)
    assert reply.status == 200, reply.text
    return dict(reply.json())


def record(channel: str, contact: str) -> dict[str, Any] | None:
    subscriber_id = keys.contact_id(settings.get(), channel, contact)
    return SubscriberStore(settings.get()).stored(subscriber_id)


def export(organiser: Organiser) -> list[dict[str, str]]:
    reply = organiser.call("GET", "/admin/subscribers/export")
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(reply.text)))


def confirmations(stack: Stack) -> list[str]:
    """Run the notifier over the notice queue; to whom confirmations went."""
    stack.drain("NOTICE_QUEUE_URL", "NotifierFunction")
    return [sent.to for sent in stack.outbox()]


def subscribe(stack: Stack, contact: str, region: str = "DE") -> None:
    body = f'{{"contact": "{contact}", "region": "{region}"}}'
    assert stack.call("subscribe-json", body=body).status == 202
    stack.drain("NOTICE_QUEUE_URL", "NotifierFunction")  # which records the request


def confirm_all(stack: Stack) -> None:
    """Press the confirmation link of every confirmation sent so far."""
    for item in stack.items("SUBSCRIBERS_TABLE"):
        if item.get("status") == "pending":
            token = subscriptions.confirmation_token(
                settings.get(), item["subscriber_id"], clock.now()
            )
            subscriptions.confirm(settings.get(), token, clock.now())


# -- proof of consent, or a confirmation ----------------------------------------------------


def test_a_row_with_proof_of_consent_is_active_at_once_with_that_proof_as_its_record(
    stack: Stack, organiser: Organiser
) -> None:
    report = report_of(organiser, f"Ada@Example.org,DE,de,,linkedin,{PROVEN}")
    assert report["imported_active"] == 1 and report["confirmation_sent"] == 0
    assert report["rejected"] == []
    stored = record("email", "ada@example.org")
    assert stored is not None and stored["status"] == "active"
    (item,) = stack.items("SUBSCRIBERS_TABLE")
    assert item["audience_pk"].startswith("EU#")  # in the EU's audience index
    assert stored["consent"] == {
        "source": "paper form at FOSDEM",
        "requested_at": "2025-02-01T10:30:00Z",
        "form_version": "fosdem-2025-v2",
        "proof": "box 3 folder 12",
        "imported_at": "2025-10-27T09:00:00Z",
        "kind": "import",
    }
    assert confirmations(stack) == []  # nobody is asked to confirm what they already did


def test_a_row_without_proof_gets_one_confirmation_and_is_active_only_once_confirmed(
    stack: Stack, organiser: Organiser
) -> None:
    report = report_of(organiser, "bo@example.org,FR,fr,,,old newsletter,,,")
    assert report["confirmation_sent"] == 1 and report["imported_active"] == 0
    stored = record("email", "bo@example.org")
    assert stored is not None and stored["status"] == "pending"
    assert stored["consent"]["source"] == "import: old newsletter"
    assert "audience_pk" not in stored
    assert confirmations(stack) == ["bo@example.org"]
    assert [w["field"] for w in report["warnings"]] == ["consent_at"]  # source alone: no proof
    confirm_all(stack)
    assert record("email", "bo@example.org")["status"] == "active"  # type: ignore[index]


@pytest.mark.parametrize(
    ("consent_at", "why"),
    [("2026-01-01T00:00:00Z", "in the future"), ("last spring", "not an ISO date")],
)
def test_a_proof_dated_in_the_future_or_unreadable_is_no_proof(
    stack: Stack, organiser: Organiser, consent_at: str, why: str
) -> None:
    report = report_of(organiser, f"cy@example.org,DE,,,,FOSDEM,{consent_at},v2,")
    assert report["confirmation_sent"] == 1 and report["imported_active"] == 0
    assert report["warnings"][0]["line"] == 2
    assert why in report["warnings"][0]["reason"]


def test_a_date_alone_is_enough_for_consent_at(stack: Stack, organiser: Organiser) -> None:
    report = report_of(organiser, "dee@example.org,CH,,,,stall,2025-02-01,v1,")
    assert report["imported_active"] == 1
    assert record("email", "dee@example.org")["consent"]["requested_at"] == "2025-02-01T00:00:00Z"  # type: ignore[index]


def test_the_resend_window_holds_for_imports_too(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    subscribe(stack, "eve@example.org")
    report = report_of(organiser, "eve@example.org,DE,,,,,,,")
    assert report["confirmation_sent"] == 0 and report["unchanged"] == 1
    assert confirmations(stack).count("eve@example.org") == 1  # the form's
    test_clock.advance(minutes=settings.get().confirmations.confirm_resend_minutes + 1)
    assert report_of(organiser, "eve@example.org,DE,,,,,,,")["confirmation_sent"] == 1
    assert confirmations(stack).count("eve@example.org") == 2  # the form's, then the import's


def test_a_pending_subscriber_with_proof_in_the_file_becomes_active(
    stack: Stack, organiser: Organiser
) -> None:
    subscribe(stack, "fay@example.org")
    report = report_of(organiser, f"fay@example.org,DE,,,,{PROVEN}")
    assert report["imported_active"] == 1
    assert record("email", "fay@example.org")["status"] == "active"  # type: ignore[index]


# -- rejected rows --------------------------------------------------------------------------


def test_rejected_rows_carry_their_line_and_field_and_nothing_of_them_is_written(
    stack: Stack, organiser: Organiser
) -> None:
    report = report_of(
        organiser,
        f"ok@example.org,DE,,,,{PROVEN}",
        "not-an-address,DE,,,,,,,",
        "",  # a blank line still counts as a line
        "+49 30 1234567,DE,,,,,,,",  # a landline cannot receive texts
        '"multi@example.org",XX,,,,,,,',
        'lang@example.org,DE,tlh,,,"quoted\nacross lines",,,',
        "zone@example.org,DE,,Mars/Olympus,,,,,",
        "plat@example.org,DE,,,Linked In!,,,,",
        "extra@example.org,DE,,,,,,,,surplus",
    )
    rejected = {(r["line"], r["field"]) for r in report["rejected"]}
    assert rejected == {
        (3, "contact"),
        (5, "contact"),
        (6, "region"),
        (7, "locale"),
        (9, "timezone"),
        (10, "platforms"),
        (11, ""),
    }
    assert all(r["reason"] for r in report["rejected"])
    assert report["imported_active"] == 1 and report["confirmation_sent"] == 0
    assert [item["contact"] for item in stack.items("SUBSCRIBERS_TABLE")] == ["ok@example.org"]
    # No confirmation for anyone; the one row made active is to be caught up, as confirming is
    (job,) = stack.notice_jobs()
    assert job["kind"] == "catch-up"
    assert job["subscriber_ids"] == [stack.items("SUBSCRIBERS_TABLE")[0]["subscriber_id"]]


def test_a_header_with_an_unknown_or_missing_column_refuses_the_whole_file(
    stack: Stack, organiser: Organiser
) -> None:
    typo = import_csv(organiser, "a@example.org,DE", header="contact,regoin")
    assert typo.status == 400 and "regoin" in typo.json()["message"]
    assert import_csv(organiser, "a@example.org", header="contact").status == 400
    assert import_csv(organiser, header="").status == 400
    assert stack.items("SUBSCRIBERS_TABLE") == []


def test_without_the_admin_token_nothing_is_imported_or_exported(
    stack: Stack, organiser: Organiser
) -> None:
    body = f"{HEADER}\r\nada@example.org,DE,,,,{PROVEN}\r\n"
    assert organiser.call("POST", "/admin/subscribers/import", body=body, token=None).status == 401
    assert organiser.call("GET", "/admin/subscribers/export", token="wrong").status == 401
    assert stack.items("SUBSCRIBERS_TABLE") == []


# -- duplicates and people already known ----------------------------------------------------


def test_the_same_contact_twice_in_a_file_is_one_subscriber_later_cells_winning(
    stack: Stack, organiser: Organiser
) -> None:
    report = report_of(
        organiser,
        "Gil@Example.org,DE,de,,linkedin,,,,",
        f"gil@example.org,AT,,,meta,{PROVEN}",
        "+41 79 123 45 67,CH,,,,,,,",
        "0791234567,CH,fr,,,,,,",  # the same number, written nationally
    )
    assert report["merged_duplicates"] == 2
    assert report["imported_active"] == 1 and report["confirmation_sent"] == 1
    gil = record("email", "gil@example.org")
    assert gil is not None
    assert (gil["region"], gil["locale"], gil["platforms"]) == ("AT", "de", ["linkedin", "meta"])
    assert gil["status"] == "active"
    phone = record("sms", "+41791234567")
    assert phone is not None and phone["locale"] == "fr" and phone["status"] == "pending"
    assert sorted(confirmations(stack)) == ["+41791234567"]


def test_an_active_subscriber_is_updated_never_downgraded_nor_duplicated(
    stack: Stack, organiser: Organiser
) -> None:
    report_of(organiser, f"hal@example.org,DE,de,,linkedin,{PROVEN}")
    report = report_of(organiser, "hal@example.org,DE,fr,,meta,,,,")  # no proof this time
    assert (report["updated"], report["confirmation_sent"]) == (1, 0)
    hal = record("email", "hal@example.org")
    assert hal is not None and hal["status"] == "active"
    assert (hal["locale"], hal["platforms"]) == ("fr", ["linkedin", "meta"])
    assert hal["consent"]["source"] == "paper form at FOSDEM"  # their first proof stands
    assert report_of(organiser, "hal@example.org,DE,fr,,meta,,,,")["unchanged"] == 1
    assert len(stack.items("SUBSCRIBERS_TABLE")) == 1
    assert confirmations(stack) == []


@pytest.mark.parametrize("left", ["unsubscribed", "suppressed"])
def test_a_contact_that_left_is_never_brought_back_by_an_import(
    stack: Stack, organiser: Organiser, left: str
) -> None:
    report_of(organiser, f"ivy@example.org,DE,,,,{PROVEN}")
    subscriber_id = keys.contact_id(settings.get(), "email", "ivy@example.org")
    store = SubscriberStore(settings.get())
    if left == "unsubscribed":
        store.unsubscribe(subscriber_id, clock.now())
    else:
        store.suppress(subscriber_id, "permanent bounce", clock.now())
    for row in (f"ivy@example.org,DE,,,,{PROVEN}", "ivy@example.org,DE,,,,,,,"):
        report = report_of(organiser, row)
        assert [(r["line"], r["field"]) for r in report["rejected"]] == [(2, "contact")]
        assert left in report["rejected"][0]["reason"]
    assert record("email", "ivy@example.org")["status"] == left  # type: ignore[index]
    assert confirmations(stack) == []


def test_an_erased_contact_stays_suppressed_whatever_the_file_says(
    stack: Stack, organiser: Organiser
) -> None:
    report_of(organiser, f"jo@example.org,DE,,,,{PROVEN}")
    subscriber_id = keys.contact_id(settings.get(), "email", "jo@example.org")
    SubscriberStore(settings.get()).erase(
        subscriber_id, "erased at the person's request", clock.now()
    )
    report = report_of(organiser, f"JO@example.org,DE,,,,{PROVEN}", "jo@example.org,FR,,,,,,,")
    assert {r["line"] for r in report["rejected"]} == {2, 3}
    assert "erased" in report["rejected"][0]["reason"]
    assert report["imported_active"] == report["confirmation_sent"] == 0
    (item,) = stack.items("SUBSCRIBERS_TABLE")
    assert set(item) == {"subscriber_id", "status", "erased_at", "erased_reason"}
    assert confirmations(stack) == []


# -- a thousand rows ------------------------------------------------------------------------


def test_a_thousand_rows_in_one_request_each_unproven_one_confirmed_exactly_once(
    stack: Stack, organiser: Organiser
) -> None:
    rows = []
    for number in range(1000):
        proof = PROVEN if number % 2 == 0 else ",,,"
        rows.append(f"person{number:04d}@example.org,EU,,,linkedin,{proof}")
    started = time.perf_counter()
    report = report_of(organiser, *rows)
    elapsed = time.perf_counter() - started
    print(f"\n1,000-row import against moto: {elapsed:.2f} s")
    assert report["imported_active"] == 500 and report["confirmation_sent"] == 500
    assert report["rejected"] == []
    assert elapsed < 60
    sent = confirmations(stack)
    assert len(sent) == 500 and len(set(sent)) == 500
    assert all(int(to[6:10]) % 2 == 1 for to in sent)  # only the unproven rows
    assert len(export(organiser)) == 500


# -- export ---------------------------------------------------------------------------------


def test_the_export_holds_the_active_only_with_their_consent(
    stack: Stack, organiser: Organiser
) -> None:
    report_of(
        organiser,
        f"kim@example.org,DE,de,,linkedin;meta,{PROVEN}",
        f"+4915123456789,DE,,,,{PROVEN}",
        f"gone@example.org,DE,,,,{PROVEN}",
        f"bounced@example.org,DE,,,,{PROVEN}",
        f"erased@example.org,DE,,,,{PROVEN}",
        "pending@example.org,DE,,,,,,,",
    )
    store = SubscriberStore(settings.get())
    now = clock.now()
    store.unsubscribe(keys.contact_id(settings.get(), "email", "gone@example.org"), now)
    store.suppress(keys.contact_id(settings.get(), "email", "bounced@example.org"), "bounce", now)
    store.erase(keys.contact_id(settings.get(), "email", "erased@example.org"), "asked", now)
    rows = export(organiser)
    assert sorted(row["contact"] for row in rows) == ["'+4915123456789", "kim@example.org"]
    kim = next(row for row in rows if row["contact"] == "kim@example.org")
    assert kim == {
        "contact": "kim@example.org",
        "channel": "email",
        "region": "DE",
        "locale": "de",
        "timezone": "Europe/Berlin",
        "platforms": "linkedin;meta",
        "consent_source": "paper form at FOSDEM",
        "consent_at": "2025-02-01T10:30:00Z",
        "consent_form": "fosdem-2025-v2",
        "subscribed_at": "2025-10-27T09:00:00Z",
        "consent_kind": "import",
        "consent_wording_sha256": "",  # the organiser's own form: no wording of ours
        "consent_language": "de",
        "consent_privacy_notice_url": "",
        "consent_proof": "box 3 folder 12",
    }


def test_the_export_shows_each_one_s_evidence_of_consent_as_the_organiser_reads_it(
    stack: Stack, organiser: Organiser, monkeypatch: pytest.MonkeyPatch, test_clock
) -> None:
    # Given a privacy notice; Ada, who subscribed through the API and confirmed; and Kim,
    # imported with her proof; and Old, written before consent was kept as evidence
    monkeypatch.setenv("PRIVACY_NOTICE_URL", "https://rights.example.org/privacy")
    settings.get.cache_clear()
    subscribe(stack, "ada@example.org")
    test_clock.advance(minutes=2)
    confirm_all(stack)
    report_of(organiser, f"kim@example.org,DE,de,,,{PROVEN}")
    active("old@example.org", "DE", "en")
    # When the organiser exports the subscribers
    rows = {row["contact"]: row for row in export(organiser)}
    # Then each row names how consent was given, on which wording, when, with which notice
    wording = consent.form_wording("en")  # Ada's request gave no locale: English
    evidence = imports.EVIDENCE_COLUMNS
    assert {name: rows["ada@example.org"][name] for name in ("consent_source", *evidence)} == {
        "consent_source": "api",
        "consent_kind": "form",
        "consent_wording_sha256": wording.sha256,
        "consent_language": "en",
        "consent_privacy_notice_url": "https://rights.example.org/privacy",
        "consent_proof": "",
    }
    assert rows["ada@example.org"]["consent_form"] == wording.version
    assert rows["ada@example.org"]["consent_at"] == "2025-10-27T09:00:00Z"
    assert rows["ada@example.org"]["subscribed_at"] == "2025-10-27T09:02:00Z"  # confirmed
    assert (rows["kim@example.org"]["consent_kind"], rows["kim@example.org"]["consent_proof"]) == (
        "import",
        "box 3 folder 12",
    )
    # And what an older record did not keep is left empty, never guessed
    assert [rows["old@example.org"][name] for name in evidence] == ["", "", "en", "", ""]


def test_the_export_neutralises_cells_a_spreadsheet_would_run(
    stack: Stack, organiser: Organiser
) -> None:
    report_of(
        organiser,
        'ann@example.org,DE,,,,"=HYPERLINK(""http://evil"")",2025-02-01,@form,',
        "bob@example.org,DE,,,,-1+1,2025-02-01,+v1,",
    )
    rows = {row["contact"]: row for row in export(organiser)}
    assert rows["ann@example.org"]["consent_source"] == '\'=HYPERLINK("http://evil")'
    assert rows["ann@example.org"]["consent_form"] == "'@form"
    assert rows["bob@example.org"]["consent_source"] == "'-1+1"
    assert rows["bob@example.org"]["consent_form"] == "'+v1"


def test_an_export_imported_again_changes_nothing(stack: Stack, organiser: Organiser) -> None:
    report_of(
        organiser, f"+4915123456789,DE,,,linkedin,{PROVEN}", f"liz@example.org,DE,,,,{PROVEN}"
    )
    exported = organiser.call("GET", "/admin/subscribers/export").text
    columns = "contact,channel,region,locale,timezone,platforms,consent_source,consent_at,consent_form,subscribed_at"
    assert exported.startswith(columns)
    again = io.StringIO()
    for row in csv.reader(io.StringIO(exported)):
        csv.writer(again).writerow([row[0], *row[2:9]])  # no channel nor subscribed_at
    reply = organiser.call("POST", "/admin/subscribers/import", body=again.getvalue())
    report = reply.json()
    assert report["unchanged"] == 2 and report["rejected"] == []


def test_a_long_export_comes_in_parts_each_read_by_a_paginated_scan(
    stack: Stack, organiser: Organiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_of(organiser, *(f"p{n}@example.org,DE,,,,{PROVEN}" for n in range(7)))
    monkeypatch.setattr(imports, "EXPORT_ROWS", 3)
    monkeypatch.setattr(imports, "SCAN_PAGE", 2)
    contacts, after, parts = [], "", 0
    while True:
        reply = organiser.call("GET", "/admin/subscribers/export", query=f"after={after}")
        rows = list(csv.DictReader(io.StringIO(reply.text)))
        contacts += [row["contact"] for row in rows]
        parts += 1
        after = reply.headers.get("X-Next-After", "")
        if not after:
            break
    assert sorted(contacts) == [f"p{n}@example.org" for n in range(7)]
    assert parts == 2  # four rows (two scan pages of two), then the other three


def test_an_unknown_export_format_is_refused(stack: Stack, organiser: Organiser) -> None:
    reply = organiser.call("GET", "/admin/subscribers/export", query="format=xlsx")
    assert reply.status == 400


def test_the_sample_events_import_and_export_with_the_real_token(
    stack: Stack, organiser: Organiser
) -> None:
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    report = stack.call("admin-subscribers-import", headers=bearer).json()
    assert (report["imported_active"], report["confirmation_sent"]) == (1, 1)
    exported = stack.call("admin-subscribers-export", headers=bearer)
    assert [row["contact"] for row in csv.DictReader(io.StringIO(exported.text))] == [
        "ada@example.org"
    ]
    assert stack.call("admin-subscribers-export").status == 401  # the placeholder is no token


def test_two_rows_of_one_contact_that_do_not_fit_together_leave_the_first_alone(
    stack: Stack, organiser: Organiser
) -> None:
    first = ";".join(f"a{n}" for n in range(12))
    second = ";".join(f"b{n}" for n in range(12))  # together more than 20 platforms
    report = report_of(
        organiser, f"mo@example.org,DE,,,{first},,,,", f"mo@example.org,DE,,,{second},,,,"
    )
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(3, "platforms")]
    assert "earlier row of the same contact" in report["rejected"][0]["reason"]
    assert report["confirmation_sent"] == 1 and report["merged_duplicates"] == 0
    assert len(record("email", "mo@example.org")["platforms"]) == 12  # type: ignore[index]


@pytest.mark.parametrize(
    ("cell", "column", "size"),
    [
        ("consent_proof", "consent_proof", 200 * 1024),  # over the csv module's 128 KiB
        ("consent_proof", "consent_proof", 390 * 1000),  # a row near DynamoDB's 400 KB item
        ("consent_source", "consent_source", 501),
    ],
)
def test_a_cell_too_long_for_its_column_refuses_the_file_naming_line_and_column(
    stack: Stack, organiser: Organiser, cell: str, column: str, size: int
) -> None:
    # Given a file whose third line has one cell too long (found by an attacker: a 500, or a
    # 390 KB row accepted)
    source, at, form, proof = PROVEN.split(",")
    values = {"consent_source": source, "consent_proof": proof}
    values[cell] = "x" * size
    long_row = (
        f"long@example.org,DE,,,,{values['consent_source']},{at},{form},{values['consent_proof']}"
    )
    # When it is imported
    reply = import_csv(organiser, f"ok@example.org,DE,,,,{PROVEN}", long_row)
    # Then the whole file is refused, naming the line and the column, and nothing is written
    assert reply.status == 400, reply.text
    assert f"line 3, {column}" in reply.json()["problems"]
    assert record("email", "ok@example.org") is None
    assert record("email", "long@example.org") is None


def test_a_number_that_texted_stop_unsubscribed_is_not_imported_until_it_texts_start(
    stack: Stack, organiser: Organiser
) -> None:
    # Given a number that texted STOP while not subscribed: kept as its keyed hash, stopped
    subscriber_id = keys.contact_id(settings.get(), "sms", "+14165550199")
    SubscriberStore(settings.get()).keep_stopped(subscriber_id, clock.now())
    # When an organiser imports it, with proof of consent and without
    report = report_of(organiser, f"+14165550199,CA,,,,{PROVEN}", "+14165550199,CA,,,,,,,")
    # Then both rows are refused, saying why, and nothing is written or sent
    assert {r["line"] for r in report["rejected"]} == {2, 3}
    assert "texted STOP" in report["rejected"][0]["reason"]
    assert [item["status"] for item in stack.items("SUBSCRIBERS_TABLE")] == ["stopped"]
    assert stack.outbox() == []
