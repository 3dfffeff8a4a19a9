"""The languages messages and pages are written in, and how a requested locale maps onto them."""

from __future__ import annotations

import re

from optout.core.errors import InvalidInput

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "de", "fr", "es", "it", "nl", "pl", "pt", "sv", "fr-CA", "zh-HK")
# Those written right to left, as CLDR has them (a unit test holds this to Babel's character
# order for every supported locale): said here so that a page need not import Babel, 40 ms
# of a cold start, only to learn it. None yet.
RIGHT_TO_LEFT: frozenset[str] = frozenset()

_SHAPE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}|[a-zA-Z]{4}))?$")
# Languages whose only supported form is regional.
_LANGUAGE_DEFAULT = {"zh": "zh-HK"}


def resolve(requested: str | None) -> str:
    """A supported locale for `requested` (``fr_ca`` -> ``fr-CA``, ``de-AT`` -> ``de``).

    Empty means the default. A well-formed tag whose language we do not write is invalid input,
    not a silent fallback: the person chose a language and should learn it is not offered.
    """
    if requested is None or not str(requested).strip():
        return DEFAULT_LOCALE
    match = _SHAPE.match(str(requested).strip())
    if match:
        language, territory = match.group(1).lower(), (match.group(2) or "").upper()
        for candidate in (f"{language}-{territory}", language, _LANGUAGE_DEFAULT.get(language)):
            if candidate in SUPPORTED_LOCALES:
                return candidate
    raise InvalidInput(
        {"locale": f"unsupported language {requested!r}; use one of {', '.join(SUPPORTED_LOCALES)}"}
    )


def negotiate(accept_language: str | None) -> str:
    """The supported locale a browser's ``Accept-Language`` header prefers most, or English.

    Each tag is read as `resolve` reads a chosen locale (``de-AT`` -> ``de``, ``zh-TW`` ->
    ``zh-HK``, the one Chinese we write), in the order of the header's quality values.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")[:32]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        try:
            return resolve(tag)
        except InvalidInput:
            continue
    return DEFAULT_LOCALE
