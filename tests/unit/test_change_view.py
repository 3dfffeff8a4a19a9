"""A change the watch found, as organisers get it: the draft campaign prefilled from it, and the
terms a page marks in its sentences."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optout.core.errors import InvalidInput
from optout.domain import policy
from optout.domain.watches import SETTING, SeenChange
from optout.watching import changes
from optout.watching.terms import DEFAULT, Terms

TRAIN = (
    "From 3 November 2025 we use your posts to train generative AI models by default; "
    "you may opt out in your settings."
)


def change(**fields: Any) -> SeenChange:
    values: dict[str, Any] = {
        "change_id": "20251014090000-linkedin-generative-ai-help",
        "watch_id": "linkedin-generative-ai-help",
        "platform": "linkedin",
        "title": "LinkedIn help: generative AI and your data",
        "about": "policy",
        "detected_at": "2025-10-14T09:00:00Z",
        "added": (TRAIN,),
        "removed": ("You can download your data at any time.",),
        "terms": ("AI", "train", "default", "opt out"),
        "score": 1.0,
        "notify": True,
        "before": "2025-10-13T08:00:00Z",
        "after": "2025-10-14T09:00:00Z",
        "source_url": "https://www.linkedin.com/help/linkedin/answer/a5538339",
        "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
    }
    return SeenChange(**{**values, **fields})


# -- prefilled from the change -----------------------------------------------------------------


def test_a_drafts_document_is_the_changes_platform_title_summary_and_links_and_nothing_more() -> (
    None
):
    document = changes.draft_document(change(), "linkedin-generative-ai-help-20251014-090000")

    assert document == {
        "type": "policy.changed",
        "platform": "linkedin",
        "policy": {
            "id": "linkedin-generative-ai-help-20251014-090000",
            "title": "LinkedIn help: generative AI and your data",
            "summary": TRAIN,
            "source_url": "https://www.linkedin.com/help/linkedin/answer/a5538339",
            "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
        },
        "draft": True,
    }
    # The schema takes it as a draft, and refuses it as a campaign to launch
    parsed = policy.parse(json.dumps(document).encode(), draft=True)
    assert parsed.regions == () and parsed.policy.text.steps == ()
    with pytest.raises(InvalidInput) as refused:
        policy.parse(json.dumps(document).encode())
    assert refused.value.problems == {"regions": "is required", "policy.steps": "is required"}


def test_the_campaign_id_is_the_watchs_and_when_the_change_was_found_within_64() -> None:
    assert changes.campaign_id_for(change()) == "linkedin-generative-ai-help-20251014-090000"
    long = change(change_id="20251014090000-" + "a" * 64, watch_id="a" * 64)
    assert changes.campaign_id_for(long).startswith("a" * 41 + "-")
    assert changes.campaign_id_for(long).endswith("-20251014-090000")
    assert len(changes.campaign_id_for(long)) <= 64
    # Two long watch ids that begin the same draft different campaigns.
    other = change(change_id="20251014090000-" + "a" * 63 + "b", watch_id="a" * 63 + "b")
    assert changes.campaign_id_for(other) != changes.campaign_id_for(long)


def test_without_a_title_the_draft_says_what_changed() -> None:
    assert changes.draft_title(change(title="")) == "LinkedIn changed its policy"
    assert changes.draft_title(change(title=" ", about=SETTING, platform="tiktok")) == (
        "TikTok changed its settings page"
    )


def test_control_characters_never_reach_the_title() -> None:
    assert changes.draft_title(change(title="LinkedIn\x07 help")) == "LinkedIn help"


def test_the_summary_is_the_first_added_sentences_that_fit() -> None:
    sentences = tuple(f"Sentence number {n} says something new about AI." for n in range(100))
    summary = changes.draft_summary(change(added=sentences))
    assert len(summary) <= 2000
    assert summary.startswith("Sentence number 0 says") and summary.endswith("about AI.")
    assert summary == " ".join(sentences[: summary.count("Sentence")])


def test_a_first_sentence_longer_than_the_limit_is_cut_at_a_word() -> None:
    summary = changes.draft_summary(change(added=("word " * 1000,)))
    assert len(summary) <= 2000 and summary.endswith("word…")


def test_with_nothing_added_the_summary_is_what_was_removed() -> None:
    summary = changes.draft_summary(change(added=(), removed=("You may object.", "Or not.")))
    assert summary == "No longer in the text: You may object. Or not."


def test_control_characters_of_a_page_never_reach_the_summary() -> None:
    summary = changes.draft_summary(change(added=("Models\x00 are\x1b trained.",)))
    assert summary == "Models are trained."


def test_a_link_the_schema_would_refuse_is_left_for_the_organiser() -> None:
    odd = change(source_url="Open Terms Archive: LinkedIn Privacy Policy", setting_url="")
    assert set(changes.draft_document(odd, "x")["policy"]) == {"id", "title", "summary"}


# -- terms marked --------------------------------------------------------------------------------


def marked(terms: Terms, sentence: str) -> list[str]:
    return [sentence[start:end] for start, end in terms.spans(sentence)]


def test_the_terms_found_are_marked_as_written() -> None:
    assert marked(DEFAULT, TRAIN) == ["train", "generative", "AI", "models", "default", "opt out"]
    assert marked(Terms.of(["entraînement", "IA"]), "L'Entrainement de l'IA.") == [
        "Entrainement",
        "IA",
    ]
    assert marked(Terms.of(["AI"]), "said Aida") == []


def test_marks_map_back_through_characters_that_fold_to_more_or_fewer() -> None:
    # "ﬁ" folds to two letters, "e" with a combining accent to one: the marks stay on them
    sentence = "ﬁne: the Mode\u0301le is trained"
    assert marked(Terms.of(["modele", "train"]), sentence) == ["Mode\u0301le", "trained"]


def test_overlapping_terms_make_one_mark() -> None:
    assert marked(Terms.of(["legitimate interest", "interest"]), "a legitimate interests test") == [
        "legitimate interests"
    ]
