"""What changed between two versions of a watched page's text, and how much it matters. Pure: no
AWS, no network.

Both versions are cut into sentences (`optout.watching.extract.sentences`) and each sentence is
reduced to a key by `normalise`, the one function used for both sides. A sentence is added when
its key is in the new version and nowhere in the old one, removed the other way round; so what
is not a change to a reader is not one here:
- whitespace, line breaks inside a block, markup (the text is compared, not the page);
- order: a sentence moved, or blocks reordered, is the same set of keys;
- rotating tokens: UUIDs, hex and long random-looking strings, long digit runs (CSRF tokens,
  session ids, cache-busting hashes, nonces, timestamps) all become the same placeholder;
- dates and times: a date in any of the project's languages ("November 3, 2025", "3. November
  2025", "3 novembre 2025", "3 de noviembre de 2025", "3 listopada 2025", "2025-11-03",
  "03/11/2025", "2025年11月3日") becomes a placeholder, so a "Last updated" line whose date
  alone changed has the same key, while a new sentence holding a date is still new;
- a copyright line's years ("© 2003-2025");
- a sentence repeated, or repeated less (a "Learn more" link appearing twice): sets, not counts;
- a sentence without a single letter once tokens and dates are out (a stray number, a token).
Cookie banners, navigation and footers never reach this module: `extract` leaves them out.

A `Change` shows the sentences as they were written, never their keys.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from optout.watching.extract import sentences
from optout.watching.terms import Terms, fold

# The score, 0 to 1: how likely a change matters to people who must opt out. Terms weigh most:
#   score = min(1, TERM_WEIGHT x distinct terms matched + SENTENCE_WEIGHT x sentences changed)
# One term in one changed sentence reaches NOTIFY_AT (0.25 + 0.05 = 0.30): "You can opt out at
# any time" removed is worth an email. Without any term, it takes six changed sentences (a
# rewritten section), so a reworded address or a typo fixed is recorded but does not notify.
TERM_WEIGHT = 0.25
SENTENCE_WEIGHT = 0.05
NOTIFY_AT = 0.3


@dataclass(frozen=True)
class Change:
    """What changed between two versions: the sentences added and removed, as written, each in
    its version's order; the terms found in them (in the terms' own order); and the score
    (see `score`). Organisers are told when `score >= NOTIFY_AT`."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    terms: tuple[str, ...]
    score: float

    @property
    def notify(self) -> bool:
        """Whether this change is worth telling organisers about now."""
        return self.score >= NOTIFY_AT


def score(changed: int, terms: int) -> float:
    """The score of a change of `changed` sentences in which `terms` distinct terms are found
    (the formula is above `NOTIFY_AT`), rounded to four places."""
    return round(min(1.0, TERM_WEIGHT * terms + SENTENCE_WEIGHT * changed), 4)


# Placeholders: characters no text holds, so a sentence cannot spell one.
_ROTATING = "\ue000"
_DATE = "\ue001"
_TIME = "\ue002"
_YEAR = "\ue003"
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
    }
)

# Candidates are cut at "/", "." and "?", so that in a link only the random part goes.
_CANDIDATE = re.compile(r"[0-9A-Za-z_\-+=~%]{8,}")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_HEX = re.compile(r"(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}", re.I)
_DIGITS = re.compile(r"\d{8,}")


def _random_looking(segment: str) -> bool:
    """A string no one writes: a UUID, hex of eight or more with digits and letters, a run of
    eight digits or more, ten characters or more with three digits and three letters at least,
    or sixteen and more with two of each (base64, JWTs, hashed file names, nonces)."""
    if _UUID.search(segment) or _DIGITS.search(segment):
        return True
    if any(_HEX.fullmatch(piece) for piece in re.split(r"[^0-9A-Za-z]+", segment)):
        return True
    digits = sum(char.isdigit() for char in segment)
    letters = sum(char.isalpha() for char in segment)
    if len(segment) >= 16:
        return digits >= 2 and letters >= 2
    return len(segment) >= 10 and digits >= 3 and letters >= 3


_ROTATING_RUN = re.compile(f"{_ROTATING}(?:[./:_-]*{_ROTATING})+")


def _tokens_out(text: str) -> str:
    """`text` with each random-looking string, or run of them ("a JWT.its.parts"), one
    placeholder."""
    text = _CANDIDATE.sub(
        lambda found: _ROTATING if _random_looking(found.group(0)) else found.group(0), text
    )
    return _ROTATING_RUN.sub(_ROTATING, text)


def _names(words: str) -> str:
    return "|".join(
        sorted({re.escape(fold(word).casefold()) for word in words.split()}, key=len, reverse=True)
    )


# Months and weekdays in en, de, fr, es, it, nl, pl (nominative and genitive), pt, sv; as keys
# are, without accents and in lower case.
_MONTH = _names(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    januar jänner februar märz mai juni juli oktober dezember mär okt dez
    janvier février mars avril juin juillet août septembre octobre novembre décembre
    janv févr avr juil déc
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre ene abr ago dic
    gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre gen giu lug ott
    januari februari maart mei augustus
    styczeń luty marzec kwiecień maj czerwiec lipiec sierpień wrzesień październik listopad
    grudzień stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października
    listopada grudnia
    janeiro fevereiro março maio junho julho setembro outubro novembro dezembro fev dez
    mars augusti
    """
)
_WEEKDAY = _names(
    """
    monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
    montag dienstag mittwoch donnerstag freitag samstag sonntag
    lundi mardi mercredi jeudi vendredi samedi dimanche
    lunes martes miércoles jueves viernes sábado domingo
    lunedì martedì mercoledì giovedì venerdì sabato domenica
    maandag dinsdag woensdag donderdag vrijdag zaterdag zondag
    poniedziałek wtorek środa czwartek piątek sobota niedziela
    segunda-feira terça-feira quarta-feira quinta-feira sexta-feira
    måndag tisdag onsdag torsdag fredag lördag söndag
    """
)
_DAY = r"\d{1,2}(?:st|nd|rd|th|er|e|º|°|\.)?"
_OF = r"(?:\s*,?\s+(?:de|del|of)\s+|\s*,?\s+)"
_DATES = re.compile(
    rf"(?:(?<!\w)(?:{_WEEKDAY})\.?,?\s+(?:the\s+)?)?(?:"
    rf"(?<!\w){_DAY}{_OF}(?:{_MONTH})\.?{_OF}\d{{4}}(?!\d)"  # 3 November 2025, 3 de noviembre de 2025
    rf"|(?<!\w)(?:{_MONTH})\.?\s+{_DAY},?\s+\d{{4}}(?!\d)"  # November 3, 2025
    rf"|(?<!\w)(?:{_MONTH})\.?{_OF}\d{{4}}(?!\d)"  # November 2025
    r"|(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"  # 2025-11-03
    r"|(?<!\d)\d{1,2}[-/.]\d{1,2}[-/.]\d{4}(?!\d)"  # 03/11/2025, 3.11.2025
    r"|(?<!\d)\d{1,2}/\d{1,2}/\d{2}(?![\d/])"  # 11/3/25
    r"|\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?"  # 2025年11月3日
    r"|\d{1,2}\s*月\s*\d{1,2}\s*日"
    r")(?:\s*r\.(?!\w))?"  # Polish "2025 r."
)
_TIMES = re.compile(
    r"(?<![\d:])\d{1,2}[:h]\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?(?!\w))?"
    r"(?:\s*(?:utc|gmt|cet|cest|bst|est|edt|pst|pdt|hkt)(?!\w))?(?![\d:])"
)
_COPYRIGHT = re.compile(r"(©|\(c\)|copyright)\s*(\d{4}\s*-\s*)?\d{4}(?!\d)")
_SPACE_BEFORE = re.compile(r"\s+(?=[.,;:!?%)\]])")
_ENDING = re.compile(r"[\s.!?\u3002\uff01\uff1f\u2026]+$")


def normalise(sentence: str) -> str:
    """The key of a sentence: what stays when what does not change its meaning to a reader is
    taken out (see the module's list). Two sentences with the same key are the same sentence;
    an empty key is not a sentence (no letter in it)."""
    text = unicodedata.normalize("NFKC", sentence).translate(_INVISIBLE)
    text = _tokens_out(text)
    text = fold(text).casefold().translate(_PUNCTUATION)
    text = " ".join(text.split())
    text = _COPYRIGHT.sub("©" + _YEAR, text)
    text = _DATES.sub(_DATE, text)
    text = _TIMES.sub(_TIME, text)
    text = _SPACE_BEFORE.sub("", text)
    text = _ENDING.sub("", text)
    if not any(char.isalpha() for char in text):
        return ""
    return text


def _only(keyed: list[tuple[str, str]], others: set[str]) -> tuple[str, ...]:
    """The sentences whose key is not among `others`, each key once, in order."""
    seen: set[str] = set()
    kept: list[str] = []
    for sentence, key in keyed:
        if key and key not in others and key not in seen:
            seen.add(key)
            kept.append(sentence)
    return tuple(kept)


def compare(old: str, new: str, terms: Terms) -> Change | None:
    """What changed from `old` to `new` (texts as `extract` gives them), or None when no
    sentence was added or removed once normalised. A change is returned whatever its score:
    the caller records it, and tells organisers when `Change.notify`."""
    old_keyed = [(sentence, normalise(sentence)) for sentence in sentences(old)]
    new_keyed = [(sentence, normalise(sentence)) for sentence in sentences(new)]
    added = _only(new_keyed, {key for _, key in old_keyed})
    removed = _only(old_keyed, {key for _, key in new_keyed})
    if not added and not removed:
        return None
    found = {term for sentence in added + removed for term in terms.matched(sentence)}
    ordered = tuple(term for term in terms.words if term in found)
    return Change(added, removed, ordered, score(len(added) + len(removed), len(ordered)))
