"""The organisers' admin API and dashboard, everything under /admin.

Every route but sign-in needs the admin token (the coalition owner) or an organiser's token:
as a bearer token (API, CLI) or as the dashboard's session cookie. Without one the answer is
401 and nothing else; each route shows an organiser only their organisation's. The dashboard's
forms post with the cookie, which is SameSite=Strict; a POST from another origin is refused.
"""

from typing import Any

import admin_campaigns
import admin_changes
import admin_follow_ups
import admin_organisations
import admin_session
import admin_subscribers
import admin_watches
import admin_webhooks
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.errors import NotFound, OptoutError
from optout.core.observability import logger, metrics, tracer
from optout.organisers import access, dashboard, organisations
from optout.web import admin, problems, public

app = APIGatewayRestResolver()
public.refuse_unmatched_paths(app, lambda: NotFound("no such campaign"))
OPEN = {"/admin/sign-in"}  # the only route that needs no credentials


def organisers_only(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Let organisers in, and tell the routes who they are: `admin.ORGANISER` in the
    resolver's context (an `Organiser`), by which each route scopes what it shows."""
    event = app.current_event
    if event.path not in OPEN:
        headers = {name.lower(): value for name, value in event.headers.items()}
        address = event.request_context.identity.source_ip or ""
        organiser = access.authorise(settings.get(), headers, clock.now(), address)
        if organiser.how == "session":
            admin.check_same_origin(event)
        access.may_open(organiser, event.path)
        app.append_context(**{admin.ORGANISER: organiser})  # type: ignore[no-untyped-call]
        if organiser.how == "session" and not organiser.owner:  # the dashboard's header
            name = organisations.name_of(settings.get(), organiser.organisation)
            app.append_context(**{admin.ORGANISATION_NAME: name})  # type: ignore[no-untyped-call]
    return next_middleware(app)


app.use(middlewares=[organisers_only])
# The routes, by area; each module is one Router.
for area in (
    admin_session,
    admin_campaigns,
    admin_subscribers,
    admin_watches,
    admin_changes,
    admin_follow_ups,
    admin_webhooks,
    admin_organisations,
):
    app.include_router(area.router)


@app.get("/admin")  # and /admin/: the resolver ignores a trailing slash
def home() -> Response[str]:
    seen_by = admin.organiser(app.context)
    overview = dashboard.overview(settings.get(), clock.now(), seen_by)
    return admin.page(200, "dashboard", overview, app.current_event, app.context)


# Powertools' exception_handler is not annotated: mypy cannot see through it.
@app.exception_handler(OptoutError)  # type: ignore[untyped-decorator]
def refused(error: OptoutError) -> Response[str]:
    logger.info("admin request refused", extra={"error": type(error).__name__})
    return problems.for_organisers(error, app.current_event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
