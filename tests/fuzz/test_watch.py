"""The policy watch's text and diff over arbitrary input: any bytes read as a page without an
error, a text compared with itself or with a cosmetic variant of itself is no change, and
whatever is compared, a change always names a sentence added or removed."""

from __future__ import annotations

import html
import json

from hypothesis import given
from hypothesis import strategies as st

from optout.core.errors import InvalidInput
from optout.watching.compare import NOTIFY_AT, compare
from optout.watching.extract import sentences, text_of_html, text_of_markdown
from optout.watching.terms import DEFAULT, Terms
from tests.fuzz.hostile import MARKUP, hostile_text, json_values

CHARSETS = [None, "utf-8", "windows-1252", "iso-8859-2", "utf-16", "shift_jis", "big5",
            "idna", "rot13", "base64", "undefined", "no-such-charset", ""]  # fmt: skip
TAGS = ["<p>", "</p>", "<div hidden>", "</div>", "<nav>", "<script>", "</script>", "<style>",
        "<!--", "-->", "<![CDATA[", "]]>", "<![if !IE]>", "<br/>", "<li>", "<td>", "&amp;",
        "&#x0;", "&#99999999;", '<meta charset="utf-16">', '<div class="cookie-banner">',
        "<svg><text>", "</a", "<a b='", "<?php", "<!DOCTYPE [", "\x00", "\ufeff"]  # fmt: skip

pages = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.sampled_from(TAGS + MARKUP) | st.text(max_size=20), max_size=60).map("".join),
)


@given(body=pages, charset=st.sampled_from(CHARSETS))
def test_any_bytes_read_as_a_page_give_text_without_error(body: bytes | str, charset) -> None:  # type: ignore[no-untyped-def]
    text = text_of_html(body, charset)

    assert isinstance(text, str)
    assert all(line and line == line.strip() for line in text.splitlines())


@given(md=st.one_of(st.text(max_size=400), hostile_text(400)))
def test_any_text_read_as_markdown_gives_text_without_error(md: str) -> None:
    text = text_of_markdown(md)
    assert all(line and line == line.strip() for line in text.splitlines())


@given(text=st.one_of(st.text(max_size=400), hostile_text(400)))
def test_sentences_are_one_line_each_and_never_empty(text: str) -> None:
    for sentence in sentences(text):
        assert sentence and sentence == sentence.strip()
        assert len(sentence.splitlines()) == 1


@given(text=st.one_of(st.text(max_size=400), hostile_text(400)))
def test_a_text_compared_with_itself_is_no_change(text: str) -> None:
    assert compare(text, text, DEFAULT) is None


@given(
    old=st.one_of(st.text(max_size=300), hostile_text(300), pages.map(text_of_html)),
    new=st.one_of(st.text(max_size=300), hostile_text(300), pages.map(text_of_html)),
)
def test_a_change_always_names_a_sentence_added_or_removed(old: str, new: str) -> None:
    change = compare(old, new, DEFAULT)
    if change is None:
        return
    assert change.added or change.removed
    assert set(change.added) <= set(sentences(new))
    assert set(change.removed) <= set(sentences(old))
    found = {
        term for sentence in change.added + change.removed for term in DEFAULT.matched(sentence)
    }
    assert set(change.terms) == found
    assert 0.0 < change.score <= 1.0
    assert change.notify == (change.score >= NOTIFY_AT)


# Documents made of blocks of sentences, to be served twice with what a reader does not see
# changed: whitespace, markup, the order of blocks, tokens, the site around the policy.
VOCABULARY = ["We", "use", "your", "data.", "e.g.", "No.", "5", "Inc.", "AI", "3.", "November",
              "2025.", "You", "can", "opt", "out!", "Why?", "模型。", "(see", "art.", "6)", "1.",
              "«Daten».", "Stand:", "01.09.2025", "©", "2003-2025", "z.", "B.", "IV.", "...", "a"]  # fmt: skip
words = st.sampled_from(VOCABULARY) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=10,
).filter(lambda word: not any(char.isspace() for char in word))
tokens = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda value: value.hex),
    st.binary(min_size=12, max_size=24)
    .map(lambda raw: raw.hex())
    .filter(lambda hex_: not hex_.isdigit() and not hex_.isalpha()),  # as random hex is
    st.integers(10**9, 10**13).map(str),
)
blocks = st.lists(
    st.lists(st.one_of(words, st.just("{token}")), min_size=1, max_size=12).map(" ".join),
    min_size=1,
    max_size=8,
)
spaces = st.lists(st.sampled_from([" ", "  ", "\t", "\n", " \n  ", "\u00a0"]), min_size=40)


def served(document: list[str], fill: list[str], markup: list[int], gaps: list[str]) -> str:
    """`document` as a page: each block in a tag chosen by `markup`, words spread by `gaps`,
    each "{token}" replaced by one of `fill`, and a site (navigation, scripts, a cookie banner)
    around it that shows the token too."""
    wrappers = [("<p>", "</p>"), ("<div class='x'>", "</div>"), ("<ul><li>", "</li></ul>"),
                ("<section id='s'><h2>", "</h2></section>"), ("<table><tr><td>", "</td></tr></table>"),
                ("<div><span>", "</span></div>")]  # fmt: skip
    position = 0
    body = []
    for number, block in enumerate(document):
        text = []
        for word in block.split(" "):
            if word == "{token}":
                word = fill[position % len(fill)]
            text.append(html.escape(word) + gaps[position % len(gaps)].replace("\n", " \n"))
            position += 1
        start, end = wrappers[markup[number % len(markup)] % len(wrappers)]
        body.append(start + "".join(text).strip() + end)
    site = (
        f"<head><meta name='csrf' content='{fill[0]}'><script>var t = '{fill[0]}';</script></head>"
        f"<nav><a href='/?v={fill[0]}'>Home {fill[0]}</a></nav>"
        f"<div class='cookie-banner'>Session {fill[0]} uses cookies.</div>"
    )
    return "<html>" + site + "<main>" + "\n".join(body) + "</main></html>"


@given(
    document=blocks,
    fills=st.tuples(st.lists(tokens, min_size=1, max_size=3), st.lists(tokens, min_size=1, max_size=3)),
    markups=st.tuples(st.lists(st.integers(0, 5), min_size=1), st.lists(st.integers(0, 5), min_size=1)),
    gaps=st.tuples(spaces, spaces),
    order=st.randoms(use_true_random=False),
)  # fmt: skip
def test_a_page_served_again_with_cosmetic_changes_is_no_change(  # type: ignore[no-untyped-def]
    document, fills, markups, gaps, order
) -> None:
    # Given a page, then the same page with other tokens, other markup, other whitespace and
    # its blocks in another order
    old = served(document, fills[0], markups[0], gaps[0])
    shuffled = list(document)
    order.shuffle(shuffled)
    new = served(shuffled, fills[1], markups[1], gaps[1])

    # Then nothing changed
    assert compare(text_of_html(old), text_of_html(new), DEFAULT) is None


@given(
    document=blocks,
    fills=st.tuples(st.lists(tokens, min_size=1, max_size=3), st.lists(tokens, min_size=1, max_size=3)),
    gaps=st.tuples(spaces, spaces),
)  # fmt: skip
def test_a_text_with_other_whitespace_and_tokens_is_no_change(document, fills, gaps) -> None:  # type: ignore[no-untyped-def]
    def text(fill: list[str], gap: list[str]) -> str:
        lines = []
        for number, block in enumerate(document):
            line = block.replace("{token}", fill[number % len(fill)])
            lines.append(line.replace(" ", gap[number % len(gap)].replace("\n", " ")))
        return "\n\n".join(lines)

    assert compare(text(fills[0], gaps[0]), text(fills[1], gaps[1]), DEFAULT) is None


@given(raw=json_values)
def test_any_json_as_an_organisers_terms_is_read_or_refused_with_a_400(raw) -> None:  # type: ignore[no-untyped-def]
    try:
        terms = Terms.parse(raw)
    except InvalidInput as refused:
        assert refused.status == 400
        assert set(refused.problems) == {"terms"}
        return
    assert terms.words
    terms.matched(json.dumps(raw))


@given(
    raw=st.lists(st.one_of(st.text(min_size=1, max_size=60), hostile_text(60)), min_size=1, max_size=20),
    sentence=st.one_of(st.text(max_size=300), hostile_text(300)),
)  # fmt: skip
def test_any_terms_search_any_sentence_without_error(raw: list[str], sentence: str) -> None:
    try:
        terms = Terms.parse(raw)
    except InvalidInput:
        return
    assert set(terms.matched(sentence)) <= set(terms.words)
