"""The policy watch reads a page as a person reads the policy: its text, one block a line,
without the site around it (scripts, navigation, footer, cookie banners), and cut into
sentences in each of the project's languages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from optout.watching.extract import sentences, text_of_html, text_of_markdown

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "watch"


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


# --- HTML -----------------------------------------------------------------------------------


def test_a_policy_page_reads_as_its_policy_one_block_a_line() -> None:
    # Given LinkedIn's privacy page, with its site navigation, cookie banner, scripts and footer
    html = page("linkedin-privacy-before.html")

    # When its text is taken
    text = text_of_html(html)

    # Then what is left is the policy, a heading, paragraph or list item a line
    lines = text.splitlines()
    assert lines[:4] == [
        "Privacy Policy",
        "Effective: September 3, 2025",
        "Last updated: September 1, 2025",
        "1. Introduction",
    ]
    assert "We use your profile data to recommend jobs and connections." in lines
    assert "3. Your Choices & Obligations" in lines
    assert (
        "We use the data that we have about you to provide and personalise our Services. "
        "We may use your data to improve our services."
    ) in lines


def test_scripts_styles_the_sites_navigation_header_and_footer_are_left_out() -> None:
    text = text_of_html(page("linkedin-privacy-before.html"))

    for gone in ("window.__session", "margin-top", "My Network", "Jobs", "User Agreement",
                 "Accessibility", "Privacy Policy | LinkedIn", "LinkedIn Corporation ©"):  # fmt: skip
        assert gone not in text


def test_the_cookie_banner_goes_but_the_policys_own_section_on_cookies_stays() -> None:
    text = text_of_html(page("linkedin-privacy-before.html"))

    assert "non-essential cookies" not in text
    assert "Accept" not in text
    assert "4. Cookies and Similar Technologies" in text
    assert "We use cookies and similar technologies (e.g. pixels and ad tags)" in text


@pytest.mark.parametrize(
    "banner",
    [
        '<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk">{}</div></div>',
        '<div id="CybotCookiebotDialog" role="dialog">{}</div>',
        '<div class="cookie-banner">{}</div>',
        '<div class="cc-window cc-banner" aria-label="cookieconsent">{}</div>',
        '<aside id="consent-modal">{}</aside>',
        '<div class="gdpr-notice" aria-modal="true">{}</div>',
        '<div id="qc-cmp2-container">{}</div>',
        '<div class="cookieBar">{}</div>',
        '<section data-testid="cookie-consent">{}</section>',
    ],
)
def test_cookie_and_consent_banners_are_known_by_their_containers(banner: str) -> None:
    # Given a policy page with a consent banner made the way a common platform makes it
    html = "<main><p>We keep your data for two years.</p>" + banner.format(
        "<p>We use cookies to improve your experience.</p><button>OK</button>"
    ) + "</main>"  # fmt: skip

    # Then the banner is not the policy's text
    assert text_of_html(html) == "We keep your data for two years."


@pytest.mark.parametrize(
    "container",
    [
        '<section id="cookies">{}</section>',
        '<div id="cookie-policy">{}</div>',
        '<section class="policy-section cookies">{}</section>',
        '<section id="consent">{}</section>',
        '<div class="banner">{}</div>',
        '<div id="gdpr-rights">{}</div>',
        '<section id="cookies-and-consent">{}</section>',
        '<div id="cookie-details" hidden="until-found">{}</div>',
    ],
)
def test_a_policy_section_about_cookies_or_consent_is_kept(container: str) -> None:
    # Given a section of the policy whose id or class names its subject (or closed, for the
    # reader to open)
    html = container.format("<p>We use cookies to remember your language.</p>")

    # Then it is read, whatever its subject
    assert text_of_html(html) == "We use cookies to remember your language."


def test_hidden_elements_are_left_out() -> None:
    html = (
        "<p>Shown.</p><p hidden>Hidden.</p><div aria-hidden='true'>Icon</div>"
        '<div style="display: none">Not shown.</div><span style="visibility:hidden">x</span>'
        "<noscript>Enable JavaScript</noscript><template><p>Later</p></template>"
        "<svg><text>Logo</text></svg><form><label>Email</label><input></form>"
    )
    assert text_of_html(html) == "Shown."


def test_blocks_make_lines_and_inline_elements_do_not() -> None:
    html = (
        "<h2>Your <em>rights</em></h2><p>You <strong>can</strong> <a href='/x'>object</a>."
        "<br>New line.</p><ul><li>One</li><li>Two</li></ul>"
        "<table><tr><th>Data</th><td>Use</td></tr></table><div>A<div>B</div>C</div>"
    )
    assert text_of_html(html).splitlines() == [
        "Your rights",
        "You can object.",
        "New line.",
        "One",
        "Two",
        "Data",
        "Use",
        "A",
        "B",
        "C",
    ]


def test_whitespace_is_collapsed_and_entities_decoded() -> None:
    html = "<p>  Caf&eacute;&nbsp;&amp;\n\t data &#8212; the world&rsquo;s &lt;best&gt;  </p>"
    assert text_of_html(html) == "Café & data — the world’s <best>"  # noqa: RUF001


def test_the_charset_comes_from_the_meta_tag_when_the_server_names_none() -> None:
    body = '<meta charset="windows-1252"><p>Données traitées</p>'.encode("cp1252")
    assert text_of_html(body) == "Données traitées"


def test_the_http_equiv_form_of_the_meta_charset_is_read_too() -> None:
    body = (
        '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2">'
        "<p>Dane osobowe są przetwarzane</p>"
    ).encode("iso-8859-2")
    assert text_of_html(body) == "Dane osobowe są przetwarzane"


def test_the_servers_charset_wins_over_the_pages_own() -> None:
    body = '<meta charset="utf-8"><p>Données</p>'.encode("cp1252")
    assert text_of_html(body, encoding="windows-1252") == "Données"


def test_without_a_charset_the_page_is_read_as_utf8_and_bad_bytes_become_a_mark() -> None:
    assert text_of_html("<p>訓練模型</p>".encode()) == "訓練模型"
    assert text_of_html(b"<p>caf\xe9 ok</p>") == "caf\ufffd ok"


def test_an_unknown_charset_is_skipped_not_an_error() -> None:
    body = '<meta charset="rot13"><p>Données</p>'.encode()
    assert text_of_html(body, encoding="no-such-charset") == "Données"


def test_a_byte_order_mark_says_the_encoding() -> None:
    body = "<p>Données</p>".encode("utf-16")  # with its byte order mark
    assert text_of_html(body, encoding="iso-8859-1") == "Données"


def test_malformed_html_still_gives_its_text() -> None:
    html = (
        "<![if !IE]><p>Old browsers<![endif]><div><p>Unclosed paragraph<p>Another"
        "</span></div></div><li>Stray item<div/>After a self-closed div"
    )
    assert text_of_html(html).splitlines() == [
        "Old browsers",
        "Unclosed paragraph",
        "Another",
        "Stray item",
        "After a self-closed div",
    ]


# --- Markdown (Open Terms Archive's versions) -----------------------------------------------


def test_an_open_terms_archive_version_reads_like_the_page() -> None:
    # Given the policy as Open Terms Archive serves a version, in Markdown
    md = page("linkedin-privacy.md")

    # When its text is taken
    lines = text_of_markdown(md).splitlines()

    # Then the marks are gone and each block is a line, as read from the page
    assert lines == [
        "Privacy Policy",
        "Effective: September 3, 2025",
        "1. Introduction",
        "Our mission is to connect the world’s professionals to allow them to be more productive"  # noqa: RUF001
        " and successful. Central to this mission is our commitment to be transparent about the"
        " data we collect about you, how it is used and with whom it is shared.",
        "2. How We Use Your Data",
        "We use the data that we have about you to provide and personalise our Services. We may"
        " use your data to improve our services.",
        "We use your profile data to recommend jobs and connections.",
        "We use your content to show you relevant posts and updates.",
        "3. Your Choices & Obligations",
        "You can access, correct or delete your personal data in your settings. You can opt out"
        " at any time.",
        "Data",
        "Used for",
        "Profile",
        "Job matching",
        "Posts",
        "Feed ranking",
    ]


def test_the_same_policy_from_markdown_and_from_html_has_the_same_sentences() -> None:
    from_page = set(sentences(text_of_html(page("linkedin-privacy-before.html"))))
    from_archive = set(sentences(text_of_markdown(page("linkedin-privacy.md"))))
    assert "You can opt out at any time." in from_page & from_archive
    assert "We may use your data to improve our services." in from_page & from_archive


def test_markdown_marks_inline_are_taken_off() -> None:
    md = (
        "A paragraph with **bold**, __strong__, *em*, _em_, ~~old~~, `code`, "
        '![a logo](logo.png), [a link](https://x.example/a_b "t"), [ref][1] and '
        "<https://linkedin.com>; snake_case_names stay, 3 * 4 stays, \\*escaped\\*.\n"
        "[1]: https://x.example\n"
        "> A quote\n\n"
        "```\nfenced code\n```\n"
        "---\n"
        "1. First\n2) Second\n"
        "# Title #\n"
        "Hard break  \nnext line"
    )
    assert text_of_markdown(md).splitlines() == [
        "A paragraph with bold, strong, em, em, old, code, a logo, a link, ref and "
        "https://linkedin.com; snake_case_names stay, 3 * 4 stays, *escaped*.",
        "A quote",
        "fenced code",
        "First",
        "Second",
        "Title",
        "Hard break",
        "next line",
    ]


# --- Sentences --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "en",
            "We share data with partners, e.g. advertisers, i.e. those you allow. LinkedIn Inc. "
            "is based in the U.S. and owns No. 5 of them. Version 2.5 applies! Does it? Yes.",
            [
                "We share data with partners, e.g. advertisers, i.e. those you allow.",
                "LinkedIn Inc. is based in the U.S. and owns No. 5 of them.",
                "Version 2.5 applies!",
                "Does it?",
                "Yes.",
            ],
        ),
        (
            "de",
            "Stand: 3. November 2025. Wir nutzen z. B. Profildaten bzw. Beiträge. Sie können "
            "widersprechen. Vgl. Art. 21 DSGVO.",
            [
                "Stand: 3. November 2025.",
                "Wir nutzen z. B. Profildaten bzw. Beiträge.",
                "Sie können widersprechen.",
                "Vgl. Art. 21 DSGVO.",
            ],
        ),
        (
            "fr",
            "Nous utilisons vos données, p. ex. vos publications. M. Dupont est notre délégué. "
            "Vous pouvez vous opposer !",
            [
                "Nous utilisons vos données, p. ex. vos publications.",
                "M. Dupont est notre délégué.",
                "Vous pouvez vous opposer !",
            ],
        ),
        (
            "es",
            "Usamos sus datos, p. ej. sus publicaciones. ¿Puede oponerse? ¡Sí! Sr. García lo "
            "confirma.",
            [
                "Usamos sus datos, p. ej. sus publicaciones.",
                "¿Puede oponerse?",
                "¡Sí!",
                "Sr. García lo confirma.",
            ],
        ),
        (
            "it",
            "Usiamo i dati, ad es. i post. Il Dott. Rossi risponde. Può opporsi.",
            ["Usiamo i dati, ad es. i post.", "Il Dott. Rossi risponde.", "Può opporsi."],
        ),
        (
            "nl",
            "We gebruiken gegevens, bijv. berichten. U kunt bezwaar maken.",
            ["We gebruiken gegevens, bijv. berichten.", "U kunt bezwaar maken."],
        ),
        (
            "pl",
            "Używamy danych, np. Twoich postów. Dotyczy to m.in. Kanady. Możesz się sprzeciwić.",
            [
                "Używamy danych, np. Twoich postów.",
                "Dotyczy to m.in. Kanady.",
                "Możesz się sprzeciwić.",
            ],
        ),
        (
            "pt",
            "Usamos os seus dados, conforme o art. 6 do RGPD. O Sr. Silva responde. Pode opor-se.",
            [
                "Usamos os seus dados, conforme o art. 6 do RGPD.",
                "O Sr. Silva responde.",
                "Pode opor-se.",
            ],
        ),
        (
            "sv",
            "Vi använder data, t.ex. inlägg. Det gäller bl.a. Kanada. Du kan invända.",
            ["Vi använder data, t.ex. inlägg.", "Det gäller bl.a. Kanada.", "Du kan invända."],
        ),
        (
            "zh-HK",
            "我們會使用你的資料訓練人工智能模型。你可以選擇退出！這是預設嗎？是的。",  # noqa: RUF001
            ["我們會使用你的資料訓練人工智能模型。", "你可以選擇退出！", "這是預設嗎？", "是的。"],  # noqa: RUF001
        ),
    ],
)
def test_sentences_are_cut_where_a_reader_would_cut_them(
    language: str, text: str, expected: list[str]
) -> None:
    assert sentences(text) == expected, language


def test_a_line_break_always_ends_a_sentence_and_whitespace_is_collapsed() -> None:
    assert sentences("Privacy Policy\n  We   may use\tyour data.  \n\n1. Introduction") == [
        "Privacy Policy",
        "We may use your data.",
        "1. Introduction",
    ]


# --- Hostile shapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "hostile"),
    [
        (text_of_html, "<a " * 40_000),  # html.parser alone: minutes (it rescans for each "<")
        (text_of_html, "<a b='" * 20_000),
        (text_of_html, "<div>" * 40_000 + "</span>" * 40_000),
        (text_of_markdown, "*a " * 40_000),  # unbounded emphasis: minutes
        (text_of_markdown, "[" * 60_000 + "](" * 30_000),
        (sentences, "e.g. a " * 30_000),
    ],
    ids=["unclosed-tags", "unclosed-quotes", "stray-end-tags", "emphasis", "links", "stops"],
)
def test_a_hostile_page_is_read_in_linear_time(read, hostile: str) -> None:  # type: ignore[no-untyped-def]
    # Given a page of 120 KB shaped to make a naive reader rescan it for each mark
    started = time.perf_counter()

    read(hostile)

    # Then it is read in well under a second on a laptop (a quadratic reader takes minutes)
    assert time.perf_counter() - started < 10
