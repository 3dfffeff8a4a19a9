"""SMS through an HTTP provider with a Twilio-compatible REST API (Twilio, and the providers that
copy its Messages resource): ``POST <url>`` with ``To``, ``From`` and ``Body``, HTTP basic auth,
a JSON answer with the message ``sid``.

Retries are careful, because a text sent twice is a real cost to a real person: a request that
never reached the provider (connection refused) or that it refused for load (429, 503) is
retried; one that may have been taken (a read timeout, a 500, an answer that broke off or
names no message) is not, and is reported as
`ProviderUnsure` so that the sender counts it "unknown" instead of sending it again.
"""

from __future__ import annotations

from functools import lru_cache

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from optout.channels import PermanentFailure, ProviderUnsure
from optout.core import keys
from optout.core.observability import trace_requests
from optout.core.settings import Settings

trace_requests()

# Twilio's error codes for a message that no retry can deliver.
_PERMANENT_CODES = {
    21211: "not a valid phone number",
    21408: "sending to this region is not enabled",
    21610: "the number replied STOP to the provider (opted out)",
    21612: "the provider cannot reach this number",
    21614: "not a mobile number",
}


@lru_cache(maxsize=1)
def _session() -> requests.Session:
    retry = Retry(
        total=3,
        connect=3,
        read=0,  # a read error means the request arrived: never repeat it
        status=3,
        status_forcelist=(429, 503),  # refused before anything was sent
        allowed_methods=frozenset({"POST"}),
        backoff_factor=0.5,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def send(settings: Settings, to: str, text: str) -> str:
    """Send one text; the provider's message id."""
    provider = settings.sms
    try:
        response = _session().post(
            provider.http_url,
            data={"To": to, "From": provider.sender, "Body": text},
            auth=(provider.http_account, keys.sms_http_token(settings)),
            timeout=(3.05, provider.http_timeout_seconds),
        )
    except requests.ConnectTimeout:
        raise  # never reached the provider: the queue's retry may send it
    except requests.ConnectionError as error:
        if _never_connected(error):
            raise
        raise ProviderUnsure(f"the SMS provider dropped the request: {error}") from error
    except requests.Timeout as error:
        raise ProviderUnsure(f"the SMS provider did not answer in time: {error}") from error
    except (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as error:
        raise ProviderUnsure(f"the SMS provider's answer broke off: {error}") from error
    if response.status_code in (200, 201):
        return _sid(response)
    code = _error_code(response)
    if code in _PERMANENT_CODES:
        raise PermanentFailure(
            f"SMS provider error {code}: {_PERMANENT_CODES[code]}", opted_out=code == 21610
        )
    if response.status_code in (429, 503):
        raise RuntimeError(f"SMS provider busy ({response.status_code}) after retries")
    if response.status_code >= 500:
        raise ProviderUnsure(f"SMS provider answered {response.status_code}: it may have sent it")
    raise PermanentFailure(
        f"SMS provider refused the message ({response.status_code}, code {code})"
    )


def _never_connected(error: BaseException) -> bool:
    """True when no connection was ever made (refused, no route): then nothing was sent."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(cause, "reason", None)
        nested = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
        cause = (
            reason
            if isinstance(reason, BaseException)
            else nested or cause.__cause__ or cause.__context__
        )
    return False


def _sid(response: requests.Response) -> str:
    """The message id of an answer that took the text; one without it still took it."""
    try:
        sid = response.json()["sid"]
    except (ValueError, TypeError, KeyError):
        sid = None
    if not isinstance(sid, str) or not sid:
        raise ProviderUnsure(
            f"the SMS provider took the text ({response.status_code}) without a message id"
        )
    return sid


def _error_code(response: requests.Response) -> int | None:
    try:
        return int(response.json().get("code"))
    except (ValueError, TypeError, AttributeError):
        return None
