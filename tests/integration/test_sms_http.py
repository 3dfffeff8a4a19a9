"""Texts through a Twilio-compatible HTTP provider: a real HTTP server on 127.0.0.1 plays it."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from optout.channels import PermanentFailure, ProviderUnsure
from optout.channels.sms import Sms, send
from optout.channels.sms_http import _session
from optout.core.settings import from_environ
from tests.helpers import COMPLETE, FakeProvider


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider().serving() as server:
        _session.cache_clear()
        yield server


def settings_for(url: str):  # type: ignore[no-untyped-def]
    return from_environ(
        {
            **COMPLETE,
            "SMS_PROVIDER": "http",
            "SMS_HTTP_URL": url,
            "SMS_HTTP_ACCOUNT": "AC123",
            "OPTOUT_SMS_HTTP_TOKEN": "secret-token",
            "SMS_FROM": "+15005550006",
            "SMS_HTTP_TIMEOUT_SECONDS": "1",
        }
    )


TEXT = Sms(to="+14165550123", text="1 week left to opt out: LinkedIn AI training.")


def test_a_text_is_posted_with_basic_auth_and_the_message_id_returned(
    provider: FakeProvider,
) -> None:
    provider.script = [(201, {"sid": "SM0123456789"}, 0)]
    assert send(settings_for(provider.url), TEXT) == "SM0123456789"
    (request,) = provider.received
    assert request["form"] == {
        "To": ["+14165550123"],
        "From": ["+15005550006"],
        "Body": [TEXT.text],
    }
    assert request["auth"] == "Basic " + base64.b64encode(b"AC123:secret-token").decode()


def test_a_busy_provider_is_asked_again(provider: FakeProvider) -> None:
    provider.script = [
        (429, {"code": 20429, "message": "Too Many Requests"}, 0),
        (201, {"sid": "SM2"}, 0),
    ]
    assert send(settings_for(provider.url), TEXT) == "SM2"
    assert len(provider.received) == 2


def test_a_number_that_opted_out_at_the_provider_is_a_permanent_failure(
    provider: FakeProvider,
) -> None:
    provider.script = [
        (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}, 0)
    ]
    with pytest.raises(PermanentFailure, match="opted out") as caught:
        send(settings_for(provider.url), TEXT)
    assert caught.value.opted_out


@pytest.mark.parametrize("answer", [(201, {"sid": "SM3"}, 1.5), (500, {"message": "oops"}, 0)])
def test_an_answer_too_late_or_a_500_is_unsure_and_never_repeated(
    provider: FakeProvider, answer
) -> None:  # type: ignore[no-untyped-def]
    provider.script = [answer]
    with pytest.raises(ProviderUnsure):
        send(settings_for(provider.url), TEXT)
    assert len(provider.received) == 1


@pytest.mark.parametrize("body", [b"<html>Created</html>", {"status": "queued"}, {"sid": ""}])
def test_a_text_taken_without_a_message_id_is_unsure_and_never_repeated(
    provider: FakeProvider, body
) -> None:  # type: ignore[no-untyped-def]
    # Given a provider that takes the text (201) but names no message in its answer
    provider.script = [(201, body, 0)]
    # Then the text may have gone out: never "not sent", which the caller's retry would repeat
    with pytest.raises(ProviderUnsure, match="without a message id"):
        send(settings_for(provider.url), TEXT)
    assert len(provider.received) == 1


def test_a_provider_that_cannot_be_reached_is_an_error_to_retry_later() -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/Messages.json"
    _session.cache_clear()
    with pytest.raises(requests.ConnectionError):
        send(settings_for(url), TEXT)


def test_a_provider_that_takes_the_request_and_hangs_up_is_unsure() -> None:
    # Given a provider that reads the whole request, then closes the connection unanswered
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    received: list[bytes] = []

    def take_and_hang_up() -> None:
        connection, _ = listener.accept()
        received.append(connection.recv(65536))
        connection.close()

    thread = threading.Thread(target=take_and_hang_up)
    thread.start()
    _session.cache_clear()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/Messages.json"
    # Then the sender must not send it again: it may have gone out
    with pytest.raises(ProviderUnsure):
        send(settings_for(url), TEXT)
    thread.join()
    listener.close()
    assert len(received) == 1
