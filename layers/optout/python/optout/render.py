"""Jinja2 rendering in a sandbox, for messages and pages.

Two environments, both sandboxed and both compiled once per execution environment: HTML is
autoescaped; plain text, subjects and SMS are not (escaping there would show ``&amp;`` to a
reader). Templates live in ``optout/templates/``:

- messages: ``<message>/<locale>/<part>`` with parts ``subject.txt``, ``body.txt``,
  ``body.html`` and ``sms.txt``, falling back part by part from ``fr-CA`` to ``fr`` to English;
- pages: ``pages/<name>.html``, all extending ``pages/layout.html``.

Undefined variables are errors, not empty strings, so a broken template fails loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from optout.locales import DEFAULT_LOCALE

_TEMPLATES = __file__.rsplit("/", 1)[0] + "/templates"


class RenderError(Exception):
    """A template could not be rendered; the message names the template and line."""


@lru_cache(maxsize=2)
def _environment(html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def message_part(message: str, locale: str, part: str, context: Mapping[str, Any]) -> str:
    """Render one part of a message in `locale`, or in English where that locale has none."""
    html = part.endswith(".html")
    # fr-CA, then fr, then English.
    fallbacks = dict.fromkeys([locale, locale.split("-")[0], DEFAULT_LOCALE])
    candidates = [f"{message}/{language}/{part}" for language in fallbacks]
    try:
        template = _environment(html).select_template(candidates)
    except TemplateNotFound:
        raise RenderError(f"no template {candidates[-1]}") from None
    return _render(template, context).strip()


def page(name: str, context: Mapping[str, Any]) -> str:
    """Render the HTML page `pages/<name>.html`."""
    return _render(_environment(True).get_template(f"pages/{name}.html"), context)


def _render(template: Any, context: Mapping[str, Any]) -> str:
    try:
        return str(template.render(**context))
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as error:
        raise RenderError(
            f"{template.name}, line {_template_line(error, template)}: {error}"
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
