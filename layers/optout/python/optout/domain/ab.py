"""A/B tests of a reminder, judged by conversions. Pure logic: no AWS, no templates.

An organiser gives one of a campaign's reminders (by its days before the deadline) two or more
variants: each its own subject and opening text, in each language it names. When that reminder
comes due in a region, a share of its audience (the test share, `DEFAULT_SHARE`) gets the
variants, split between them at random but stably per person (`assign`); the rest waits. After
the organiser's wait (`DEFAULT_WAIT`), the variant whose readers said "I've switched it off" the
most often goes to the rest (`decide`). Only conversions count: opens are never the measure
(mail clients and scanners open mail by themselves), and a conversion is a person's press of the
"I've switched it off" button, which no link scanner makes.

A person is in the test share or in the rest, and in the test share gets one variant, by a keyed
hash of the campaign, the reminder and their id: the same person always lands in the same place,
whichever sender, retry or late catch-up asks. The key (`ABTest.seed`) is the test's own, drawn
when the organiser sets it, so nobody outside can tell who gets what, and a rotation of the
bot's link keys moves nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from statistics import NormalDist

DEFAULT_SHARE = 0.2
DEFAULT_WAIT = timedelta(hours=4)
MAX_WAIT = timedelta(hours=72)
# The wait starts when the test share starts going out; below an hour there are hardly any
# conversions to decide on, and the rest could start while the scheduler's lease (10 minutes)
# still covers the test share's own start.
MIN_WAIT = timedelta(hours=1)
# The decision's confidence: a two-proportion z-test, two-sided, at 95%.
CONFIDENCE = 0.95
# The z-test's normal approximation holds when each variant expects at least this many
# conversions (and as many non-conversions) at the rate of all of them together; below it there
# are too few to tell, and the organiser's first variant goes.
MIN_EXPECTED = 5
# Where a person stands in a test: in its share (one variant), or in the rest (the winner).
TEST, REST = "test", "rest"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,19}$")
# A subject is read in an inbox's one line; an opening stands where a summary would.
MAX_CHARS = {"subject": 200, "opening": 2000}


@dataclass(frozen=True)
class VariantText:
    """A variant's words in one language: the subject (a text message's first words), and the
    opening text (the paragraph under the headline, where the policy's summary stands); ""
    keeps the reminder's own."""

    subject: str = ""
    opening: str = ""


@dataclass(frozen=True)
class Variant:
    name: str  # "A", "B", ...: how stats, the preview and the decision name it
    texts: Mapping[str, VariantText]  # by locale; "en" always

    def in_language(self, locale: str) -> VariantText:
        """The subject and opening for `locale`, each as the templates fall back: its own, its
        language's (fr for fr-CA), else English ("" if the variant gives none)."""

        def part(name: str) -> str:
            for code in (locale, locale.split("-")[0], "en"):
                text = self.texts.get(code)
                if text is not None and getattr(text, name):
                    return str(getattr(text, name))
            return ""

        return VariantText(part("subject"), part("opening"))


@dataclass(frozen=True)
class ABTest:
    """The variants of the reminders `days_before` the deadline (one test per region: each
    region's reminder is decided on its own readers)."""

    days_before: int
    variants: tuple[Variant, ...]
    seed: str  # the hash's key (hex), drawn once when the test is set
    share: float = DEFAULT_SHARE
    wait: timedelta = DEFAULT_WAIT

    @property
    def first(self) -> Variant:
        return self.variants[0]

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True)
class Assignment:
    """Where one person stands in one reminder's test: `group` is `TEST` or `REST`; `variant`
    is theirs in the test share."""

    group: str
    variant: str = ""


def assign(test: ABTest, campaign_id: str, reminder_id: str, subscriber_id: str) -> Assignment:
    """The person's place in the reminder's test, the same at every call: a keyed hash of
    campaign, reminder and person, whose first eight bytes place them in the share or the rest
    and whose next eight pick their variant (independent of each other)."""
    message = f"{campaign_id}\x1f{reminder_id}\x1f{subscriber_id}".encode()
    digest = hmac.new(bytes.fromhex(test.seed), message, hashlib.sha256).digest()
    place = int.from_bytes(digest[:8], "big") / 2**64
    if place >= test.share:
        return Assignment(REST)
    pick = int.from_bytes(digest[8:16], "big") % len(test.variants)
    return Assignment(TEST, test.variants[pick].name)


def variant_for(
    test: ABTest, campaign_id: str, reminder_id: str, subscriber_id: str, winner: str
) -> Assignment | None:
    """What the person gets of the reminder: their own variant in the test share; in the rest,
    the `winner` once decided ("" before), and None until then (held for the test result)."""
    placed = assign(test, campaign_id, reminder_id, subscriber_id)
    if placed.group == TEST:
        return placed
    return Assignment(REST, winner) if winner else None


@dataclass(frozen=True)
class Result:
    """A variant's numbers in the test share: messages sent, and people who said "I've
    switched it off" through its link."""

    variant: str
    sent: int
    conversions: int

    @property
    def rate(self) -> float:
        return self.conversions / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class Decision:
    """The variant that goes to the rest, and why, in words an organiser reads."""

    winner: str
    reason: str
    significant: bool


def decide(results: Sequence[Result], confidence: float = CONFIDENCE) -> Decision:
    """The variant for the rest, from the test share's numbers (`results`, in the organiser's
    order: the first is theirs to fall back on).

    The variant with the best rate wins if a two-proportion z-test (two-sided, at `confidence`,
    Bonferroni-corrected with three or more variants) finds its rate different from every other
    variant's. With too few conversions to tell
    (a variant expects fewer than `MIN_EXPECTED` at the rate of all together), or no
    significant difference, the first variant goes, and the reason says which it was."""
    level = f"{confidence:.0%}"
    first = results[0]
    best = max(results, key=lambda r: (r.rate, -results.index(r)))
    others = [r for r in results if r is not best]
    versus = ", ".join(
        f"{_percent(r.rate)}" + (f" ({r.variant})" if len(others) > 1 else "") for r in others
    )
    numbers = f"{best.variant}: {_percent(best.rate)} vs {versus}"
    too_few = [r for r in results if not _enough(r, results)]
    if too_few:
        conversions = sum(r.conversions for r in results)
        return Decision(
            first.variant,
            f"too few conversions to tell ({conversions} in all; a two-proportion z-test at "
            f"{level} needs {MIN_EXPECTED} expected per variant): the first variant, "
            f"{first.variant}, goes",
            significant=False,
        )
    # The best is compared with each other variant: with three or more, that is several tests,
    # and each is held to the level divided among them (Bonferroni), so that the chance of
    # naming a winner where there is none stays within 1 - `confidence` in all.
    comparisons = len(others)
    critical = NormalDist().inv_cdf(1 - (1 - confidence) / comparisons / 2)
    method = "two-proportion z-test"
    if comparisons > 1:
        each = f"{1 - (1 - confidence) / comparisons:.1%}".replace(".0%", "%")
        method += f", Bonferroni-corrected for {comparisons} comparisons: each at {each}"
    scores = [_z(best, other) for other in others]
    if all(score > critical for score in scores):
        return Decision(
            best.variant,
            f"{numbers}, significant at {level} ({method}, z = {min(scores):.2f})",
            significant=True,
        )
    return Decision(
        first.variant,
        f"{numbers}, not significant at {level} ({method}, z = {min(scores):.2f}): "
        f"the first variant, {first.variant}, goes",
        significant=False,
    )


def _enough(result: Result, results: Sequence[Result]) -> bool:
    sent = sum(r.sent for r in results)
    pooled = sum(r.conversions for r in results) / sent if sent else 0.0
    return min(result.sent * pooled, result.sent * (1 - pooled)) >= MIN_EXPECTED


def _z(best: Result, other: Result) -> float:
    pooled = (best.conversions + other.conversions) / (best.sent + other.sent)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / best.sent + 1 / other.sent))
    return (best.rate - other.rate) / spread if spread else 0.0


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def breakdown_value(reminder_id: str, variant: str, group: str) -> str:
    """How the campaign's counters by variant name one variant of one reminder's test, in its
    test share or its rest (``EU-07/B/test``): sends and conversions are counted under it."""
    return f"{reminder_id}/{variant}/{group}"


def breakdown_parts(value: str) -> tuple[str, str, str]:
    """The reminder, variant and group a `breakdown_value` names."""
    reminder_id, variant, group = value.split("/", 2)
    return reminder_id, variant, group


# -- the organiser's JSON form, checked --------------------------------------------------------


def problems_of(raw: object, offsets: Sequence[int], locales: Sequence[str]) -> dict[str, str]:
    """What is wrong with an organiser's ``ab_tests`` (a list of tests), by path; {} if
    nothing. Templates are checked elsewhere (`optout.messages.reminders`): this knows only
    the shape, the reminders the campaign has and the languages the bot speaks."""
    if not isinstance(raw, list):
        return {"ab_tests": "must be a list of tests"}
    problems: dict[str, str] = {}
    seen: set[int] = set()
    for index, test in enumerate(raw):
        where = f"ab_tests[{index}]"
        if not isinstance(test, dict):
            problems[where] = "must be a JSON object"
            continue
        unknown = sorted(set(test) - {"days_before", "share", "wait_hours", "variants"})
        for name in unknown:
            problems[f"{where}.{name}"] = "not a field of a test"
        days = test.get("days_before")
        if not isinstance(days, int) or isinstance(days, bool) or days not in offsets:
            problems[f"{where}.days_before"] = (
                f"must be one of the campaign's reminders, in days before the deadline: "
                f"{', '.join(map(str, sorted(offsets, reverse=True)))}"
            )
        elif days in seen:
            problems[f"{where}.days_before"] = f"the reminder {days} days before has two tests"
        else:
            seen.add(days)
        share = test.get("share", DEFAULT_SHARE)
        if not _number(share) or not 0 < share < 1:
            problems[f"{where}.share"] = "must be a number above 0 and below 1 (0.2: a fifth)"
        wait = test.get("wait_hours", DEFAULT_WAIT / timedelta(hours=1))
        hours = timedelta(hours=1)
        if not _number(wait) or not MIN_WAIT / hours <= wait <= MAX_WAIT / hours:
            problems[f"{where}.wait_hours"] = (
                f"must be a number of hours from {MIN_WAIT // hours} to {MAX_WAIT // hours}: "
                "the wait starts when the test share starts going out"
            )
        problems.update(_variant_problems(test.get("variants"), f"{where}.variants", locales))
    return problems


def _variant_problems(raw: object, where: str, locales: Sequence[str]) -> dict[str, str]:
    if not isinstance(raw, list) or len(raw) < 2:
        return {where: "must be a list of two or more variants"}
    problems: dict[str, str] = {}
    names: set[str] = set()
    for index, variant in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(variant, dict):
            problems[at] = "must be a JSON object"
            continue
        for name in sorted(set(variant) - {"name", "subject", "opening"}):
            problems[f"{at}.{name}"] = "not a field of a variant"
        name = variant.get("name", _default_name(index))
        if not isinstance(name, str) or not _NAME.match(name):
            problems[f"{at}.name"] = "must be 1 to 20 letters, digits, spaces, - or _"
        elif name in names:
            problems[f"{at}.name"] = f"{name} names two variants"
        else:
            names.add(name)
        if "subject" not in variant and "opening" not in variant:
            problems[at] = "must give a subject, an opening, or both"
        for part in ("subject", "opening"):
            if part not in variant:
                continue
            texts = variant[part]
            if not isinstance(texts, dict) or not all(
                isinstance(t, str) and t.strip() for t in texts.values()
            ):
                problems[f"{at}.{part}"] = 'must map languages to texts: {"en": "...", "de": ...}'
                continue
            if "en" not in texts:
                problems[f"{at}.{part}.en"] = "is required: other languages fall back to it"
            for locale, text in sorted(texts.items()):
                if len(text) > MAX_CHARS[part]:
                    problems[f"{at}.{part}.{locale}"] = f"at most {MAX_CHARS[part]} characters"
            for locale in sorted(set(texts) - set(locales)):
                problems[f"{at}.{part}.{locale}"] = (
                    f"not a language the bot speaks ({', '.join(locales)})"
                )
    return problems


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _default_name(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"V{index + 1}"


def parse_tests(raw: Sequence[Mapping[str, object]], seed: str) -> tuple[ABTest, ...]:
    """Tests from the organiser's checked JSON form (`problems_of` found nothing), each keyed
    by `seed` and its days before the deadline (so two tests of a campaign split apart)."""
    tests = []
    for test in raw:
        days = int(str(test["days_before"]))
        variants = tuple(
            _variant(variant, index) for index, variant in enumerate(_mappings(test["variants"]))
        )
        tests.append(
            ABTest(
                days_before=days,
                variants=variants,
                seed=hashlib.sha256(f"{seed}:{days}".encode()).hexdigest(),
                share=float(str(test.get("share", DEFAULT_SHARE))),
                wait=timedelta(hours=float(str(test.get("wait_hours", 4)))),
            )
        )
    return tuple(sorted(tests, key=lambda t: -t.days_before))


def _mappings(raw: object) -> list[Mapping[str, object]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def _variant(raw: Mapping[str, object], index: int) -> Variant:
    subject = raw.get("subject") or {}
    opening = raw.get("opening") or {}
    assert isinstance(subject, Mapping) and isinstance(opening, Mapping)
    return Variant(
        name=str(raw.get("name", _default_name(index))),
        texts={
            locale: VariantText(str(subject.get(locale, "")), str(opening.get(locale, "")))
            for locale in sorted(set(subject) | set(opening))
        },
    )


def document_of(test: ABTest) -> dict[str, object]:
    """A test as stored and shown (the inverse of `stored_test`)."""
    return {
        "days_before": test.days_before,
        "share": test.share,
        "wait_hours": test.wait / timedelta(hours=1),
        "seed": test.seed,
        "variants": [
            {
                "name": variant.name,
                **{
                    part: {
                        locale: getattr(text, part)
                        for locale, text in variant.texts.items()
                        if getattr(text, part)
                    }
                    for part in ("subject", "opening")
                    if any(getattr(text, part) for text in variant.texts.values())
                },
            }
            for variant in test.variants
        ],
    }


def stored_test(raw: Mapping[str, object]) -> ABTest:
    """A stored test (`document_of`)."""
    (test,) = parse_tests([raw], "")
    return ABTest(test.days_before, test.variants, str(raw["seed"]), test.share, test.wait)
