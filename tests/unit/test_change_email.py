"""The organisers' email about a change a watch found, as an organiser reads it."""

from __future__ import annotations

from typing import Any

from optout.messages.changes import MAX_CHARACTERS, MAX_SENTENCES, change_email

DASHBOARD = "https://optout.example.org/admin"


def change(**changes: object) -> dict[str, Any]:
    return {
        "change_id": "20251103090000-linkedin-privacy",
        "watch_id": "linkedin-privacy",
        "platform": "linkedin",  # the slug, as a watch keeps it
        "title": "Privacy Policy",
        "about": "policy",
        "detected_at": "2025-11-03T09:00:00Z",
        "added": ("We may use your posts to train AI models.",),
        "removed": ("You can opt out at any time.",),
        "terms": ("AI", "train", "opt out"),
        "score": 0.8,
        "source_url": "https://www.linkedin.com/legal/privacy-policy",
        "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
        **changes,
    }


def test_the_subject_names_the_platform_and_what_changed() -> None:
    subject, _, _ = change_email(change(), DASHBOARD)

    assert subject == "Policy watch: LinkedIn changed its policy: Privacy Policy"


def test_a_settings_page_is_named_as_one() -> None:
    subject, _, _ = change_email(
        change(about="setting", title="Data for AI improvement"), DASHBOARD
    )

    assert subject == "Policy watch: LinkedIn changed a settings page: Data for AI improvement"


def test_a_line_break_in_a_title_does_not_reach_the_subject() -> None:
    subject, _, _ = change_email(change(title="Privacy\r\nBcc: someone@example.com"), DASHBOARD)

    assert "\n" not in subject and "\r" not in subject


def test_both_parts_show_the_sentences_added_and_removed_the_terms_and_the_score() -> None:
    _, text, html = change_email(change(), DASHBOARD)

    assert "+ We may use your posts to train AI models." in text
    assert "- You can opt out at any time." in text
    assert "Terms found: AI, train, opt out" in text
    assert "Score 0.80" in text
    assert "Detected 2025-11-03 09:00 UTC" in text
    for part in (text, html):
        assert "We may use your posts to train AI models." in part
        assert "You can opt out at any time." in part


def test_both_parts_link_to_the_change_page_the_source_and_the_setting() -> None:
    _, text, html = change_email(change(), DASHBOARD + "/")

    for part in (text, html):
        assert f"{DASHBOARD}/changes/20251103090000-linkedin-privacy" in part
        assert "https://www.linkedin.com/legal/privacy-policy" in part
        assert "data-for-ai-improvement" in part
        assert f"{DASHBOARD}/watches/linkedin-privacy" in part


def test_no_setting_line_when_the_watch_has_no_setting_url() -> None:
    _, text, html = change_email(change(setting_url=""), DASHBOARD)

    assert "The setting people change" not in text
    assert "The setting people change" not in html


def test_a_change_with_nothing_removed_shows_no_empty_list() -> None:
    _, text, html = change_email(change(removed=(), terms=()), DASHBOARD)

    assert "Removed" not in text and "Removed" not in html
    assert "Terms found: none" in text


def test_markup_in_a_sentence_from_the_page_is_shown_not_run() -> None:
    # Given a watched page whose new sentence holds markup
    sentence = 'Read <script>alert("x")</script> and <a href="https://evil.example">this</a>.'
    _, text, html = change_email(change(added=(sentence,), title="<b>Policy</b>"), DASHBOARD)

    # Then the HTML part shows it as text, and the plain-text part as written
    assert "<script>" not in html and 'evil.example">' not in html and "<b>Policy" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Policy&lt;/b&gt;" in html
    assert f"+ {sentence}" in text


def test_a_long_list_shows_the_first_sentences_and_how_many_more_are_on_the_dashboard() -> None:
    added = tuple(f"New sentence number {n} about AI." for n in range(MAX_SENTENCES + 3))
    removed = tuple(f"Old sentence number {n}." for n in range(MAX_SENTENCES + 1))

    _, text, html = change_email(change(added=added, removed=removed), DASHBOARD)

    assert f"Added ({MAX_SENTENCES + 3}):" in text
    assert f"New sentence number {MAX_SENTENCES - 1} about AI." in text
    assert f"New sentence number {MAX_SENTENCES} about AI." not in text
    assert "... and 3 more, on the change page" in text
    assert "... and 1 more, on the change page" in text
    assert f"New sentence number {MAX_SENTENCES} about AI." not in html
    assert "3 more</a>, on the change page" in html
    assert "1 more</a>, on the change page" in html


def test_a_list_that_fits_says_nothing_of_more() -> None:
    added = tuple(f"New sentence number {n}." for n in range(MAX_SENTENCES))

    _, text, html = change_email(change(added=added), DASHBOARD)

    assert "more, on the change page" not in text and "more</a>" not in html


def test_a_sentence_as_long_as_a_page_is_cut() -> None:
    endless = "We may use your data " * 200

    _, text, _ = change_email(change(added=(endless,)), DASHBOARD)

    [line] = [line for line in text.splitlines() if line.startswith("+ ")]
    assert len(line) == len("+ ") + MAX_CHARACTERS
    assert line.endswith("…")
