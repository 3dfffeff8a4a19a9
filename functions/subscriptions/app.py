"""Subscriptions API: the subscribe form and the double opt-in confirmation link.

GET /subscribe shows the form; POST /subscribe (form or JSON) answers 202 whether or not the
contact was known. /o/{organisation}/subscribe is the same form of one organisation of a
coalition (/subscribe is the default organisation's). GET /confirm/{token} only shows a button, so link scanners confirm nobody;
POST /confirm/{token} activates the subscriber.
"""

import contextlib
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.errors import OptoutError, TokenInvalid
from optout.core.observability import logger, metrics, tracer
from optout.domain.organisations import Organisation
from optout.subscribers import subscriptions
from optout.web import problems, public

app = APIGatewayRestResolver()
_ORGANISATION_FORM = re.compile(r"/o/[^/]+/subscribe")
public.refuse_unmatched_paths(app, lambda: TokenInvalid("this link is not one of ours"))


@app.get("/subscribe")
def subscribe_form() -> Response[str]:
    locale = public.page_locale(app.current_event)
    context = public.form_context(locale, privacy_notice_url=settings.get().privacy_notice_url)
    return public.page(200, "subscribe", context, locale)


@app.get("/o/<organisation>/subscribe")
def organisation_subscribe_form(organisation: str) -> Response[str]:
    found = subscriptions.organisation_of_form(settings.get(), organisation)
    locale = public.page_locale(app.current_event)
    context = public.form_context(
        locale,
        privacy_notice_url=subscriptions.privacy_notice_of(settings.get(), found),
        organisation_name=found.name if found else "",
    )
    return public.page(200, "subscribe", context, locale)


@app.post("/subscribe")
def subscribe() -> Response[str]:
    return _subscribe(None)


@app.post("/o/<organisation>/subscribe")
def organisation_subscribe(organisation: str) -> Response[str]:
    return _subscribe(subscriptions.organisation_of_form(settings.get(), organisation))


def _subscribe(organisation: Organisation | None) -> Response[str]:
    event = app.current_event
    request = subscriptions.parse_request(public.read_fields(event))
    on_the_page = not public.wants_json(event)
    subscriptions.subscribe(
        settings.get(),
        request,
        source="web-form" if on_the_page else "api",
        base_url=public.base_url(settings.get(), event),
        now=clock.now(),
        address=event.request_context.identity.source_ip or "",
        # The form's wording was read in the page's language, whatever the reminders' one.
        shown_in=public.page_locale(event) if on_the_page else "",
        organisation=organisation,
    )
    pending = subscriptions.PENDING_ANSWER
    context = subscriptions.subscribed_page_context(settings.get())
    return public.answer(202, event, pending, "subscribed", context, public.page_locale(event))


@app.get("/confirm/<token>")
def confirm_page(token: str) -> Response[str]:
    locale = subscriptions.confirmation_locale(settings.get(), token, clock.now())
    context = subscriptions.confirm_page_context(settings.get(), token, clock.now())
    return public.page(200, "confirm", context, locale)


@app.post("/confirm/<token>")
def confirm(token: str) -> Response[str]:
    subscriber = subscriptions.confirm(settings.get(), token, clock.now())
    base_url = public.base_url(settings.get(), app.current_event)
    context = subscriptions.confirmed_page_context(
        settings.get(), subscriber, base_url, clock.now()
    )
    return public.answer(
        200, app.current_event, {"status": "active"}, "confirmed", context, subscriber.locale
    )


# Powertools' exception_handler is not annotated: mypy cannot see through it.
@app.exception_handler(OptoutError)  # type: ignore[untyped-decorator]
def client_error(error: OptoutError) -> Response[str]:
    logger.info("request refused", extra={"error": type(error).__name__, "field": error.field})
    form, organisation = None, None
    event = app.current_event
    on_a_form = event.path == "/subscribe" or _ORGANISATION_FORM.fullmatch(event.path)
    if event.http_method == "POST" and on_a_form:
        form = public.read_fields_quietly(event)
        if event.path != "/subscribe":  # an organisation's form, which exists (or a 404)
            with contextlib.suppress(OptoutError):
                found = event.path.split("/")[2]
                organisation = subscriptions.organisation_of_form(settings.get(), found)
    return problems.for_public(
        error,
        event,
        form=form,
        privacy_notice_url=subscriptions.privacy_notice_of(settings.get(), organisation),
        organisation_name=organisation.name if organisation else "",
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
