from email import message_from_bytes, policy

import pytest

from optout.channels.email import Email, build
from optout.core.settings import from_environ
from optout.domain.locales import SUPPORTED_LOCALES
from optout.messages import render
from optout.web import public
from tests.helpers import COMPLETE

CONTEXT = {
    "organisation": "Data Rights Watch",
    "organisation_address": "Rue de l'Exemple 1, Brussels",
    "confirm_url": "https://optout.example.org/confirm/k1.confirm.x.sabc.sig",
    "region_name": "European Union",
    "days_valid": 7,
}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_confirmation_is_written_in_every_supported_language(locale: str) -> None:
    subject = render.message_part("confirm", locale, "subject.txt", CONTEXT)
    english = render.message_part("confirm", "en", "subject.txt", CONTEXT)
    assert "Data Rights Watch" in subject
    assert (subject == english) == (locale == "en")


def test_plurals_follow_the_language() -> None:
    one_day = render.message_part("confirm", "de", "body.txt", {**CONTEXT, "days_valid": 1})
    seven_days = render.message_part("confirm", "de", "body.txt", {**CONTEXT, "days_valid": 7})
    assert "1 Tag " in one_day and "7 Tage " in seven_days


def test_html_parts_escape_what_they_are_given_and_text_parts_do_not() -> None:
    hostile = {**CONTEXT, "organisation": "<script>alert(1)</script> & Co"}
    html = render.message_part("confirm", "en", "body.html", hostile)
    text = render.message_part("confirm", "en", "body.txt", hostile)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script> & Co" in text


def test_a_missing_variable_fails_with_the_template_and_line() -> None:
    incomplete = {k: v for k, v in CONTEXT.items() if k != "confirm_url"}
    with pytest.raises(
        render.RenderError, match=r"messages/confirm/sms.txt, line 1: .*confirm_url"
    ):
        render.message_part("confirm", "en", "sms.txt", incomplete)


def test_the_sandbox_keeps_templates_away_from_python_internals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    environment = render._environment(False)
    template = environment.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(render.RenderError, match="unsafe"):
        render._render(template, {})


def test_an_email_is_multipart_with_our_headers_and_refuses_header_injection() -> None:
    settings = from_environ(COMPLETE)
    email = Email(
        to="ada@example.org",
        subject="One week left",
        text="plain",
        html="<p>html</p>",
        headers={
            "List-Unsubscribe": "<https://optout.example.org/unsubscribe/t>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    mime = message_from_bytes(build(settings, email), policy=policy.default)
    assert mime["From"] == "Org <reminders@example.org>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime.get_body(("plain",)).get_content().strip() == "plain"
    assert mime.get_body(("html",)).get_content().strip() == "<p>html</p>"
    for injected in (
        Email(to="ada@example.org", subject="Hi\r\nBcc: everyone@example.org", text="", html=""),
        Email(
            to="ada@example.org",
            subject="Hi",
            text="",
            html="",
            headers={"X-A": "1\nBcc: x@example.org"},
        ),
    ):
        with pytest.raises(ValueError, match="line break"):
            build(settings, injected)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_pages_text_direction_is_cldrs_for_its_language(locale: str) -> None:
    # Babel's (CLDR's) character order is the truth; pages read it from locales.RIGHT_TO_LEFT
    cldr = render.babel_locale(locale).character_order
    assert cldr in ("left-to-right", "right-to-left")
    assert render.text_direction(locale) == ("rtl" if cldr == "right-to-left" else "ltr")


def test_babel_tells_a_right_to_left_language_apart() -> None:
    # What the test above relies on: were Arabic supported, Babel would say so.
    assert render.babel_locale("ar").character_order == "right-to-left"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_page_renders_in_every_language_with_its_lang_and_direction(locale: str) -> None:
    # Given the context each page is rendered with
    contexts = {
        "subscribe": public.form_context(locale, {}, {"contact": "not an address"}),
        "subscribed": {"sms_number": "+18005550199"},
        "confirm": {"organisation": "Digital Rights Now"},
        "confirmed": {
            "privacy_url": "https://example.org/privacy/t",
            "contact": "a***@example.org",
            "channel": "sms",
            "region_name": "EU",
        },
        "done": {"title": "T", "steps": ["one"], "setting_url": "https://example.org/s"},
        "done_thanks": {"title": "T"},
        "unsubscribe": {},
        "unsubscribed": {},
        "privacy": {
            "data": {
                "contact": "a@example.org",
                "consent": {"source": "api"},
                "consent_evidence": {
                    **dict.fromkeys(("form_version", "wording_sha256", "confirmed_at")),
                    **dict.fromkeys(("privacy_notice_url", "proof", "imported_at")),
                    "source": "form",
                    "source_detail": "api",
                    "language": locale,
                    "subscribed_at": "2025-10-27T09:00:00Z",
                },
            }
        },
        "erased": {},
        "problem": {"kind": "expired", "message": "this link has expired", "subscribe_url": "x"},
    }
    for name, context in contexts.items():
        # When it is rendered in the language
        html = render.page(name, context, locale)
        # Then the page says which language it is in, and no English is left in its title
        assert f'<html lang="{locale}" dir="ltr">' in html, name
        if locale != "en":
            title = html[html.index("<title>") : html.index("</title>")]
            english = render.page(name, context, "en")
            assert title != english[english.index("<title>") : english.index("</title>")], name


def test_an_organisers_snippet_renders_with_the_messages_values() -> None:
    # A/B test variants (`domain.ab`) are short templates of a reminder's own values
    shown = render.snippet(
        "{{ time_left }} left: {{ title }}", {"time_left": "1 week", "title": "AI"}
    )
    assert shown == "1 week left: AI"


@pytest.mark.parametrize(
    "source",
    [
        "{{ nope }}",  # an undefined value
        "{% if %}",  # a syntax error
        "{{ title.__class__ }}",  # outside the sandbox
        "{{ 9 ** 9 ** 9 ** 9 ** 9 ** 9 }}",  # a number too large to make
        '{{ "x" * 10 ** 9 }}',  # a text too long to make
    ],
)
def test_a_broken_or_runaway_snippet_is_a_render_error_not_a_hang(source: str) -> None:
    with pytest.raises(render.RenderError):
        render.snippet(source, {"title": "AI"})


@pytest.mark.parametrize(
    "source, named",
    [
        # Nested loops: a thousand million turns within every limit on powers and repeats
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "a statement ({% for %})",
        ),
        # A text that doubles at each step: gigabytes from a short line
        (
            '{{ "xx"|replace("x", "xx")|replace("x", "xx")|replace("x", "xx") }}',
            "the filter replace",
        ),
        ("{% if title %}yes{% endif %}", "a statement ({% if %})"),
        ("{{ range(10) }}", "an expression (call)"),
    ],
)
def test_a_snippet_holds_only_text_and_substitutions(source: str, named: str) -> None:
    with pytest.raises(render.RenderError) as refused:
        render.snippet(source, {"title": "AI"})
    assert named in str(refused.value)
    assert "only text and {{ value }} substitutions" in str(refused.value)
    # And substitutions with simple filters still render
    assert render.snippet("{{ title|upper }} now", {"title": "ai"}) == "AI now"
