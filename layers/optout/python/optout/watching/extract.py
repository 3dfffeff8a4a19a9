"""What a source served, as text: an HTML page or an Open Terms Archive version (Markdown) made
into one block a line, and text into sentences. Pure: no network, no AWS.

The text is what a person reading the page would read as the policy: scripts, styles, the
site's navigation, header and footer, forms, hidden elements and cookie banners are left out,
so that what `optout.watching.compare` sees change is the policy, not the page around it.

Python's own `html.parser` is enough here (and adds no dependency to the layer): text is all
we take, so a tolerant tokenizer and a stack of open elements do what a full HTML5 tree
builder would, for the pages this watches.
"""

from __future__ import annotations

import codecs
import html
import re
from html.parser import HTMLParser
from itertools import pairwise

# Elements whose content is never the policy's text: code, the site's furniture, controls.
_DROPPED = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "textarea",
        "iframe",
        "object",
        "canvas",
        "title",
    }
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
# Where a line ends: the start and the end of each of these.
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)

# Cookie and consent banners are recognised by the attributes of their container (id, class,
# role, aria-label, test ids), never by their text: a privacy policy's own section about
# cookies (`<section id="cookies">`) says "cookie" too, and must stay. A container is a banner
# when its attributes name a consent-management platform, or name the topic (cookie, consent,
# GDPR) twice in a row ("cookie-consent", "cookieconsent", but not "cookies-and-consent") or
# with a word for a pop-up ("cookie-banner", "consent-modal", role="dialog"). "banner" alone is not enough: a page's announcement banner
# may be the policy's own "we are changing our policy" notice.
_CONSENT_PLATFORMS = (
    "onetrust",
    "optanon",
    "ot-sdk",
    "cookiebot",
    "cybot",
    "didomi",
    "usercentrics",
    "trustarc",
    "truste",
    "cookieyes",
    "iubenda",
    "osano",
    "termly",
    "cookielaw",
    "cookie-law",
    "quantcast",
    "qc-cmp",
    "sourcepoint",
    "sp_message",
    "borlabs",
    "complianz",
    "cmplz",
    "klaro",
    "tarteaucitron",
    "axeptio",
    "consentmanager",
    "cookiefirst",
    "cookiehub",
    "cookie-script",
)
_TOPICS = ("cookie", "consent", "gdpr")
_POP_UPS = frozenset(
    {
        "banner",
        "bar",
        "notice",
        "notification",
        "popup",
        "pop",
        "modal",
        "dialog",
        "alertdialog",
        "alert",
        "overlay",
        "prompt",
        "wall",
        "message",
        "msg",
        "layer",
        "toast",
        "snackbar",
        "drawer",
        "flyout",
        "lightbox",
    }
)
_NAMING_ATTRIBUTES = (
    "id",
    "class",
    "role",
    "aria-label",
    "aria-labelledby",
    "aria-describedby",
    "data-testid",
    "data-test-id",
    "name",
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WHITESPACE = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Characters that show nothing: the same text with or without them is the same text.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))


def is_banner(attrs: list[tuple[str, str | None]]) -> bool:
    """Whether an element with these attributes is a cookie or consent banner (see above)."""
    values = {name: value or "" for name, value in attrs}
    named = " ".join(values.get(name, "") for name in _NAMING_ATTRIBUTES)
    lowered = named.lower()
    if any(platform in lowered for platform in _CONSENT_PLATFORMS):
        return True
    words = [word for word in re.split(r"[^a-z0-9]+", _CAMEL.sub(" ", named).lower()) if word]
    if values.get("role", "").strip().lower() == "banner":
        return True  # the page's header landmark: the site's, not the policy's
    if any(word == "cmp" or re.fullmatch(r"cmp\d+", word) for word in words):
        return True
    topics = [sum(topic in word for topic in _TOPICS) for word in words]
    if not any(topics):
        return False
    if any(count >= 2 for count in topics) or any(map(min, pairwise(topics))):
        return True  # "cookieconsent", "cookie-consent", "consent_cookie"
    pop_up = (
        any(
            word in _POP_UPS
            or any(topic in word and pop in word for topic in _TOPICS for pop in _POP_UPS)
            for word in words
        )
        or values.get("aria-modal", "").lower() == "true"
    )
    return pop_up


def _hidden(attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name == "hidden" and (value or "").strip().lower() != "until-found":
            return True  # "until-found" is a closed section the reader can open: it stays
        if name == "aria-hidden" and (value or "").strip().lower() == "true":
            return True
        if name == "style" and value and _HIDDEN_STYLE.search(value):
            return True
    return False


class _TextParser(HTMLParser):
    """Collects the readable text, with a line break at each block's start and end.

    Open elements are kept on a stack, and an end tag closes the nearest open element of its
    name and those opened inside it, as browsers do with misnested tags; an end tag that
    matches nothing open is ignored. Text inside any dropped element is not kept.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open: list[tuple[str, bool]] = []
        self.open_count: dict[str, int] = {}  # so a stray end tag costs nothing to ignore
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag in _VOID:
            return
        dropped = tag in _DROPPED or _hidden(attrs) or is_banner(attrs)
        self.open.append((tag, dropped))
        self.open_count[tag] = self.open_count.get(tag, 0) + 1
        self.dropping += dropped

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<div/>`: taken as opened and closed, so a stray slash never hides the rest.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if not self.open_count.get(tag):
            return
        while self.open:
            closed, dropped = self.open.pop()
            self.open_count[closed] -= 1
            self.dropping -= dropped
            if closed == tag:
                return

    def handle_data(self, data: str) -> None:
        if not self.dropping:  # a line break in the source is a space on the page
            self.parts.append(_WHITESPACE.sub(" ", data))


_DECLARATION = re.compile(r"<!(?!--)[^>]*>?")
_TAG = re.compile(r"<[^>]*>")


def _parsed(page: str) -> str:
    # After the last ">", a "<" can open no tag: html.parser reads it as text, but only after
    # rescanning the rest of the page for each one (a page of "<a <a <a..." takes minutes).
    # Said to be text first, it reads the same, at once.
    last = page.rfind(">") + 1
    page = page[:last] + page[last:].replace("<", "&lt;")
    parser = _TextParser()
    try:
        parser.feed(page)
        parser.close()
    except AssertionError:
        # html.parser gives up on some malformed declarations (`<![if ...]>`, `<!DOCTYPE [`):
        # read the page again without any, and as a last resort strip the tags.
        if _DECLARATION.search(page):
            return _parsed(_DECLARATION.sub("", page))
        return html.unescape(_TAG.sub("\n", page))
    return "".join(parser.parts)


def lines_of(text: str) -> str:
    """`text` one block a line: whitespace runs made one space, invisible characters and
    empty lines dropped."""
    kept = (" ".join(line.translate(_INVISIBLE).split()) for line in text.splitlines())
    return "\n".join(line for line in kept if line)


_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# What HTML means by these labels (the WHATWG Encoding standard): Latin-1 and ASCII are read as
# windows-1252, and a UTF-16 label found by an ASCII-compatible read cannot be true.
_LATIN = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_IN_META = {**_LATIN, "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8"}


def decode(body: bytes | str, encoding: str | None = None) -> str:
    """The page's text as characters: by its byte order mark if it has one, else the charset
    the server named (`encoding`), else its `<meta charset>` (either form), else UTF-8. Bytes
    that do not decode become U+FFFD, and an unknown charset is skipped, never an error."""
    if isinstance(body, str):
        return body
    meta = _META_CHARSET.search(body[:4096])
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, errors="replace")
    declared = [(encoding or "", _LATIN), (meta.group(1).decode("ascii") if meta else "", _IN_META)]
    for candidate, meaning in declared:
        label = candidate.strip().lower()
        if not label:
            continue
        try:
            return body.decode(meaning.get(label, label), errors="replace")
        except (LookupError, UnicodeError, ValueError):
            continue
    return body.decode("utf-8", errors="replace")


def text_of_html(body: bytes | str, encoding: str | None = None) -> str:
    """The readable text of an HTML page, one block (paragraph, list item, heading, table
    cell...) a line, whitespace collapsed and character references decoded.

    Left out: scripts, styles, `noscript`, `template`, SVG, the site's `nav`, `header`,
    `footer` and `aside`, forms and their controls, elements `hidden`, `aria-hidden` or styled
    `display: none`, and cookie or consent banners (see `is_banner`). `encoding` is the charset
    the server named, if any (see `decode`).
    """
    return lines_of(_parsed(decode(body, encoding)))


# Inline marks are looked for within a bounded reach (500 characters of emphasis, 2000 of a
# link's address): an unclosed mark then costs a bounded scan, never one to the end of the text.
# Markdown, as Open Terms Archive serves versions (written from HTML by a converter): the
# structure marks are taken off and each block kept on its own line, as `text_of_html` would
# have read the same page.
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_RULE = re.compile(r"^\s{0,3}([-*_=])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s+|$)")
_CLOSING_HASHES = re.compile(r"\s+#+\s*$")
_QUOTE = re.compile(r"^\s{0,3}(>\s?)+")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d{1,9}[.)])\s+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S")
_IMAGE = re.compile(r"!\[([^\]]{0,500})\]\([^)]{0,2000}\)")
_LINK = re.compile(r"\[([^\]]{0,500})\](\([^)]{0,2000}\)|\[[^\]]{0,500}\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]{1,2000})>")
_INLINE_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")
_CODE = re.compile(r"`+([^`]{0,2000})`+")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.{1,500}?)(?<=\S)\1")
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?=\S)(.{1,500}?)(?<=\S)\*(?!\*)|(?<!\w)_(?=\S)(.{1,500}?)(?<=\S)_(?!\w)"
)
_STRIKE = re.compile(r"~~(?=\S)(.{1,500}?)(?<=\S)~~")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_HARD_BREAK = re.compile(r"(\\| {2,})$")


_HELD = re.compile("[\ue100-\ue17f]")


def _inline(text: str) -> str:
    # An escaped mark is held aside (as a private-use character) so no rule below reads it.
    text = _ESCAPE.sub(lambda found: chr(0xE100 + ord(found.group(1))), text)
    text = _CODE.sub(r"\1", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _INLINE_HTML.sub("", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(lambda found: found.group(1) or found.group(2) or "", text)
    text = _STRIKE.sub(r"\1", text)
    return html.unescape(_HELD.sub(lambda held: chr(ord(held.group(0)) - 0xE100), text))


def text_of_markdown(md: str) -> str:
    """The text of a Markdown document, one block a line, as `text_of_html` reads a page:
    headings without their `#`, links and images as their text, emphasis and code marks,
    list markers, quote marks and tables' pipes taken off (a table cell a line), code fences,
    rules and link reference definitions dropped. A paragraph's lines make one line."""
    blocks: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(" ".join(paragraph))
            paragraph.clear()

    for raw in md.splitlines():
        if _FENCE.match(raw):
            flush()  # the fence goes; what it holds stays, a line each
            continue
        if not raw.strip():
            flush()
            continue
        if (
            _RULE.match(raw)
            or _REFERENCE.match(raw)
            or (_TABLE_SEPARATOR.match(raw) and "-" in raw)
        ):
            flush()  # also a setext heading's underline: the heading above is its own line
            continue
        line = _QUOTE.sub("", raw)
        hard_break = bool(_HARD_BREAK.search(line))
        if _HEADING.match(line):
            flush()
            blocks.append(_inline(_CLOSING_HASHES.sub("", _HEADING.sub("", line))))
            continue
        if line.lstrip().startswith("|") or (line.rstrip().endswith("|") and "|" in line[:-1]):
            flush()
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            blocks += [_inline(cell.replace("\\|", "|")) for cell in cells]
            continue
        if _LIST_ITEM.match(line):
            flush()
            line = _LIST_ITEM.sub("", line)
        paragraph.append(_inline(_HARD_BREAK.sub("", line)))
        if hard_break:
            flush()
    flush()
    return lines_of("\n".join(blocks))


# Sentences. A sentence ends at ., ! or ? (and … or several of them) followed by a space, then a
# capital or an opening quote; or at the CJK full stop, ! and ? with no space needed. It
# does not end after an abbreviation (e.g., i.e., Inc., z. B., p. ex., m.in., t.ex.), a single
# letter (an initial, "z."), a number alone at the start ("1. Introduction"), an ordinal day
# before a month ("3. November"), or before a lower-case word or a digit ("No. 5", "ca. 3").
_ABBREVIATIONS = frozenset(
    """
    e.g i.e cf vs viz approx incl excl dept nr nº n.º art arts sec secs para paras
    p pp vol vols fig figs ch ed eds inc ltd co corp llc plc bros mr mrs ms mx dr prof st sr jr
    rev gen gov jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.u
    z.b d.h u.a bzw ca vgl gem ggf evtl inkl zzgl abs bspw sog z.t u.u hr fr str mio mrd
    p.ex ex c.-à-d c.à.d mme mlle mm env resp av janv févr avr juil déc
    p.ej ej sra srta dra núm aprox pág págs s.a s.l ud uds vd vds ee.uu
    sig sigg dott dott.ssa pag s.p.a s.r.l
    bv b.v bijv o.a m.b.t d.w.z dhr mevr evt
    np tj tzn m.in ul ust pkt sp z.o.o tzw wg
    ltda v.g
    t.ex bl.a d.v.s dvs s.k fr.o.m t.o.m jfr ev kr exkl
    """.split()  # noqa: SIM905 (a list to read, not to format)
)
_MONTHS_AFTER_ORDINAL = frozenset(
    """
    januar jänner februar märz april mai juni juli august september oktober november dezember
    jan feb mär apr jun jul aug sep sept okt nov dez
    """.split()  # noqa: SIM905
)
# Quotes and brackets that open a sentence, close one, and the CJK full stop, ! and ?, with
# what may close after them (written as escapes: several look like ASCII).
_OPENING = "\"'\u201c\u2018\u00ab(\u00bf\u00a1["
_CLOSING = "\"'\u201d\u2019\u00bb)]"
_CJK_STOPS = "\u3002\uff01\uff1f"
_CJK_CLOSING = "\u300d\u300f\u201d\u2019\uff09\u300b\u3009"
_LATIN_END = re.compile(rf"[.!?\u2026]+[{re.escape(_CLOSING)}]*\s+(?=\S)")
_CJK_END = re.compile(rf"[{_CJK_STOPS}]+[{_CJK_CLOSING}]*\s*")


_AROUND = 64  # how much text around a full stop decides it: each line is read once


def _ends_here(before: str, after: str, first_word: bool) -> bool:
    """Whether a sentence ends between `before` (the text up to and with its punctuation) and
    `after`; `first_word` says whether the sentence so far is a single word."""
    nxt = after.lstrip(_OPENING + " ")
    if not nxt or nxt[0].islower() or nxt[0].isdigit():
        return False
    closing = before.rstrip(_CLOSING + " ")
    if not closing.endswith("."):
        return True  # ! ? …
    words = closing.split()
    word = words[-1].lstrip(_OPENING).rstrip(".").lower() if words else ""
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    if first_word and ((word.isdigit() and len(word) <= 3) or re.fullmatch(r"[ivxlc]+", word)):
        return False  # a numbered heading: "1. Introduction", "IV. Your rights"
    if word.isdigit() and len(word) <= 2:
        following = nxt.split()[0].rstrip(",.").lower()
        return following not in _MONTHS_AFTER_ORDINAL
    return True


def _split_line(line: str) -> list[str]:
    line = " ".join(line.split())
    chunks: list[str] = []
    start = 0
    for match in _CJK_END.finditer(line):
        chunks.append(line[start : match.end()])
        start = match.end()
    chunks.append(line[start:])
    found: list[str] = []
    for chunk in chunks:
        start = 0
        for match in _LATIN_END.finditer(chunk):
            end = match.end()
            before = chunk[max(start, end - _AROUND) : end]
            first_word = end - start <= _AROUND and " " not in before.strip()
            if _ends_here(before, chunk[end : end + _AROUND], first_word):
                found.append(chunk[start:end])
                start = end
        found.append(chunk[start:])
    return [sentence.strip() for sentence in found if sentence.strip()]


def sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, each with its whitespace collapsed. A line break
    always ends one (a heading, a list item, a table cell are sentences of their own); within
    a line, see the rules above. For the project's languages: en, de, fr, es, it, nl, pl, pt,
    sv (Latin script) and zh-HK."""
    return [sentence for line in text.splitlines() for sentence in _split_line(line)]
