"""A/B tests of a reminder (`domain.ab`), as a specification: who is in the test share and which
variant they get (stable, close to the share), and which variant goes to the rest and why."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from optout.domain.ab import (
    REST,
    TEST,
    ABTest,
    Result,
    Variant,
    VariantText,
    assign,
    decide,
    document_of,
    parse_tests,
    problems_of,
    stored_test,
    variant_for,
)
from optout.domain.locales import SUPPORTED_LOCALES

SEED = "00" * 16


def two_variants(share: float = 0.2) -> ABTest:
    return ABTest(
        days_before=7,
        variants=(
            Variant("A", {"en": VariantText("One week left")}),
            Variant("B", {"en": VariantText("Your data trains their AI in a week")}),
        ),
        seed=SEED,
        share=share,
    )


def test_a_person_lands_in_the_same_place_at_every_call() -> None:
    test = two_variants()
    for n in range(200):
        first = assign(test, "linkedin", "EU-07", f"s{n:05d}")
        assert assign(test, "linkedin", "EU-07", f"s{n:05d}") == first


def test_the_test_share_is_close_to_the_organisers_share_and_split_evenly() -> None:
    test = two_variants(share=0.2)
    placed = Counter(assign(test, "linkedin", "EU-07", f"s{n:05d}") for n in range(10_000))
    in_test = sum(count for a, count in placed.items() if a.group == TEST)
    # 2,000 expected; three standard deviations (40 each) either side
    assert 1880 <= in_test <= 2120
    by_variant = Counter({a.variant: c for a, c in placed.items() if a.group == TEST})
    assert abs(by_variant["A"] - by_variant["B"]) < 200


def test_each_reminder_and_each_campaign_split_apart() -> None:
    test = two_variants(share=0.5)
    ids = [f"s{n:05d}" for n in range(1000)]
    week = [assign(test, "linkedin", "EU-07", i).group for i in ids]
    day = [assign(test, "linkedin", "EU-01", i).group for i in ids]
    other = [assign(test, "meta", "EU-07", i).group for i in ids]
    assert week != day and week != other


def test_the_rest_waits_for_the_winner_and_then_gets_it() -> None:
    test = two_variants(share=0.5)
    rest = next(
        f"s{n}" for n in range(100) if assign(test, "linkedin", "EU-07", f"s{n}").group == REST
    )
    assert variant_for(test, "linkedin", "EU-07", rest, winner="") is None
    got = variant_for(test, "linkedin", "EU-07", rest, winner="B")
    assert got is not None and got.variant == "B" and got.group == REST


def test_the_test_share_keeps_its_variant_whatever_wins() -> None:
    test = two_variants(share=0.5)
    member = next(
        f"s{n}" for n in range(100) if assign(test, "linkedin", "EU-07", f"s{n}").group == TEST
    )
    own = assign(test, "linkedin", "EU-07", member).variant
    for winner in ("", "A", "B"):
        assert variant_for(test, "linkedin", "EU-07", member, winner) == assign(
            test, "linkedin", "EU-07", member
        )
    assert own in ("A", "B")


def test_a_clear_difference_sends_the_better_variant_and_says_why() -> None:
    decision = decide([Result("A", 1000, 40), Result("B", 1000, 80)])
    assert decision.winner == "B" and decision.significant
    assert decision.reason.startswith("B: 8.0% vs 4.0%, significant at 95%")


def test_too_few_conversions_send_the_first_variant_and_say_so() -> None:
    decision = decide([Result("A", 40, 1), Result("B", 40, 4)])
    assert decision.winner == "A" and not decision.significant
    assert decision.reason.startswith("too few conversions to tell (5 in all")
    assert "two-proportion z-test at 95%" in decision.reason
    assert decision.reason.endswith("the first variant, A, goes")


def test_a_difference_within_chance_sends_the_first_variant() -> None:
    decision = decide([Result("A", 1000, 50), Result("B", 1000, 60)])
    assert decision.winner == "A" and not decision.significant
    assert decision.reason.startswith("B: 6.0% vs 5.0%, not significant at 95%")
    assert decision.reason.endswith("the first variant, A, goes")


def test_nothing_sent_to_a_variant_is_too_few_to_tell() -> None:
    assert decide([Result("A", 0, 0), Result("B", 0, 0)]).winner == "A"


def test_the_first_variant_winning_clearly_is_said_as_such() -> None:
    decision = decide([Result("A", 1000, 90), Result("B", 1000, 40)])
    assert decision.winner == "A" and decision.significant
    assert decision.reason.startswith("A: 9.0% vs 4.0%, significant at 95%")


def test_of_three_the_best_wins_only_if_it_beats_each_other() -> None:
    beats_both = decide([Result("A", 1000, 40), Result("B", 1000, 90), Result("C", 1000, 45)])
    assert beats_both.winner == "B"
    assert beats_both.reason.startswith("B: 9.0% vs 4.0% (A), 4.5% (C), significant")
    close_second = decide([Result("A", 1000, 40), Result("B", 1000, 90), Result("C", 1000, 85)])
    assert close_second.winner == "A" and not close_second.significant


def test_of_three_each_comparison_is_held_to_half_the_level_and_the_reason_says_so() -> None:
    # B against A alone: z = 2.06, beyond 1.96, significant at 95%
    two = decide([Result("A", 1000, 50), Result("B", 1000, 72)])
    assert two.winner == "B" and two.significant
    assert "Bonferroni" not in two.reason
    # B against A and C, each as far: two comparisons, each held to 97.5% (z beyond 2.24)
    three = decide([Result("A", 1000, 50), Result("B", 1000, 72), Result("C", 1000, 50)])
    assert three.winner == "A" and not three.significant
    assert "Bonferroni-corrected for 2 comparisons: each at 97.5%" in three.reason
    assert three.reason.startswith("B: 7.2% vs 5.0% (A), 5.0% (C), not significant at 95%")


def test_a_variant_missing_a_language_falls_back_as_the_templates_do() -> None:
    variant = Variant(
        "B",
        {
            "en": VariantText("In English", "Opening in English"),
            "fr": VariantText("En français"),
        },
    )
    assert variant.in_language("fr-CA") == VariantText("En français", "Opening in English")
    assert variant.in_language("de") == VariantText("In English", "Opening in English")


def organisers(**test: object) -> list[dict[str, object]]:
    return [
        {
            "days_before": 7,
            "variants": [{"subject": {"en": "One week left"}}, {"subject": {"en": "Seven days"}}],
            **test,
        }
    ]


def test_an_organisers_test_takes_the_defaults() -> None:
    assert problems_of(organisers(), (14, 7, 1, 0), SUPPORTED_LOCALES) == {}
    (test,) = parse_tests(organisers(), "ab")
    assert test.share == 0.2 and test.wait == timedelta(hours=4)
    assert [v.name for v in test.variants] == ["A", "B"]
    assert stored_test(document_of(test)) == test


def test_bad_tests_are_named_by_where_they_are_wrong() -> None:
    one_variant = organisers(variants=[{"subject": {"en": "Only me"}}])
    assert problems_of(one_variant, (7,), SUPPORTED_LOCALES) == {
        "ab_tests[0].variants": "must be a list of two or more variants"
    }
    assert "ab_tests[0].share" in problems_of(organisers(share=1.5), (7,), SUPPORTED_LOCALES)
    assert "ab_tests[0].share" in problems_of(organisers(share=0), (7,), SUPPORTED_LOCALES)
    assert "ab_tests[0].wait_hours" in problems_of(organisers(wait_hours=-1), (7,), ("en",))
    # A wait too short to decide on anything (the test share is still going out) is refused
    assert problems_of(organisers(wait_hours=0.001), (7,), ("en",)) == {
        "ab_tests[0].wait_hours": "must be a number of hours from 1 to 72: the wait starts "
        "when the test share starts going out"
    }
    assert problems_of(organisers(wait_hours=1), (7,), ("en",)) == {}
    assert "ab_tests[0].days_before" in problems_of(organisers(days_before=3), (7,), ("en",))
    klingon = organisers(variants=[{"subject": {"en": "a", "tlh": "b"}}, {"subject": {"en": "c"}}])
    problems = problems_of(klingon, (7,), SUPPORTED_LOCALES)
    assert list(problems) == ["ab_tests[0].variants[0].subject.tlh"]
    assert problems_of(
        organisers(variants=[{"subject": {"de": "a"}}, {"subject": {"en": "c"}}]),
        (7,),
        SUPPORTED_LOCALES,
    ) == {"ab_tests[0].variants[0].subject.en": "is required: other languages fall back to it"}


def test_a_subject_is_short_and_an_opening_no_longer_than_a_summary() -> None:
    long = organisers(variants=[{"subject": {"en": "x" * 201}}, {"opening": {"en": "y" * 2001}}])
    assert problems_of(long, (7,), SUPPORTED_LOCALES) == {
        "ab_tests[0].variants[0].subject.en": "at most 200 characters",
        "ab_tests[0].variants[1].opening.en": "at most 2000 characters",
    }
