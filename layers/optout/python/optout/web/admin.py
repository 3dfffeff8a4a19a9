"""How the admin function answers: dashboard pages, JSON, CSV and its sign-in cookie.
(`optout.web.public` does the same for the public routes; this adds what only organisers see.
Refusals, the sign-in form on a 401 among them, are answered by `optout.web.problems`.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from optout.core import tokens
from optout.core.errors import Forbidden
from optout.core.settings import Settings
from optout.domain.organisations import OWNER, Organiser
from optout.messages import render
from optout.web import public

# The key of the resolver's context under which the admin function's middleware leaves who the
# request comes from (`optout.domain.organisations.Organiser`); `organiser` reads it.
ORGANISER = "organiser"
# And, for an organisation's organiser on the dashboard, their organisation's name, which the
# header shows.
ORGANISATION_NAME = "organisation_name"


def organiser(context: Mapping[str, Any]) -> Organiser:
    """Who the current admin request comes from (a router's `context`)."""
    found = context.get(ORGANISER)
    if not isinstance(found, Organiser):  # only the sign-in route runs without one
        raise Forbidden("this needs an organiser's token")
    return found


_PAGE_HEADERS = {
    # The dashboard loads nothing from elsewhere; its one script is inline (the minute's
    # refresh), allowed by its hash alone.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src {render.script_sources('admin/layout.html')}; img-src 'self' data:; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    # Not "no-referrer": under it a browser sends `Origin: null` with the dashboard's own form
    # posts (Fetch standard), which `check_same_origin` must refuse. "same-origin" still tells
    # no other site where its links were followed from.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def page(
    status: int,
    name: str,
    context: Mapping[str, Any],
    event: APIGatewayProxyEvent,
    request: Mapping[str, Any] | None = None,
) -> Response[str]:
    """A dashboard page (templates/admin/<name>.html); links are relative to /admin/. Given
    the `request`'s context (a router's), its header names the organisation of whoever signed
    in, and shows only the pages they may open."""
    signed_in = request or {}
    who = signed_in.get(ORGANISER) or OWNER
    body = render.admin_page(
        name,
        {
            **context,
            "admin_root": _admin_root(event),
            "signed_in_as": who,
            "organisation_name": signed_in.get(ORGANISATION_NAME) or who.organisation,
        },
    )
    return Response(status, "text/html; charset=utf-8", body, dict(_PAGE_HEADERS))


def signed_in(settings: Settings, event: APIGatewayProxyEvent, session: str) -> Response[str]:
    """Back to the dashboard with the session cookie set (or cleared, when `session` is "")."""
    secure = public.base_url(settings, event).startswith("https://")
    lifetime = int(tokens.LIFETIMES[tokens.Purpose.ADMIN].total_seconds()) if session else 0
    cookie = Cookie(
        tokens.SESSION_COOKIE,
        session,
        path=_admin_root(event),
        secure=secure,
        http_only=True,
        max_age=lifetime,
        same_site=SameSite.STRICT_MODE,
    )
    headers = {"Location": _admin_root(event), "Cache-Control": "no-store"}
    return Response(303, "text/plain", "", headers, cookies=[cookie])


def check_same_origin(event: APIGatewayProxyEvent) -> None:
    """A state-changing request made with the session cookie must come from our own pages."""
    if event.http_method in ("GET", "HEAD"):
        return
    headers = {name.lower(): value for name, value in event.headers.items()}
    origin = headers.get("origin") or headers.get("referer") or ""
    if not origin or urlsplit(origin).netloc != headers.get("host", ""):
        raise Forbidden("this form must be sent from the dashboard itself")


def for_api(event: APIGatewayProxyEvent) -> bool:
    """True for API clients (a bearer token, or JSON asked for); False for the dashboard."""
    return public.wants_json(event) or "authorization" in {k.lower() for k in event.headers}


def done_or_back(
    event: APIGatewayProxyEvent, result: Mapping[str, Any], back_to: str
) -> Response[str]:
    """An action's result: JSON for the API, or back to the page the form was on."""
    if for_api(event):
        return public.json_response(200, result)
    location = _admin_root(event) + "/" + back_to
    return Response(303, "text/plain", "", {"Location": location, "Cache-Control": "no-store"})


def csv_response(text: str, filename: str) -> Response[str]:
    return Response(
        200,
        "text/csv; charset=utf-8",
        text,
        {
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _admin_root(event: APIGatewayProxyEvent) -> str:
    return f"{public.stage_prefix(event)}/admin"
