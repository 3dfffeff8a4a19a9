import pytest

from optout.settings import SettingsError, from_environ
from tests.helpers import COMPLETE


def test_complete_settings_load_with_their_defaults() -> None:
    settings = from_environ(COMPLETE)
    assert (settings.confirm_token_days, settings.confirm_resend_minutes) == (7, 10)
    assert settings.deliveries_ttl_days == 400


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
    "name, value",
    [
        ("CONFIRM_TOKEN_DAYS", "seven"),
        ("CONFIRM_RESEND_MINUTES", "0"),
        ("PUBLIC_BASE_URL", "http://example.org"),
    ],
)
def test_malformed_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        from_environ({**COMPLETE, name: value})


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
    with pytest.raises(SettingsError, match="ACCEPTED_SNS_TOPIC_ARNS"):
        from_environ({**COMPLETE, "ACCEPTED_SNS_TOPIC_ARNS": "arn:aws:sqs:eu-west-1:1:q"})
