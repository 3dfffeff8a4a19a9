"""The one place a domain error (`optout.core.errors`) becomes an HTTP answer. Every handler's
exception handler calls one of these; nothing else reads an error's `status` or `retry_after`.

- `as_json`: for machines (webhooks, SNS, API clients): `{"error", "message"}`, plus
  `"problems"` for invalid input.
- `for_public`: JSON for API clients; for people, the page that says what went wrong and what to
  do next, or the subscribe form shown again with what was wrong in it.
- `for_organisers`: JSON for the admin API; for the dashboard, the sign-in form on a 401 and a
  short problem page otherwise.

A rate limit's answer always says when to try again (`Retry-After`), as JSON or as a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from optout.core.errors import (
    InvalidInput,
    NotFound,
    OptoutError,
    TokenError,
    TokenExpired,
    TooManyRequests,
    Unauthorized,
)
from optout.web import admin, public


def as_json(error: OptoutError) -> Response[str]:
    """A client error as JSON: its kind, a message, and for invalid input every problem."""
    data: dict[str, Any] = {"error": type(error).__name__, "message": error.message}
    if isinstance(error, InvalidInput):
        data["problems"] = error.problems
    return _with_retry_after(error, public.json_response(error.status, data))


def for_public(
    error: OptoutError,
    event: APIGatewayProxyEvent,
    *,
    form: Mapping[str, Any] | None = None,
    privacy_notice_url: str = "",
    organisation_name: str = "",
) -> Response[str]:
    """A client error on a public route: JSON for API clients; for people, the subscribe form
    again with its problems marked (invalid input, when `form` holds what was sent; with the
    form's privacy notice link, and the name of the organisation whose form it is, if not the
    default one's), or a page that says what happened and what to do next."""
    if public.wants_json(event):
        return as_json(error)
    locale = public.page_locale(event)
    if form is not None and isinstance(error, InvalidInput):
        context = public.form_context(
            locale,
            form,
            error.problems,
            privacy_notice_url=privacy_notice_url,
            organisation_name=organisation_name,
        )
        return public.page(error.status, "subscribe", context, locale)
    subscribe_url = "../" * max(event.path.count("/") - 1, 0) + "subscribe"
    context = {"kind": _kind(error), "message": error.message, "subscribe_url": subscribe_url}
    return _with_retry_after(error, public.page(error.status, "problem", context, locale))


def for_organisers(error: OptoutError, event: APIGatewayProxyEvent) -> Response[str]:
    """A client error under /admin: JSON for the API (a bearer token, or JSON asked for); for the
    dashboard, the sign-in form when credentials are missing, or a short problem page."""
    if admin.for_api(event):
        return as_json(error)
    if isinstance(error, Unauthorized):
        return admin.page(401, "sign_in", {"message": error.message}, event)
    page = admin.page(error.status, "problem", {"message": error.message}, event)
    return _with_retry_after(error, page)


def _with_retry_after(error: OptoutError, response: Response[str]) -> Response[str]:
    """A rate limit's answer says when to try again (RFC 9110 section 10.2.3), as a page too."""
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _kind(error: OptoutError) -> str:
    """What the problem page explains: its title and advice are written, translated, per kind
    (templates/pages/problem.html)."""
    if isinstance(error, TokenExpired):
        return "expired"
    if isinstance(error, TokenError):
        return "broken-link"
    if isinstance(error, NotFound):
        return "not-found"
    if isinstance(error, TooManyRequests):
        return "too-many"
    return "other"
