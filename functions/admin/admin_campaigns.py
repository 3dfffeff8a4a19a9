"""The admin API's campaign routes: list, create, show, edit, launch, pause, resume, cancel;
their numbers, launch check, preview and test sends; ad-hoc sends; in a coalition, the
organisations that joined one, and leaving it.

Each organiser sees only the campaigns their organisation runs or joined (`manage.visible`:
any other is a 404, as an unknown one), and changes only those it runs (`manage.changeable`:
a member's organisers get a 403); what they create is their organisation's."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.campaigns import ad_hoc_sends, manage
from optout.core import clock, settings
from optout.core.errors import InvalidInput
from optout.domain import drafts
from optout.organisers import access, dashboard, launch_check, preview, stats
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


ONLY_THE_OWNER_SHARES = "only the coalition owner says which organisations join a campaign"


def _seen(campaign_id: str) -> None:
    """404 for a campaign the organiser may not see, as for one that does not exist. The
    coalition owner sees every one: their requests go on as before coalitions."""
    seen_by = admin.organiser(router.context)
    if not seen_by.owner:
        manage.visible(settings.get(), seen_by, campaign_id)


def _runs(campaign_id: str) -> None:
    """404 as above; 403 for a campaign their organisation only joined."""
    seen_by = admin.organiser(router.context)
    if not seen_by.owner:
        manage.changeable(settings.get(), seen_by, campaign_id)


@router.get("/admin/campaigns")
def campaigns() -> Response[str]:
    seen_by = admin.organiser(router.context)
    return public.json_response(200, {"campaigns": manage.list_campaigns(settings.get(), seen_by)})


@router.post("/admin/campaigns")
def create() -> Response[str]:
    event = router.current_event
    created = manage.create_campaign(
        settings.get(),
        public.raw_body(event),
        base_url=public.base_url(settings.get(), event),
        now=clock.now(),
        draft=event.get_query_string_value("draft") in ("yes", "true", "1"),
        organisation=admin.organiser(router.context).organisation,
    )
    return public.json_response(201, created)


@router.post("/admin/sends")
def ad_hoc_send() -> Response[str]:
    event = router.current_event
    planned = ad_hoc_sends.create(
        settings.get(),
        public.raw_body(event),
        base_url=public.base_url(settings.get(), event),
        now=clock.now(),
        organisation=admin.organiser(router.context).organisation,
    )
    return public.json_response(201, planned)


@router.get("/admin/campaigns/<campaign_id>")
def campaign(campaign_id: str) -> Response[str]:
    _seen(campaign_id)
    if admin.for_api(router.current_event):
        return public.json_response(200, manage.show_campaign(settings.get(), campaign_id))
    viewer = admin.organiser(router.context)
    page = dashboard.campaign_page(settings.get(), campaign_id, clock.now(), viewer=viewer)
    return admin.page(200, "campaign", page, router.current_event, router.context)


@router.post("/admin/campaigns/<campaign_id>/text")
def edit(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    changes = public.read_fields(router.current_event)
    return public.json_response(
        200, manage.edit_text(settings.get(), campaign_id, changes, clock.now())
    )


@router.post("/admin/campaigns/<campaign_id>/draft")
def complete_draft(campaign_id: str) -> Response[str]:
    """A draft's regions, steps, text or plan, as a policy-change document's parts (JSON) or
    from the form on the draft's page."""
    _runs(campaign_id)
    event = router.current_event
    fields = public.read_fields(event)
    parts = fields if public.wants_json(event) else drafts.from_form(fields)
    return _acted(manage.complete_draft(settings.get(), campaign_id, parts, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/launch")
def start(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    return _acted(manage.launch(settings.get(), campaign_id, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/pause")
def pause(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    return _acted(manage.pause(settings.get(), campaign_id, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/resume")
def resume(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    return _acted(manage.resume(settings.get(), campaign_id, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/cancel")
def cancel(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    return _acted(manage.cancel(settings.get(), campaign_id, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/good-news")
def good_news(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    return _acted(manage.send_good_news(settings.get(), campaign_id, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/catch-up")
def catch_up(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    fields = public.read_fields(router.current_event)
    return _acted(manage.set_catch_up(settings.get(), campaign_id, fields, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/ab-tests")
def ab_tests(campaign_id: str) -> Response[str]:
    """A reminder's variants to test by conversions (JSON: ``{"ab_tests": [...]}``)."""
    _runs(campaign_id)
    fields = public.read_fields(router.current_event)
    return _acted(manage.set_ab_tests(settings.get(), campaign_id, fields, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/organisations")
def organisations(campaign_id: str) -> Response[str]:
    """Which organisations joined the campaign, and the order of attribution (the owner's)."""
    access.owner_only(admin.organiser(router.context), ONLY_THE_OWNER_SHARES)
    event = router.current_event
    fields = public.read_fields(event, lists=("members",))
    if not admin.for_api(event):
        fields = manage.organisations_from_form(fields)
    return _acted(manage.set_organisations(settings.get(), campaign_id, fields, clock.now()))


@router.post("/admin/campaigns/<campaign_id>/leave")
def leave(campaign_id: str) -> Response[str]:
    """Take the organiser's organisation out of a campaign it joined."""
    seen_by = admin.organiser(router.context)
    left = manage.leave(settings.get(), seen_by, campaign_id, clock.now())
    # The dashboard goes back to the list: the campaign is no longer theirs to see.
    return admin.done_or_back(router.current_event, left, "")


def _acted(result: dict[str, Any]) -> Response[str]:
    """The API gets the result; the dashboard goes back to the campaign's page."""
    return admin.done_or_back(router.current_event, result, f"campaigns/{result['campaign_id']}")


@router.get("/admin/campaigns/<campaign_id>/stats")
def campaign_stats(campaign_id: str) -> Response[str]:
    _seen(campaign_id)
    report = router.current_event.get_query_string_value("format", "json")
    if report not in ("json", "csv"):
        raise InvalidInput({"format": "json, or csv for a spreadsheet"})
    # The CSV's table: the regions (as ever), or the A/B tests, each a file of its own.
    table = router.current_event.get_query_string_value("table", "regions")
    if table not in ("regions", "ab_tests"):
        raise InvalidInput({"table": "regions, or ab_tests for the A/B tests' CSV"})
    numbers = stats.campaign_stats(
        settings.get(), campaign_id, viewer=admin.organiser(router.context)
    )
    if report == "csv" and table == "ab_tests":
        return admin.csv_response(stats.ab_tests_csv(numbers), f"{campaign_id}-ab-tests.csv")
    if report == "csv":
        return admin.csv_response(stats.as_csv(numbers), f"{campaign_id}-stats.csv")
    return public.json_response(200, numbers)


@router.get("/admin/campaigns/<campaign_id>/launch-check")
def check_launch(campaign_id: str) -> Response[str]:
    _seen(campaign_id)
    checked = launch_check.check(settings.get(), campaign_id, clock.now())
    if admin.for_api(router.current_event):
        return public.json_response(200, checked)
    return admin.page(
        200,
        "launch_check",
        {"check": checked},
        router.current_event,
        router.context,
    )


@router.get("/admin/campaigns/<campaign_id>/preview")
def show_preview(campaign_id: str) -> Response[str]:
    _seen(campaign_id)
    query = router.current_event.get_query_string_value
    shown = preview.preview(
        settings.get(),
        campaign_id,
        region=query("region", "") or "",
        reminder=query("reminder", "") or "",
        channel=query("channel", "email") or "email",
        locale=query("locale", "en") or "en",
        first_text=query("first", "yes") != "no",
    )
    if admin.for_api(router.current_event):
        return public.json_response(200, shown)
    return admin.page(200, "preview", {"preview": shown}, router.current_event, router.context)


@router.post("/admin/campaigns/<campaign_id>/test")
def send_test(campaign_id: str) -> Response[str]:
    _runs(campaign_id)
    fields = public.read_fields(router.current_event)
    sent = preview.send_test(
        settings.get(),
        campaign_id,
        to=str(fields.get("to", "")),
        region=str(fields.get("region", "")),
        reminder=str(fields.get("reminder", "")),
        locale=str(fields.get("locale", "en")),
        now=clock.now(),
    )
    if admin.for_api(router.current_event):
        return public.json_response(200, sent)
    notice = preview.test_sent_notice(campaign_id, sent)
    return admin.page(200, "notice", notice, router.current_event, router.context)
