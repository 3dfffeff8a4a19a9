"""The admin API's subscriber routes: CSV import and export, list health as JSON (and its
recount), and the links of SES's mailbox simulator's recipients (for `optout smoke`).

An import and an export are one organisation's (`imports.organisation_for`): the organiser's
own; the owner's, everyone (the default organisation's import), or the one `?organisation=`
names. List health is the owner's only, until it is counted per organisation."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.core.errors import Forbidden
from optout.domain.organisations import Organiser
from optout.organisers import stats
from optout.subscribers import imports, test_recipients
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.post("/admin/subscribers/import")
def import_subscribers() -> Response[str]:
    event = router.current_event
    base_url = public.base_url(settings.get(), event)
    asked = event.get_query_string_value("organisation", "") or ""
    organisation = imports.organisation_for(settings.get(), _organiser(), asked)
    report = imports.import_csv(
        settings.get(),
        public.raw_body(event),
        base_url=base_url,
        now=clock.now(),
        organisation=organisation,
    )
    return public.json_response(200, report)


@router.get("/admin/subscribers/export")
def export_subscribers() -> Response[str]:
    query = router.current_event.get_query_string_value
    organiser, asked = _organiser(), query("organisation", "") or ""
    organisation = (
        imports.organisation_for(settings.get(), organiser, asked)
        if asked or not organiser.owner
        else None  # the owner's: everyone
    )
    part = imports.export_csv(
        settings.get(), query("format", "csv"), query("after", ""), organisation
    )
    response = admin.csv_response(part.text, "subscribers.csv")
    if part.next_after:  # more than one Lambda response holds: ask again with ?after=
        response.headers["X-Next-After"] = part.next_after
    return response


@router.get("/admin/list-health")
def list_health() -> Response[str]:
    """What the dashboard's first page shows of the list, as JSON."""
    _owner_only()
    return public.json_response(200, stats.list_health_report(settings.get()))


@router.post("/admin/list-health/recount")
def recount_list_health() -> Response[str]:
    """Count every subscriber again and repair the list health counters (`optout recount`)."""
    _owner_only()
    return public.json_response(200, stats.recount(settings.get()))


@router.post("/admin/subscribers/test-links")
def test_recipient_links() -> Response[str]:
    """The links in the messages to SES's mailbox simulator, for `optout smoke` (only those)."""
    event = router.current_event
    fields = public.read_fields(event)
    found = test_recipients.links(
        settings.get(), fields, base_url=public.base_url(settings.get(), event), now=clock.now()
    )
    return public.json_response(200, found)


def _organiser() -> Organiser:
    return admin.organiser(router.context)


def _owner_only() -> None:
    if not _organiser().owner:
        raise Forbidden(
            "per-organisation list health is not built yet: only the coalition's owner sees "
            "the list's health, for every organisation together"
        )
