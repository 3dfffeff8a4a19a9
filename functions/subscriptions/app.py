"""Subscriptions API: the subscribe form and the double opt-in confirmation link.

GET /subscribe shows the form; POST /subscribe (form or JSON) answers 202 whether or not the
contact was known. GET /confirm/{token} only shows a button, so link scanners confirm nobody;
POST /confirm/{token} activates the subscriber.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.errors import OptoutError, TokenInvalid
from optout.core.observability import logger, metrics, tracer
from optout.subscribers import subscriptions
from optout.web import problems, public

app = APIGatewayRestResolver()
public.refuse_unmatched_paths(app, lambda: TokenInvalid("this link is not one of ours"))


@app.get("/subscribe")
def subscribe_form() -> Response[str]:
    locale = public.page_locale(app.current_event)
    context = public.form_context(locale, privacy_notice_url=settings.get().privacy_notice_url)
    return public.page(200, "subscribe", context, locale)


@app.post("/subscribe")
def subscribe() -> Response[str]:
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
    )
    pending = subscriptions.PENDING_ANSWER
    context = subscriptions.subscribed_page_context(settings.get())
    return public.answer(202, event, pending, "subscribed", context, public.page_locale(event))


@app.get("/confirm/<token>")
def confirm_page(token: str) -> Response[str]:
    locale = subscriptions.confirmation_locale(settings.get(), token, clock.now())
    return public.page(200, "confirm", subscriptions.confirm_page_context(settings.get()), locale)


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
    form = None
    if app.current_event.path == "/subscribe" and app.current_event.http_method == "POST":
        form = public.read_fields_quietly(app.current_event)
    return problems.for_public(
        error, app.current_event, form=form, privacy_notice_url=settings.get().privacy_notice_url
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
