"""The organisers' admin API and dashboard, everything under /admin.

Every route but sign-in needs the admin token: as a bearer token (API, CLI) or as the
dashboard's session cookie. Without it the answer is 401 and nothing else. The dashboard's
forms post with the cookie, which is SameSite=Strict; a POST from another origin is refused.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout import (
    admin,
    admin_http,
    announcements,
    clock,
    dashboard,
    imports,
    launch,
    preview,
    settings,
    stats,
    test_recipients,
    web,
)
from optout.errors import InvalidInput, NotFound, OptoutError
from optout.observability import logger, metrics, tracer

app = APIGatewayRestResolver()
web.refuse_unmatched_paths(app, lambda: NotFound("no such campaign"))
OPEN = {"/admin/sign-in"}  # the only route that needs no credentials


def organisers_only(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    event = app.current_event
    if event.path not in OPEN:
        headers = {name.lower(): value for name, value in event.headers.items()}
        address = event.request_context.identity.source_ip or ""
        if admin.authorise(settings.get(), headers, clock.now(), address) == "session":
            admin_http.check_same_origin(event)
    return next_middleware(app)


app.use(middlewares=[organisers_only])


@app.get("/admin")  # and /admin/: the resolver ignores a trailing slash
def home() -> Response[str]:
    overview = dashboard.overview(settings.get(), clock.now())
    return admin_http.page(200, "dashboard", overview, app.current_event)


@app.post("/admin/sign-in")
def sign_in() -> Response[str]:
    token = str(web.read_fields(app.current_event).get("token", ""))
    address = app.current_event.request_context.identity.source_ip or ""
    session = admin.sign_in(settings.get(), token, clock.now(), address)
    return admin_http.signed_in(settings.get(), app.current_event, session)


@app.post("/admin/sign-out")
def sign_out() -> Response[str]:
    event = app.current_event
    admin.sign_out(settings.get(), {k.lower(): v for k, v in event.headers.items()}, clock.now())
    return admin_http.signed_in(settings.get(), event, "")


@app.get("/admin/campaigns")
def campaigns() -> Response[str]:
    return web.json_response(200, {"campaigns": admin.list_campaigns(settings.get())})


@app.post("/admin/campaigns")
def create() -> Response[str]:
    event = app.current_event
    created = admin.create_campaign(
        settings.get(),
        web.raw_body(event),
        base_url=web.base_url(settings.get(), event),
        now=clock.now(),
        draft=event.get_query_string_value("draft") in ("yes", "true", "1"),
    )
    return web.json_response(201, created)


@app.post("/admin/sends")
def ad_hoc_send() -> Response[str]:
    event = app.current_event
    planned = announcements.create(
        settings.get(),
        web.raw_body(event),
        base_url=web.base_url(settings.get(), event),
        now=clock.now(),
    )
    return web.json_response(201, planned)


@app.get("/admin/campaigns/<campaign_id>")
def campaign(campaign_id: str) -> Response[str]:
    if admin_http.for_api(app.current_event):
        return web.json_response(200, admin.show_campaign(settings.get(), campaign_id))
    page = dashboard.campaign_page(settings.get(), campaign_id, clock.now())
    return admin_http.page(200, "campaign", page, app.current_event)


@app.post("/admin/campaigns/<campaign_id>/text")
def edit(campaign_id: str) -> Response[str]:
    changes = web.read_fields(app.current_event)
    return web.json_response(
        200, admin.edit_text(settings.get(), campaign_id, changes, clock.now())
    )


@app.post("/admin/campaigns/<campaign_id>/launch")
def start(campaign_id: str) -> Response[str]:
    return _acted(admin.launch(settings.get(), campaign_id, clock.now()))


@app.post("/admin/campaigns/<campaign_id>/pause")
def pause(campaign_id: str) -> Response[str]:
    return _acted(admin.pause(settings.get(), campaign_id, clock.now()))


@app.post("/admin/campaigns/<campaign_id>/resume")
def resume(campaign_id: str) -> Response[str]:
    return _acted(admin.resume(settings.get(), campaign_id, clock.now()))


@app.post("/admin/campaigns/<campaign_id>/cancel")
def cancel(campaign_id: str) -> Response[str]:
    return _acted(admin.cancel(settings.get(), campaign_id, clock.now()))


def _acted(result: dict[str, Any]) -> Response[str]:
    """The API gets the result; the dashboard goes back to the campaign's page."""
    return admin_http.done_or_back(app.current_event, result, f"campaigns/{result['campaign_id']}")


@app.get("/admin/campaigns/<campaign_id>/stats")
def campaign_stats(campaign_id: str) -> Response[str]:
    report = app.current_event.get_query_string_value("format", "json")
    if report not in ("json", "csv"):
        raise InvalidInput({"format": "json, or csv for a spreadsheet"})
    numbers = stats.campaign_stats(settings.get(), campaign_id)
    if report == "csv":
        return admin_http.csv_response(stats.as_csv(numbers), f"{campaign_id}-stats.csv")
    return web.json_response(200, numbers)


@app.get("/admin/campaigns/<campaign_id>/launch-check")
def launch_check(campaign_id: str) -> Response[str]:
    checked = launch.check(settings.get(), campaign_id, clock.now())
    if admin_http.for_api(app.current_event):
        return web.json_response(200, checked)
    return admin_http.page(200, "launch_check", {"check": checked}, app.current_event)


@app.get("/admin/campaigns/<campaign_id>/preview")
def show_preview(campaign_id: str) -> Response[str]:
    query = app.current_event.get_query_string_value
    shown = preview.preview(
        settings.get(),
        campaign_id,
        region=query("region", "") or "",
        reminder=query("reminder", "") or "",
        channel=query("channel", "email") or "email",
        locale=query("locale", "en") or "en",
        first_text=query("first", "yes") != "no",
    )
    if admin_http.for_api(app.current_event):
        return web.json_response(200, shown)
    return admin_http.page(200, "preview", {"preview": shown}, app.current_event)


@app.post("/admin/campaigns/<campaign_id>/test")
def send_test(campaign_id: str) -> Response[str]:
    fields = web.read_fields(app.current_event)
    sent = preview.send_test(
        settings.get(),
        campaign_id,
        to=str(fields.get("to", "")),
        region=str(fields.get("region", "")),
        reminder=str(fields.get("reminder", "")),
        locale=str(fields.get("locale", "en")),
        now=clock.now(),
    )
    if admin_http.for_api(app.current_event):
        return web.json_response(200, sent)
    notice = {
        "title": "Test sent",
        "message": f"Sent to {sent['to']}.",
        "back_to": f"campaigns/{campaign_id}",
    }
    return admin_http.page(200, "notice", notice, app.current_event)


@app.post("/admin/subscribers/import")
def import_subscribers() -> Response[str]:
    event = app.current_event
    base_url = web.base_url(settings.get(), event)
    report = imports.import_csv(
        settings.get(), web.raw_body(event), base_url=base_url, now=clock.now()
    )
    return web.json_response(200, report)


@app.get("/admin/subscribers/export")
def export_subscribers() -> Response[str]:
    query = app.current_event.get_query_string_value
    part = imports.export_csv(settings.get(), query("format", "csv"), query("after", ""))
    response = admin_http.csv_response(part.text, "subscribers.csv")
    if part.next_after:  # more than one Lambda response holds: ask again with ?after=
        response.headers["X-Next-After"] = part.next_after
    return response


@app.post("/admin/subscribers/test-links")
def test_recipient_links() -> Response[str]:
    """The links in the messages to SES's mailbox simulator, for `optout smoke` (only those)."""
    event = app.current_event
    fields = web.read_fields(event)
    found = test_recipients.links(
        settings.get(), fields, base_url=web.base_url(settings.get(), event), now=clock.now()
    )
    return web.json_response(200, found)


# Powertools' exception_handler is not annotated: mypy cannot see through it.
@app.exception_handler(OptoutError)  # type: ignore[untyped-decorator]
def refused(error: OptoutError) -> Response[str]:
    logger.info("admin request refused", extra={"error": type(error).__name__})
    return admin_http.problem(error, app.current_event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
