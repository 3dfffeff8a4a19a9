"""Domain errors. Each carries the HTTP status a client should see; `optout.web.problems` is the
one place that turns them into answers (JSON, a page, the subscribe form shown again, the
dashboard's sign-in), so handlers never pick status codes themselves."""

from __future__ import annotations


class OptoutError(Exception):
    """Base of every error a client may cause. `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(OptoutError):
    """A request field is missing or malformed; `problems` maps each field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        summary = "; ".join(f"{field}: {problem}" for field, problem in problems.items())
        super().__init__(summary, field=next(iter(problems), None))
        self.problems = problems


class PayloadTooLarge(OptoutError):
    status = 413


class TokenError(OptoutError):
    """A link token that cannot be honoured. Subclasses say why, so the page can say what to do."""

    status = 404


class TokenInvalid(TokenError):
    """Forged, truncated or signed with an unknown key."""


class TokenExpired(TokenError):
    status = 410


class TokenWrongPurpose(TokenError):
    """A valid token used on the wrong kind of link (an unsubscribe token on /confirm)."""


class TooManyRequests(OptoutError):
    """A rate limit is reached; `retry_after` is how many seconds until it lets this through."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(retry_after, 1)


class NotFound(OptoutError):
    status = 404


class Unauthorized(OptoutError):
    """No valid organiser credentials: the admin API says nothing more than that."""

    status = 401


class Forbidden(OptoutError):
    status = 403


class Conflict(OptoutError):
    """The request is well formed but the thing it names is in the wrong state for it."""

    status = 409
