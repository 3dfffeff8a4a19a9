"""Jinja2 rendering in a sandbox, for messages and pages, in every supported language.

Two environments, both sandboxed and both compiled once per execution environment: HTML is
autoescaped; plain text, subjects and SMS are not (escaping there would show ``&amp;`` to a
reader). Templates live in ``optout/templates/``: messages as ``messages/<name>/<part>`` with
parts ``subject.txt``, ``body.txt``, ``body.html`` and ``sms.txt``; pages as
``pages/<name>.html``; the organisers' dashboard as ``admin/<name>.html``; the subscribe form's
consent wording as ``consent/subscribe_form.txt`` (`optout.messages.consent`).

Templates are written in English with Jinja2's i18n extension (``{% trans %}``, ``_()``); the
translations are gettext catalogues in ``optout/locales/<locale>/LC_MESSAGES/messages.po``,
which `make messages` compiles into the ``messages.mo`` beside each (Babel's compiler, checked
by tests/unit/test_catalogues.py); the standard library's gettext reads those, as compiling a
catalogue with Babel at a cold start took a tenth of a second. The language is the ``locale``
of each render's context, so one compiled template serves every language. Missing translations fall back from ``fr-CA`` to ``fr`` to
English. Undefined variables are errors, not empty strings, so a broken template fails loudly.

Jinja2 and Babel are imported on first use, not with this module: they take a third of a second
to import from source at a cold start, which a function pays only when it renders something
(a JSON answer, a webhook, the OpenAPI document never do).
"""

from __future__ import annotations

import base64
import gettext
import hashlib
import re
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optout.domain.locales import DEFAULT_LOCALE, RIGHT_TO_LEFT, SUPPORTED_LOCALES

if TYPE_CHECKING:
    from babel import Locale
    from jinja2.runtime import Context
    from jinja2.sandbox import SandboxedEnvironment

_TEMPLATES = str(resources.files("optout") / "templates")


class RenderError(Exception):
    """A template could not be rendered; the message names the template and line."""


def babel_locale(locale: str) -> Locale:
    """Babel's locale for one of ours (``zh-HK`` is written in Traditional characters)."""
    from babel import Locale

    return Locale.parse("zh_Hant_HK" if locale == "zh-HK" else locale.replace("-", "_"))


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The gettext catalogue of `locale`, falling back to its language, then to English."""
    fallback = gettext.NullTranslations()
    language = locale.split("-")[0]
    if language != locale and language in SUPPORTED_LOCALES:
        fallback = translations(language)
    compiled = (
        resources.files("optout")
        / "locales"
        / locale.replace("-", "_")
        / "LC_MESSAGES"
        / "messages.mo"
    )
    if locale == DEFAULT_LOCALE or not compiled.is_file():
        return fallback
    with compiled.open("rb") as mo_file:
        loaded = gettext.GNUTranslations(mo_file)
    loaded.add_fallback(fallback)
    return loaded


def translate(locale: str, text: str) -> str:
    """`text`, an English message of the catalogue, in `locale` (a region's name, say)."""
    return translations(locale).gettext(text)


def text_direction(locale: str) -> str:
    """``ltr`` or ``rtl``, for the ``dir`` attribute of a page in `locale`."""
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"


def _gettext(context: Context, message: str) -> str:
    return translations(context["locale"]).gettext(message)


def _ngettext(context: Context, singular: str, plural: str, number: int) -> str:
    return translations(context["locale"]).ngettext(singular, plural, number)


@lru_cache(maxsize=2)
def _environment(html: bool) -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined, pass_context
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        pass_context(_gettext), pass_context(_ngettext), newstyle=True
    )
    return environment


def message_part(message: str, locale: str, part: str, context: Mapping[str, Any]) -> str:
    """Render one part of a message in `locale`."""
    from jinja2 import TemplateNotFound

    name = f"messages/{message}/{part}"
    try:
        template = _environment(part.endswith(".html")).get_template(name)
    except TemplateNotFound:
        raise RenderError(f"no template {name}") from None
    return _render(template, {**context, "locale": locale}).strip()


def page(name: str, context: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    """Render the HTML page `pages/<name>.html` in `locale`."""
    return _render(
        _environment(True).get_template(f"pages/{name}.html"),
        {**context, "locale": locale, "text_direction": text_direction(locale)},
    )


def text(name: str, context: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    """Render the plain-text template `name` (not escaped) in `locale`."""
    return _render(_environment(False).get_template(name), {**context, "locale": locale})


def snippet(source: str, context: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    """Render a short plain-text template an organiser wrote (a variant's subject or opening,
    `optout.domain.ab`) in the same sandbox as the stored templates, not escaped (an HTML
    template that shows it escapes it there); `RenderError` names what is wrong."""
    from jinja2 import TemplateError

    try:
        template = _compiled(source)
    except TemplateError as error:
        raise RenderError(f"line {getattr(error, 'lineno', '?')}: {error}") from error
    return _render(template, {**context, "locale": locale}).strip()


# What a snippet may hold: text, and {{ value }} substitutions of the message's values (their
# attributes too), with these filters and no others. No statements ({% for %}, {% if %}...),
# calls, arithmetic or filters that grow a text (`replace`): each of those can be made to run
# for minutes or fill the memory, and a subject or an opening needs none of them.
SNIPPET_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default"})


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError

    environment = _snippets()
    allowed = (
        nodes.Template,
        nodes.Output,
        nodes.TemplateData,
        nodes.Name,
        nodes.Const,
        nodes.Getattr,
    )
    for node in environment.parse(source).find_all(nodes.Node):
        if isinstance(node, nodes.Filter) and node.name in SNIPPET_FILTERS:
            continue
        if isinstance(node, allowed):
            continue
        found = f"the filter {node.name}" if isinstance(node, nodes.Filter) else _kind(node)
        raise TemplateSyntaxError(
            f"only text and {{{{ value }}}} substitutions may stand here, with the filters "
            f"{', '.join(sorted(SNIPPET_FILTERS))}: {found} may not",
            getattr(node, "lineno", None) or 1,
        )
    return environment.from_string(source)


def _kind(node: Any) -> str:
    """How a snippet's refused part is named to its organiser."""
    from jinja2 import nodes

    if isinstance(node, nodes.Stmt):
        return f"a statement ({{% {type(node).__name__.lower()} %}})"
    return f"an expression ({type(node).__name__.lower()})"


# An organiser's snippet may compute (`{{ 9 ** 9 ** 9 }}`, `{{ "x" * 10 ** 9 }}`): powers and
# products are checked as they are made, never folded at compile time, so a typo is a clear
# error instead of a function that hangs or runs out of memory.
MAX_BASE, MAX_EXPONENT, MAX_REPEAT = 10**6, 64, 1000


@lru_cache(maxsize=1)
def _snippets() -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined, pass_context
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class Snippets(SandboxedEnvironment):
        intercepted_binops = frozenset({"**", "*"})

        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and (
                (isinstance(right, int | float) and abs(right) > MAX_EXPONENT)
                or (isinstance(left, int | float) and abs(left) > MAX_BASE)
            ):
                raise SecurityError(f"a power above {MAX_BASE} ** {MAX_EXPONENT}")
            if operator == "*" and any(
                isinstance(one, str | list | tuple)
                and isinstance(other, int)
                and other > MAX_REPEAT
                for one, other in ((left, right), (right, left))
            ):
                raise SecurityError(f"a text or list repeated more than {MAX_REPEAT} times")
            return super().call_binop(context, operator, left, right)

    environment = Snippets(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        pass_context(_gettext), pass_context(_ngettext), newstyle=True
    )
    return environment


def admin_page(name: str, context: Mapping[str, Any]) -> str:
    """Render the organisers' page `admin/<name>.html` (in English)."""
    return _render(
        _environment(True).get_template(f"admin/{name}.html"),
        {**context, "locale": DEFAULT_LOCALE},
    )


def _render(template: Any, context: Mapping[str, Any]) -> str:
    from jinja2 import TemplateError

    try:
        return str(template.render(**context))
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as error:
        raise RenderError(
            f"{template.name or 'the text'}, line {_template_line(error, template)}: {error}"
        ) from error


def _template_line(error: BaseException, template: Any) -> str:
    """The template line an error came from: Jinja maps template lines into the traceback."""
    line = getattr(error, "lineno", None)
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == template.filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return str(line) if line else "?"


def script_sources(*templates: str) -> str:
    """The CSP ``script-src`` sources that allow exactly the inline scripts of `templates`
    (their SHA-256 hashes) and nothing else, no ``'unsafe-inline'``: an injected script,
    were escaping ever to fail, would not run. The scripts hold no template syntax, so the
    text hashed here is the text served."""
    sources = []
    for name in templates:
        source = (Path(_TEMPLATES) / name).read_text(encoding="utf-8")
        for script in re.findall(r"<script>(.*?)</script>", source, flags=re.DOTALL):
            digest = hashlib.sha256(script.encode("utf-8")).digest()
            sources.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return " ".join(sources) or "'none'"
