import pytest

from optout.core.settings import Secret, SettingsError, from_environ
from tests.helpers import COMPLETE

SMS_OVER_HTTP = {
    "SMS_PROVIDER": "http",
    "SMS_HTTP_URL": "https://api.example.org/Messages.json",
    "SMS_HTTP_ACCOUNT": "AC123",
    "OPTOUT_SMS_HTTP_TOKEN": "secret-token",
    "SMS_FROM": "+15005550006",
}


def test_complete_settings_load_with_their_defaults() -> None:
    settings = from_environ(COMPLETE)
    assert settings.deliveries_ttl_days == 400
    assert settings.token_secret == Secret(value="t" * 32)
    confirmations = settings.confirmations
    assert (confirmations.confirm_token_days, confirmations.confirm_resend_minutes) == (7, 10)
    assert settings.sms.provider == "sns"
    assert settings.sending.sms_rate_per_second == 1.0
    assert settings.subscribes_per_hour_per_address == 20
    assert settings.public_base_url == ""
    assert settings.admin.token == Secret()


def test_every_missing_setting_is_named_at_once() -> None:
    environ = {
        k: v for k, v in COMPLETE.items() if k not in ("SUBSCRIBERS_TABLE", "SENDER_ADDRESS")
    }
    with pytest.raises(SettingsError, match="SUBSCRIBERS_TABLE, SENDER_ADDRESS"):
        from_environ(environ)


def test_a_secret_must_come_from_somewhere() -> None:
    environ = {k: v for k, v in COMPLETE.items() if k != "OPTOUT_CONTACT_SECRET"}
    with pytest.raises(SettingsError, match="CONTACT_SECRET_ARN or OPTOUT_CONTACT_SECRET"):
        from_environ(environ)


@pytest.mark.parametrize(
    "name, value, area",
    [
        ("DELIVERIES_TTL_DAYS", "a year", None),
        ("CONFIRM_TOKEN_DAYS", "seven", "confirmations"),
        ("CONFIRM_RESEND_MINUTES", "0", "confirmations"),
        ("PUBLIC_BASE_URL", "http://example.org", "public_base_url"),
        ("SEND_RATE_PER_SECOND", "-1", "sending"),
        ("SENDER_CONCURRENCY", "two", "sending"),
        ("WRONG_ADMIN_TOKENS_PER_ADDRESS", "0", "admin"),
        ("SUBSCRIBES_PER_HOUR_PER_ADDRESS", "many", "subscribes_per_hour_per_address"),
        ("SMS_HTTP_TIMEOUT_SECONDS", "-5", "sms"),
    ],
)
def test_malformed_settings_are_named_where_their_area_is_read(
    name: str, value: str, area: str | None
) -> None:
    if area is None:
        with pytest.raises(SettingsError, match=name):
            from_environ({**COMPLETE, name: value})
        return
    # Given a malformed setting of one area, the settings every function reads still load
    settings = from_environ({**COMPLETE, name: value})
    # Then reading that area names it
    with pytest.raises(SettingsError, match=name):
        getattr(settings, area)


def test_a_broken_area_leaves_the_others_readable() -> None:
    # Given a broken SMS channel, subscribe limit and accepted topics
    settings = from_environ(
        {
            **COMPLETE,
            "SMS_PROVIDER": "http",
            "SUBSCRIBES_PER_HOUR_PER_ADDRESS": "0",
            "ACCEPTED_SNS_TOPIC_ARNS": "not-an-arn",
        }
    )
    # Then the other areas read as usual
    assert settings.sending.sender_concurrency == 2
    assert settings.confirmations.confirm_token_days == 7
    with pytest.raises(SettingsError, match="SUBSCRIBES_PER_HOUR_PER_ADDRESS"):
        settings.subscribes_per_hour_per_address  # noqa: B018


def test_an_sms_provider_over_http_needs_every_one_of_its_settings_named_at_once() -> None:
    settings = from_environ({**COMPLETE, "SMS_PROVIDER": "http"})
    with pytest.raises(SettingsError) as raised:
        settings.sms  # noqa: B018
    assert str(raised.value) == (
        "missing or invalid settings: SMS_HTTP_URL, SMS_HTTP_ACCOUNT, SMS_HTTP_TOKEN_ARN or "
        "OPTOUT_SMS_HTTP_TOKEN (the SMS provider's auth token), SMS_FROM"
    )


def test_an_sms_provider_over_http_with_its_settings_loads() -> None:
    sms = from_environ({**COMPLETE, **SMS_OVER_HTTP}).sms
    assert (sms.provider, sms.http_url, sms.sender) == (
        "http",
        "https://api.example.org/Messages.json",
        "+15005550006",
    )
    assert sms.http_token == Secret(value="secret-token")


def test_an_unknown_sms_provider_is_named_with_the_choices() -> None:
    with pytest.raises(SettingsError, match=r"SMS_PROVIDER \(sns or http\)"):
        from_environ({**COMPLETE, "SMS_PROVIDER": "twilio"}).sms  # noqa: B018


def test_the_webhook_secret_is_needed_only_where_it_is_read() -> None:
    settings = from_environ(COMPLETE)
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET_ARN or OPTOUT_WEBHOOK_SECRET"):
        settings.webhook_secret  # noqa: B018
    assert from_environ({**COMPLETE, "WEBHOOK_SECRET_ARN": "arn"}).webhook_secret.arn == "arn"


def test_an_area_is_read_once() -> None:
    environ = {**COMPLETE, "SMS_RATE_PER_SECOND": "3"}
    settings = from_environ(environ)
    assert settings.sending.sms_rate_per_second == 3.0
    environ["SMS_RATE_PER_SECOND"] = "not read again"
    assert settings.sending is settings.sending
    assert settings.sending.sms_rate_per_second == 3.0


def test_accepted_sns_topics_are_a_comma_separated_list_of_topic_arns() -> None:
    topics = (
        "arn:aws:sns:eu-west-1:123456789012:Feedback , arn:aws-cn:sns:cn-north-1:123456789012:Texts"
    )
    settings = from_environ({**COMPLETE, "ACCEPTED_SNS_TOPIC_ARNS": topics})
    assert settings.accepted_sns_topic_arns == (
        "arn:aws:sns:eu-west-1:123456789012:Feedback",
        "arn:aws-cn:sns:cn-north-1:123456789012:Texts",
    )
    assert from_environ(COMPLETE).accepted_sns_topic_arns == ()
    wrong = from_environ({**COMPLETE, "ACCEPTED_SNS_TOPIC_ARNS": "arn:aws:sqs:eu-west-1:1:q"})
    with pytest.raises(SettingsError, match="ACCEPTED_SNS_TOPIC_ARNS"):
        wrong.accepted_sns_topic_arns  # noqa: B018


def test_our_number_is_sms_from_read_by_itself_and_optional() -> None:
    # The subscribe page names it without the SMS channel's other settings; empty: none set
    assert from_environ({**COMPLETE, "SMS_FROM": " +18005550199 "}).sms_number == "+18005550199"
    assert from_environ(COMPLETE).sms_number == ""
    # And the http provider still sends from it
    assert from_environ({**COMPLETE, **SMS_OVER_HTTP}).sms.sender == SMS_OVER_HTTP["SMS_FROM"]


def test_the_privacy_notice_is_an_https_address_or_none() -> None:
    assert from_environ(COMPLETE).privacy_notice_url == ""  # the form shows no such link
    notice = "https://rights.example.org/privacy"
    assert from_environ({**COMPLETE, "PRIVACY_NOTICE_URL": notice}).privacy_notice_url == notice
    with pytest.raises(SettingsError, match="PRIVACY_NOTICE_URL"):
        from_environ({**COMPLETE, "PRIVACY_NOTICE_URL": "javascript:alert(1)"}).privacy_notice_url  # noqa: B018
