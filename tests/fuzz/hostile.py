"""Hostile input for the fuzz tests: what attackers and accidents put in fields, mixed into
random text; any JSON value, and the fields of a webhook body to put it in."""

from __future__ import annotations

from hypothesis import strategies as st

# Known Jinja2 sandbox escapes and template tricks: must come out as the text they are.
SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ 'a'|attr('__class__') }}",
    "{% set x = 'x' %}{{ x.__class__ }}",
    "{0.__class__.__init__.__globals__}",
    "{title.__class__}",
    "%(organisation)s %s %n %x",
    "${7*7} #{7*7} <%= 7*7 %>",
    "{{7*7}}",
]
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<a href='javascript:alert(1)'>x</a>",
    "</textarea></title><svg/onload=alert(1)>",
    "&lt;script&gt; &amp; &#x3C;",
    "<!--",
    "]]>",
]
LINE_BREAKS = [
    "\r\n",
    "\n",
    "\r",
    "\r\nBcc: everyone@example.org",
    "\nX-Injected: 1",
    "\x85",
    "\u2028",
]
ODD = [
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b\ufeff",  # zero width
    "\x00",
    "\x1b[31m",
    "\U0001f600",
    "ﷺ",
    "A" * 5000,
    "%",
    "\\",
    "'",
    '"',
]
FRAGMENTS = SANDBOX_ESCAPES + MARKUP + LINE_BREAKS + ODD


def hostile_text(max_size: int = 300, lines: bool = True) -> st.SearchStrategy[str]:
    """Text made of random characters and hostile fragments (`lines=False`: no line breaks)."""
    fragments = FRAGMENTS if lines else [f for f in FRAGMENTS if f not in LINE_BREAKS]
    pieces = st.lists(
        st.one_of(st.sampled_from(fragments), st.text(max_size=20)), min_size=1, max_size=6
    )
    text = pieces.map("".join)
    if not lines:
        text = text.map(
            lambda t: "".join(c for c in t if c not in "\r\n\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e")
        )
    return text.map(lambda t: t[:max_size])


# Any JSON document, hostile text in its strings.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text(60),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

# Every field of the LinkedIn webhook body (tests.helpers.LINKEDIN), as paths into it.
PATHS = [
    ("type",),
    ("platform",),
    ("policy",),
    ("policy", "id"),
    ("policy", "title"),
    ("policy", "short_title"),
    ("policy", "summary"),
    ("policy", "steps"),
    ("policy", "setting_url"),
    ("policy", "translations"),
    ("regions",),
    ("plan",),
]
