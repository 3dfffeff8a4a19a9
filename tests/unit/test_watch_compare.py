"""What the policy watch calls a change: sentences a reader would see added or removed, with the
terms that make it matter and a score. What a reader would not notice (whitespace, markup,
order, rotating tokens, a new "last updated" date, cookie banners, the copyright year) is no
change at all: each such false alarm has its test here, built from the same LinkedIn-like page
as served before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from optout.core.errors import InvalidInput
from optout.watching.compare import NOTIFY_AT, Change, compare, normalise, score
from optout.watching.extract import text_of_html, text_of_markdown
from optout.watching.terms import DEFAULT, DEFAULT_TERMS, MAX_TERMS, Terms

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "watch"
BEFORE = (PAGES / "linkedin-privacy-before.html").read_text(encoding="utf-8")
AFTER = (PAGES / "linkedin-privacy-after.html").read_text(encoding="utf-8")
NEW_USE = (
    "We use your data, including your posts and profile, to train content-generating AI models, "
    "and this setting is on by default."
)


def edited(page: str, *replacements: tuple[str, str]) -> str:
    """`page` with each (old, new) replaced; each old must be there, so no test passes by a
    replacement that silently did nothing."""
    for old, new in replacements:
        assert old in page, old
        page = page.replace(old, new)
    return page


def pages_compared(old: str, new: str) -> Change | None:
    return compare(text_of_html(old), text_of_html(new), DEFAULT)


# --- Real changes ---------------------------------------------------------------------------


def test_the_founding_change_is_found_with_its_sentences_and_terms() -> None:
    # Given LinkedIn's privacy page before and after the November 2025 change (new tokens, new
    # dates and the new data use all at once)
    # When the two are compared
    change = pages_compared(BEFORE, AFTER)

    # Then the one sentence that went and the one that came are the change, as written
    assert change is not None
    assert change.added == (NEW_USE,)
    assert change.removed == ("We may use your data to improve our services.",)
    assert change.terms == ("AI", "train", "model", "default")
    assert change.score >= NOTIFY_AT
    assert change.notify


def test_a_removed_right_to_opt_out_is_found() -> None:
    # Given the page, then the same page without "You can opt out at any time."
    new = edited(BEFORE, (" You can opt out\n          at any time.", ""))

    change = pages_compared(BEFORE, new)

    assert change == Change(
        added=(),
        removed=("You can opt out at any time.",),
        terms=("opt out",),
        score=0.3,
    )
    assert change.notify


def test_a_new_sentence_about_training_ai_is_found() -> None:
    new = edited(
        BEFORE,
        (
            "<li>We use your profile data",
            "<li>We use your data to train generative AI models.</li><li>We use your profile data",
        ),
    )

    change = pages_compared(BEFORE, new)

    assert change is not None
    assert change.added == ("We use your data to train generative AI models.",)
    assert change.removed == ()
    assert change.terms == ("AI", "train", "model", "generative")
    assert change.score == 1.0


def test_the_founding_change_is_found_in_open_terms_archive_versions_too() -> None:
    old = (PAGES / "linkedin-privacy.md").read_text(encoding="utf-8")
    new = edited(
        old,
        ("September 3, 2025", "November 3, 2025"),
        ("We may use your data to improve our services.", NEW_USE),
    )

    change = compare(text_of_markdown(old), text_of_markdown(new), DEFAULT)

    assert change is not None
    assert (change.added, change.removed) == (
        (NEW_USE,),
        ("We may use your data to improve our services.",),
    )


def test_a_date_in_a_real_new_sentence_is_a_change() -> None:
    new = edited(
        BEFORE,
        (
            "<p>Where we rely",
            "<p>From November 3, 2025, we will use your posts to train AI models.</p>"
            "<p>Where we rely",
        ),
    )

    change = pages_compared(BEFORE, new)

    assert change is not None
    assert change.added == ("From November 3, 2025, we will use your posts to train AI models.",)


def test_a_change_without_any_term_is_recorded_but_does_not_notify() -> None:
    # Given the contact address moves
    new = edited(BEFORE, ("Wilton Plaza, Dublin 2", "Grand Canal Dock, Dublin 4"))

    change = pages_compared(BEFORE, new)

    assert change is not None
    assert len(change.added) == len(change.removed) == 1
    assert change.terms == ()
    assert change.score < NOTIFY_AT
    assert not change.notify


def test_the_change_shows_sentences_as_written_not_their_keys() -> None:
    old = "Last updated: 1 Sept 2025\nWe may use your data to improve our services."
    new = "Last updated: 3 Nov 2025\nWe  train “AI” models — on by default!"

    change = compare(old, new, DEFAULT)

    assert change is not None
    assert change.added == ("We train “AI” models — on by default!",)


# --- No false alarms ------------------------------------------------------------------------


def test_the_same_page_fetched_twice_is_no_change() -> None:
    assert pages_compared(BEFORE, BEFORE) is None


def test_whitespace_and_line_breaks_are_no_change() -> None:
    # Given the page served minified: no indentation, no line breaks, paragraphs on one line
    minified = " ".join(BEFORE.split()).replace("> <", "><")
    # and served with every space doubled and lines broken elsewhere inside paragraphs
    spread = edited(BEFORE, ("We use the data that", "We  use\n\n   the\tdata that"))

    assert pages_compared(BEFORE, minified) is None
    assert pages_compared(BEFORE, spread) is None


def test_markup_alone_is_no_change() -> None:
    # Given the same text in other markup: paragraphs made divs, words wrapped in spans and
    # emphasis, classes renamed, a list item's text in a link, sections unwrapped
    new = edited(
        BEFORE,
        ('<section id="choices">', '<div class="policy-block" data-v="2">'),
        ("of your data.</p>\n      </section>", "of your data.</p>\n      </div>"),
        ("<p>You can access,", '<div class="para"><span class="lead">You</span> can access,'),
        ("at any time.</p>", "at <strong>any</strong> time.</div>"),
        (
            "<li>We use your profile data to recommend jobs and connections.</li>",
            '<li><a href="/jobs">We use your <em>profile data</em> to recommend jobs</a> and'
            " connections.</li>",
        ),
        ('class="legal-document"', 'class="legal-document legal-document--v2"'),
    )

    assert pages_compared(BEFORE, new) is None


def test_navigation_reordered_or_rewritten_is_no_change() -> None:
    new = edited(
        BEFORE,
        (
            '<li><a href="/feed/">Home</a></li>\n        <li><a href="/mynetwork/">My Network</a></li>',
            '<li><a href="/mynetwork/">My Network</a></li>\n        <li><a href="/feed/">Home</a></li>'
            '<li><a href="/premium/">Try Premium for free</a></li>',
        ),
        (
            '<li><a href="/legal/user-agreement">User Agreement</a></li>',
            '<li><a href="/legal/community">Community Policies</a></li>',
        ),
    )

    assert pages_compared(BEFORE, new) is None


def test_sections_in_another_order_are_no_change() -> None:
    # Given the cookies section moved above "Your choices"
    cookies = BEFORE[
        BEFORE.index('<section id="cookies">') : BEFORE.index('<section id="contact">')
    ]
    new = edited(
        BEFORE, (cookies, ""), ('<section id="choices">', cookies + '<section id="choices">')
    )

    assert pages_compared(BEFORE, new) is None


def test_a_sentence_moved_to_another_paragraph_is_not_added_and_removed() -> None:
    new = edited(
        BEFORE,
        (" You can opt out\n          at any time.", ""),
        ("of your data.</p>", "of your data. You can opt out at any time.</p>"),
    )

    assert pages_compared(BEFORE, new) is None


def test_rotating_tokens_are_no_change() -> None:
    # Given a CSRF token, a script nonce, a session UUID, hashed asset names and a visible page
    # reference, all different on the next fetch
    new = edited(
        BEFORE,
        ("ajax:4821937465012837465", "ajax:1122334455667788990"),
        ("b2YyZjM4YzE0ZTdhNGQ5", "NWE3YzFkOWUzZjJiNGE4"),
        ("8c1e0a4f-5b7d-4e2a-9f3c-1d2e3f4a5b6c", "d4c3b2a1-0f9e-4d8c-b7a6-5f4e3d2c1b0a"),
        ("legal.3f9a8c2e7b1d4a60.css", "legal.7c2e9a1f3b5d8e40.css"),
        ("app.8f2c1d9e4b7a6f3c.js", "app.0a1b2c3d4e5f6a7b.js"),
        ("Page reference: 9b2f4c1e8a7d6b5c", "Page reference: 4e6a8c0b2d4f6a8c"),
    )

    assert pages_compared(BEFORE, new) is None


@pytest.mark.parametrize(
    "token",
    [
        "3f2a9c1e-1b2c-4d5e-8f90-1234567890ab",  # a UUID
        "9f86d081884c7d659a2feaa0c55ad015",  # hex: an MD5
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dGhpcyBpcyBhIG5vbmNlIDEyMzQ1Njc4OQ==",  # base64
        "1764148800123",  # a timestamp in milliseconds
    ],
)
def test_any_random_looking_string_in_a_sentence_is_the_same_token(token: str) -> None:
    assert normalise(f"Your session {token} is active.") == normalise(
        "Your session 0a1b2c3d4e5f60718293a4b5c6d7e8f9 is active."
    )


def test_words_and_short_numbers_are_not_taken_for_tokens() -> None:
    assert normalise("Call us at 555-0100 about GDPR art. 21.") != normalise(
        "Call us at 555-0199 about GDPR art. 22."
    )
    assert normalise("See internationalisation-guidelines for details.") != normalise(
        "See accessibility-guidelines-onboard for details."
    )


@pytest.mark.parametrize(
    ("language", "before", "after"),
    [
        ("en", "Last updated: September 1, 2025", "Last updated: November 3, 2025"),
        ("en", "Effective date: 1 Sept 2025", "Effective date: 3rd of November, 2025"),
        ("de", "Stand: 1. September 2025", "Stand: 3. November 2025"),
        ("de", "Zuletzt aktualisiert am 01.09.2025", "Zuletzt aktualisiert am 03.11.2025"),
        ("fr", "Dernière mise à jour : 1er septembre 2025", "Dernière mise à jour : 3 novembre 2025"),
        ("fr-CA", "Date d'entrée en vigueur : 2025-09-01", "Date d'entrée en vigueur : 2025-11-03"),
        ("es", "Última actualización: 1 de septiembre de 2025", "Última actualización: 3 de noviembre de 2025"),
        ("it", "Ultimo aggiornamento: 1 settembre 2025", "Ultimo aggiornamento: 3 novembre 2025"),
        ("nl", "Laatst bijgewerkt: 1 september 2025", "Laatst bijgewerkt: 3 november 2025"),
        ("pl", "Ostatnia aktualizacja: 1 września 2025 r.", "Ostatnia aktualizacja: 3 listopada 2025 r."),
        ("pt", "Última atualização: 1 de setembro de 2025", "Última atualização: 3 de novembro de 2025"),
        ("sv", "Senast uppdaterad: 1 september 2025", "Senast uppdaterad: 3 november 2025"),
        ("zh-HK", "最後更新：2025年9月1日", "最後更新：2025年11月3日"),  # noqa: RUF001
        ("en", "Effective Monday, September 1, 2025 at 9:00 AM UTC", "Effective Monday, November 3, 2025 at 10:30 AM UTC"),
    ],
)  # fmt: skip
def test_a_last_updated_line_whose_date_alone_changed_is_no_change(
    language: str, before: str, after: str
) -> None:
    # Given the policy, dated, then the same policy dated later
    policy = "\nWe may use your data to improve our services."

    assert compare(before + policy, after + policy, DEFAULT) is None, language


def test_a_new_last_updated_date_on_the_page_is_no_change() -> None:
    new = edited(
        BEFORE,
        ("Effective: September 3, 2025", "Effective: November 3, 2025"),
        ("Last updated: September 1, 2025", "Last updated: October 1, 2025"),
    )

    assert pages_compared(BEFORE, new) is None


def test_a_cookie_banner_changed_added_or_gone_is_no_change() -> None:
    # Given the page with its cookie banner reworded, then with a second consent platform's
    # banner added, then without any banner
    reworded = edited(
        BEFORE,
        ("to show you relevant ads.", "to show you relevant ads, on and off LinkedIn. We and our 142 partners train models."),
        ("<button type=\"button\">Reject</button>", "<button type=\"button\">Manage preferences</button>"),
    )  # fmt: skip
    with_onetrust = edited(
        BEFORE,
        (
            "<main",
            '<div id="onetrust-consent-sdk"><div id="onetrust-policy-text">We process your data'
            " with legitimate interest. You can object at any time.</div></div><main",
        ),
    )
    banner = BEFORE[BEFORE.index("<section class") : BEFORE.index('<header class="global-nav">')]
    without = edited(BEFORE, (banner, ""))

    assert pages_compared(BEFORE, reworded) is None
    assert pages_compared(BEFORE, with_onetrust) is None
    assert pages_compared(BEFORE, without) is None


def test_a_new_copyright_year_is_no_change() -> None:
    # Given a new year in the footer, and in the copyright line outside it
    new = edited(
        BEFORE,
        ("LinkedIn Corporation &copy; 2025", "LinkedIn Corporation &copy; 2026"),
        ("&copy; 2003-2025 LinkedIn Corporation", "&copy; 2003&ndash;2026 LinkedIn Corporation"),
    )

    assert pages_compared(BEFORE, new) is None


def test_a_sentence_repeated_or_repeated_less_is_no_change() -> None:
    assert compare("Learn more.\nYou can opt out.", "Learn more.\nLearn more.\nYou can opt out.", DEFAULT) is None  # fmt: skip


def test_punctuation_that_reads_the_same_is_no_change() -> None:
    old = "LinkedIn's “Data for Generative AI Improvement” setting - on by default."
    new = 'LinkedIn’s "Data for Generative AI Improvement" setting — on by default'  # noqa: RUF001
    assert compare(old, new, DEFAULT) is None


def test_all_cosmetic_changes_at_once_are_no_change() -> None:
    cookies = BEFORE[
        BEFORE.index('<section id="cookies">') : BEFORE.index('<section id="contact">')
    ]
    new = edited(
        BEFORE,
        ("ajax:4821937465012837465", "ajax:1122334455667788990"),
        ("Page reference: 9b2f4c1e8a7d6b5c", "Page reference: 4e6a8c0b2d4f6a8c"),
        ("Last updated: September 1, 2025", "Last updated: October 1, 2025"),
        ("Learn more in our Cookie Policy.", "Read our Cookie Policy."),
        ("&copy; 2003-2025", "&copy; 2003-2026"),
        (cookies, ""),
        ('<section id="choices">', cookies + '<section id="choices">'),
    )

    assert pages_compared(BEFORE, " ".join(new.split())) is None


def test_garbage_and_empty_pages_are_no_change_from_each_other() -> None:
    assert compare("", "", DEFAULT) is None
    assert compare("", "12345 \ufffd\ufffd ---", DEFAULT) is None
    assert compare("8c1e0a4f-5b7d-4e2a-9f3c-1d2e3f4a5b6c", "", DEFAULT) is None


# --- The score ------------------------------------------------------------------------------


def test_one_term_in_one_changed_sentence_reaches_the_threshold() -> None:
    assert score(changed=1, terms=1) >= NOTIFY_AT


def test_without_terms_it_takes_a_rewritten_section_to_notify() -> None:
    assert score(changed=5, terms=0) < NOTIFY_AT
    assert score(changed=6, terms=0) >= NOTIFY_AT


def test_the_score_grows_with_terms_most_and_stops_at_one() -> None:
    assert score(changed=1, terms=2) > score(changed=3, terms=1) > score(changed=3, terms=0)
    assert score(changed=40, terms=9) == 1.0


# --- Terms ----------------------------------------------------------------------------------


def test_ai_is_a_whole_word_in_capitals() -> None:
    terms = Terms.of(["AI"])

    assert terms.matched("We build AI-powered features.") == ("AI",)
    assert terms.matched("領英用會員資料訓練AI模型。") == ("AI",)
    assert terms.matched("He said the train was late.") == ()
    assert terms.matched("Ai sensi dell'articolo 6, i dati ai fornitori.") == ()  # Italian "ai"


def test_a_term_finds_its_inflections_that_start_with_it() -> None:
    terms = Terms.of(["train", "model", "legitimate interest", "opt out"])

    assert terms.matched("Models trained on posts") == ("train", "model")
    assert terms.matched("Training data") == ("train",)
    assert terms.matched("our legitimate interests") == ("legitimate interest",)
    assert terms.matched("You may opt-out.") == ("opt out",)
    assert terms.matched("A modest strain") == ()


def test_accents_and_case_do_not_matter_outside_acronyms() -> None:
    terms = Terms.of(["entraînement", "künstliche Intelligenz"])

    assert terms.matched("L'ENTRAINEMENT des modèles") == ("entraînement",)
    assert terms.matched("Künstliche Intelligenz (KI)") == ("künstliche Intelligenz",)


def test_chinese_terms_are_found_inside_sentences() -> None:
    sentence = "領英將使用會員資料訓練生成式人工智能模型，預設為開啟。"  # noqa: RUF001
    assert set(DEFAULT.matched(sentence)) == {"訓練", "生成式", "人工智能", "模型", "預設"}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("We use your data to train generative AI models by default.", {"AI", "train", "model", "default", "generative"}),
        ("Wir verwenden Ihre Daten zum Training von KI-Modellen; Sie können widersprechen.", {"KI", "Training", "Modell", "widersprechen"}),
        ("Nous utilisons vos données pour entraîner l'IA, activé par défaut.", {"IA", "entraîner", "par défaut"}),
        ("Usamos sus datos para entrenar modelos de IA; puede oponerse.", {"IA", "entrenar", "modelo", "oponerse"}),
        ("Usiamo i dati per l'addestramento dei modelli di IA.", {"IA", "addestramento", "modelli"}),
        ("We gebruiken uw gegevens om AI-modellen te trainen.", {"AI", "Modell", "trainen"}),
        ("Używamy danych do trenowania modeli SI; możesz wnieść sprzeciw.", {"SI", "trenowania", "model", "sprzeciw"}),
        ("Usamos os seus dados para treinar modelos de IA com base no interesse legítimo.", {"IA", "treinar", "modelo", "interesse legítimo"}),
        ("Vi använder data för att träna AI-modeller som standard.", {"AI", "träna", "Modell", "som standard"}),
    ],
)  # fmt: skip
def test_the_default_terms_speak_the_projects_languages(sentence: str, expected: set[str]) -> None:
    assert expected <= set(DEFAULT.matched(sentence))


def test_the_default_terms_hold_the_issues_list() -> None:
    for term in ("AI", "artificial intelligence", "machine learning", "train", "model", "default",
                 "opt out", "legitimate interest", "KI", "IA", "人工智能"):  # fmt: skip
        assert term in DEFAULT_TERMS
    assert len(DEFAULT.words) <= MAX_TERMS


def test_an_organisers_list_is_read_trimmed_and_without_repeats() -> None:
    terms = Terms.parse(["  AI ", "train", "Train", "opt   out"])
    assert terms.words == ("AI", "train", "opt out")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "give at least one term"),
        (["AI", ""], "term 2 is empty"),
        (["AI", "   "], "term 2 is empty"),
        (["x" * 61], "term 1 is longer than 60 characters"),
        (["AI", 7, None], "term 2 is not text; term 3 is not text"),
        (["ok"] * 201, "at most 200 terms, not 201"),
        ("AI, train", "must be a list of words or phrases"),
        (["AI\x00"], "term 1 holds control characters"),
        (["2025"], "term 1 has no letter"),
    ],
)
def test_a_bad_list_from_organisers_is_refused_naming_each_problem(
    raw: object, problem: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        Terms.parse(raw)

    assert refused.value.status == 400
    assert refused.value.problems == {"terms": problem}
