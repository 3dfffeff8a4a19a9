"""What the public routes' handlers share: reading bodies, answering in JSON or HTML, the
subscribe form's choices. (Refusals are answered by `optout.web.problems`.)"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Callable, Collection, Mapping
from functools import cache
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from optout.core import json_body
from optout.core.errors import InvalidInput, OptoutError, PayloadTooLarge
from optout.core.settings import Settings
from optout.domain import locales
from optout.domain.regions import PUBLIC_GROUPS
from optout.messages import consent, render

MAX_FORM_BYTES = 16 * 1024
_SECURITY_HEADERS = {
    # Pages load nothing from elsewhere; forms post only to us; nobody may frame them.
    # Scripts only by the hash of the form's one inline script (the browser's time zone).
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src {render.script_sources('pages/subscribe.html')}; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def wants_json(event: APIGatewayProxyEvent) -> bool:
    """True when the client sent JSON or asked for it (API use); pages otherwise."""
    content_type = (
        event.headers.get("content-type") or event.headers.get("Content-Type") or ""
    ).lower()
    accept = (event.headers.get("accept") or event.headers.get("Accept") or "").lower()
    return "json" in content_type or ("application/json" in accept and "text/html" not in accept)


def read_fields(
    event: APIGatewayProxyEvent, *, lists: Collection[str] = ("platforms",)
) -> dict[str, Any]:
    """The body of a JSON or url-encoded form request as a dict of fields; a form's field named
    in `lists` (checkboxes of one name) as the list of its values, any other as its last."""
    raw = raw_body(event)
    if len(raw) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_FORM_BYTES // 1024} KiB")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:  # found by schemathesis: Powertools' decoded_body raised, a 500
        raise InvalidInput({"body": "is not UTF-8 text"}) from None
    if wants_json(event):
        return json_body.parse_object(body)
    try:
        form = parse_qs(body, keep_blank_values=True, max_num_fields=64)
    except ValueError:
        raise InvalidInput({"body": "too many form fields"}) from None
    return {name: values if name in lists else values[-1] for name, values in form.items()}


def raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The body exactly as the client sent it (API Gateway base64-encodes binary bodies)."""
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def read_fields_quietly(
    event: APIGatewayProxyEvent, *, lists: Collection[str] = ("platforms",)
) -> dict[str, Any]:
    """The fields of a request that may be malformed, for redisplaying a form (or a body that
    may be none); {} if unreadable."""
    try:
        return read_fields(event, lists=lists)
    except OptoutError:
        return {}


def base_url(settings: Settings, event: APIGatewayProxyEvent) -> str:
    """Where links back to this API start: the configured public URL, or the one this request
    came in on (the stage prefix included when called on the execute-api host)."""
    if settings.public_base_url:
        return settings.public_base_url
    headers = {name.lower(): value for name, value in event.headers.items()}
    proto = "http" if headers.get("x-forwarded-proto") == "http" else "https"
    host = event.request_context.domain_name or headers.get("host", "")
    return f"{proto}://{host}{stage_prefix(event)}"


def stage_prefix(event: APIGatewayProxyEvent) -> str:
    """ "/dev" when called on the execute-api host (the stage is part of the path there); ""
    behind a custom domain or on the local stack."""
    full_path = event.request_context.path or event.path
    return full_path[: len(full_path) - len(event.path)] if full_path.endswith(event.path) else ""


def page_locale(event: APIGatewayProxyEvent) -> str:
    """The language of a page with no subscriber behind it (the form, a refused link): the
    ``?lang=`` the person chose, else what their browser prefers, else English."""
    chosen = (event.query_string_parameters or {}).get("lang")
    if chosen:
        try:
            return locales.resolve(chosen)
        except InvalidInput:
            pass  # a language we do not write: fall back to the browser's
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    return locales.negotiate(headers.get("accept-language"))


def page(
    status: int, name: str, context: Mapping[str, Any], locale: str = locales.DEFAULT_LOCALE
) -> Response[str]:
    """An HTML page in the shared layout, in `locale`."""
    return Response(
        status,
        "text/html; charset=utf-8",
        render.page(name, context, locale),
        {**_SECURITY_HEADERS, "Content-Language": locale},
    )


def answer(
    status: int,
    event: APIGatewayProxyEvent,
    data: Mapping[str, Any],
    page_name: str,
    context: Mapping[str, Any],
    locale: str = locales.DEFAULT_LOCALE,
) -> Response[str]:
    """The same outcome as JSON for API clients or as a page for people (in `locale`)."""
    if wants_json(event):
        return json_response(status, data)
    return page(status, page_name, context, locale)


def json_response(status: int, data: Mapping[str, Any]) -> Response[str]:
    return Response(status, "application/json", json.dumps(data), {"Cache-Control": "no-store"})


def refuse_unmatched_paths(app: APIGatewayRestResolver, error: Callable[[], OptoutError]) -> None:
    """Answer a path that API Gateway routed to `app` but none of its routes match (a path
    parameter with characters Powertools' patterns leave out, such as U+00B4) by raising
    `error()`: the app's own error handler then answers it like every other refusal, not with
    Powertools' bare `{"statusCode": 404}` that no client of ours expects (found by schemathesis)."""

    def unmatched(_: NotFoundError) -> Response[str]:
        raise error()

    app.not_found(unmatched)


def form_context(
    locale: str,
    values: Mapping[str, Any] | None = None,
    problems: Mapping[str, str] | None = None,
    *,
    privacy_notice_url: str = "",
    organisation_name: str = "",
) -> dict[str, Any]:
    """What the subscribe form needs, in `locale`: choices, the values sent back, what was
    wrong, the consent wording (`messages.consent`: exactly the text whose version a
    subscription records) and the organisation's privacy notice link ("": none), and its
    name on an organisation's own form ("": the deployment's form, /subscribe). The
    reminders' language starts as the page's."""
    territories = render.babel_locale(locale).territories
    regions = [
        (code, render.translate(locale, group.name)) for code, group in PUBLIC_GROUPS.items()
    ]
    countries = sorted(
        (
            (country, territories.get(country, country))
            for group in PUBLIC_GROUPS.values()
            for country in group.countries
        ),
        key=lambda pair: collation_key(pair[1]),
    )
    return {
        "regions": regions,
        "countries": countries,
        "languages": languages(),
        "values": {"locale": locale, **(values or {})},
        "problems": dict(problems or {}),
        "consent": consent.form_wording(locale).paragraphs,
        "privacy_notice_url": privacy_notice_url,
        "organisation_name": organisation_name,
    }


def collation_key(name: str) -> str:
    """Sorts country names as a reader expects (Österreich with the O's, Éire with the E's)."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold() or name


def _own_name(code: str) -> str:
    name = render.babel_locale(code).display_name or code
    return name[:1].upper() + name[1:]  # "Français" at the head of a list, as menus write it


@cache
def languages() -> list[tuple[str, str]]:
    """Each language named in itself, so that a reader finds theirs whatever the page's
    language. Made on first use: it reads Babel's data of every language, a fifth of a second,
    which only the subscribe form needs."""
    return [(code, _own_name(code)) for code in locales.SUPPORTED_LOCALES]
