"""Links in reminders: tracked clicks (/r), "I've switched it off" (/done), unsubscribe
(/unsubscribe, RFC 8058 one-click included), and the person's own data (/privacy).

A GET never changes anything but a click count: mail scanners follow every link. Only a POST
records a conversion or ends a subscription, and an unsubscribe POST is always answered 200
with a page, never a redirect, as RFC 8058 asks.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.errors import OptoutError, TokenInvalid
from optout.core.observability import logger, metrics, tracer
from optout.links import clicks, privacy, unsubscribe
from optout.web import problems, public

app = APIGatewayRestResolver()
public.refuse_unmatched_paths(app, lambda: TokenInvalid("this link is not one of ours"))


@app.get("/r/<token>")
def follow(token: str) -> Response[str]:
    headers = {name.lower(): value for name, value in app.current_event.headers.items()}
    destination = clicks.click(settings.get(), token, clock.now(), headers.get("user-agent", ""))
    return Response(
        302,
        "text/plain",
        "",
        {"Location": destination, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@app.get("/s/<code>")
def short(code: str) -> Response[str]:
    destination = clicks.short_link(settings.get(), code, clock.now())
    return Response(302, "text/plain", "", {"Location": destination, "Cache-Control": "no-store"})


@app.get("/done/<token>")
def done_page(token: str) -> Response[str]:
    done = clicks.done_link(settings.get(), token, clock.now())
    return public.page(200, "done", done.page_context(), done.locale)


@app.post("/done/<token>")
def done(token: str) -> Response[str]:
    confirmed = clicks.confirm_done(settings.get(), token, clock.now())
    return public.answer(
        200,
        app.current_event,
        {"status": "done"},
        "done_thanks",
        confirmed.page_context(),
        confirmed.locale,
    )


@app.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> Response[str]:
    locale = unsubscribe.unsubscribe_locale(settings.get(), token, clock.now())
    context = unsubscribe.page_context(settings.get(), token, clock.now())
    return public.page(200, "unsubscribe", context, locale)


@app.post("/unsubscribe/<token>")
def one_click_unsubscribe(token: str) -> Response[str]:
    # Any POST will do: a mail client's one-click body (List-Unsubscribe=One-Click, url-encoded
    # or multipart) or the page's button. No cookies, no redirect.
    how = unsubscribe.how_sent(public.raw_body(app.current_event))
    context = unsubscribe.page_context(settings.get(), token, clock.now())
    locale = unsubscribe.unsubscribe(settings.get(), token, clock.now(), how)
    return public.answer(
        200, app.current_event, {"status": "unsubscribed"}, "unsubscribed", context, locale
    )


@app.get("/privacy/<token>")
def privacy_page(token: str) -> Response[str]:
    data = privacy.stored_data(settings.get(), token, clock.now())
    locale = data.get("locale", public.page_locale(app.current_event))
    return public.answer(200, app.current_event, data, "privacy", {"data": data}, locale)


@app.post("/privacy/<token>")
def erase(token: str) -> Response[str]:
    # The form may choose organisations (checkboxes); no choice, or no body: every one.
    fields = public.read_fields_quietly(app.current_event, lists=(privacy.ORGANISATIONS,))
    chosen = privacy.chosen_organisations(fields)
    erased = privacy.erase(settings.get(), token, clock.now(), chosen)
    return public.answer(
        200, app.current_event, erased.as_dict(), "erased", erased.page_context(), erased.locale
    )


# Powertools' exception_handler is not annotated: mypy cannot see through it.
@app.exception_handler(OptoutError)  # type: ignore[untyped-decorator]
def refused(error: OptoutError) -> Response[str]:
    # The token itself is never logged: it is a key to someone's subscription.
    logger.info(
        "link refused", extra={"error": type(error).__name__, "route": app.current_event.resource}
    )
    return problems.for_public(error, app.current_event)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
