"""Webhook bodies: the published schema and the region catalogue, every problem at once."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from optout.core.errors import InvalidInput, PayloadTooLarge
from optout.domain import policy

PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"
LINKEDIN = json.loads((PAYLOADS / "policy-changed.linkedin.json").read_text(encoding="utf-8"))


def problems(document: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        policy.parse(json.dumps(document).encode())
    return caught.value.problems


def test_the_published_schema_is_valid_and_the_examples_conform() -> None:
    Draft202012Validator.check_schema(policy.schema())
    for example in PAYLOADS.glob("*.json"):
        assert (
            list(
                Draft202012Validator(policy.schema()).iter_errors(
                    json.loads(example.read_text(encoding="utf-8"))
                )
            )
            == []
        ), example


def test_the_linkedin_payload_parses() -> None:
    change = policy.parse(json.dumps(LINKEDIN).encode())
    assert (change.type, change.platform, change.policy.id) == (
        "policy.changed",
        "linkedin",
        "linkedin-genai-2025",
    )
    assert [entry.region.code for entry in change.regions] == ["EU", "EEA", "CH", "CA", "HK"]
    assert change.offsets_days == (14, 7, 1, 0) and change.local_hour == 9


def test_every_problem_is_listed_with_its_path() -> None:
    bad = json.loads(json.dumps(LINKEDIN))
    bad["policy"]["setting_url"] = "http://www.linkedin.com/settings"
    bad["policy"]["source_url"] = "not a url"
    bad["policy"]["steps"] = []
    bad["regions"] = [
        {"region": "Atlantis", "effective_at": "2025-11-03T00:00:00+01:00"},
        {"region": "EU", "effective_at": "2025-11-03T00:00:00"},
        {"region": "CA", "effective_at": "2025-13-03T00:00:00-05:00"},
        {"region": "ca", "effective_at": "2025-11-03T00:00:00-05:00"},
    ]
    found = problems(bad)
    assert set(found) == {
        "policy.setting_url",
        "policy.source_url",
        "policy.steps",
        "regions[0].region",
        "regions[1].effective_at",
        "regions[2].effective_at",
        "regions[3].region",
    }
    assert "https URL" in found["policy.setting_url"]
    assert "with its offset" in found["regions[1].effective_at"]
    assert "listed twice" in found["regions[3].region"]


@pytest.mark.parametrize(
    "change, path, words",
    [
        (lambda d: d.pop("regions"), "regions", "is required"),
        (lambda d: d["policy"].pop("steps"), "policy.steps", "is required"),
        (lambda d: d.update(type="policy.deleted"), "type", "policy.changed creates"),
        (lambda d: d.update(platform="Linked In"), "platform", "platform slug"),
        (
            lambda d: d.update(plan={"offsets_days": [7, 7]}),
            "plan.offsets_days",
            "different whole numbers",
        ),
        (lambda d: d.update(plan={"local_hour": 3}), "plan.local_hour", "6 to 20"),
        (lambda d: d.update(surprise=True), "body", "surprise"),
    ],
)
def test_each_kind_of_bad_body_names_its_field(change, path: str, words: str) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(json.dumps(LINKEDIN))
    change(document)
    assert words in problems(document)[path]


def test_a_withdrawal_needs_only_the_policy_id() -> None:
    change = policy.parse(
        b'{"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": "linkedin-genai-2025"}}'
    )
    assert change.type == policy.WITHDRAWN and change.regions == ()


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b"null", b'"text"', "\udcff".encode("utf-8", "surrogatepass")]
)
def test_what_is_not_a_json_object_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        policy.parse(body)


def test_a_body_over_64_kib_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        policy.parse(b" " * (64 * 1024 + 1))


CONTRACT_EXAMPLE = (PAYLOADS / "policy-changed.contract-example.json").read_bytes()


def test_the_contract_s_example_parses_as_published() -> None:
    # Given the body of DESIGN.md section 1.3, with no short title
    change = policy.parse(CONTRACT_EXAMPLE)
    # Then its text messages get one made from the title, naming the platform
    assert change.policy.text.short_title == "LinkedIn uses member data to train"
    assert [deadline.region.code for deadline in change.regions] == ["EU", "CA"]


@pytest.mark.parametrize(
    ("title", "platform", "short"),
    [
        # short enough: the title itself, tidied
        ("AI training", "linkedin", "LinkedIn: AI training"),
        ("LinkedIn  AI training ", "linkedin", "LinkedIn AI training"),
        # long: cut at the last whole word within 40 characters
        (
            "Meta will train AI models on your public posts and photos (Instagram, Facebook)",
            "meta",
            "Meta will train AI models on your public",
        ),
        # never with a dangling punctuation mark, nor a bracket that closes nothing kept
        ("LinkedIn (AI) opt-out, now!", "linkedin", "LinkedIn (AI) opt-out, now"),
        (
            "LinkedIn: AI, training, and more words, here",
            "linkedin",
            "LinkedIn: AI, training, and more words",
        ),
        # the platform's name leads when the cut drops it
        (
            "Données des membres utilisées pour entraîner l’IA générative de LinkedIn",  # noqa: RUF001
            "linkedin",
            "LinkedIn: Données des membres utilisées",
        ),
        # a script without spaces: cut between its characters, at 20 (UCS-2 halves a text)
        (
            "領英將使用會員資料訓練生成式人工智能模型，預設為開啟",  # noqa: RUF001
            "linkedin",
            "LinkedIn: 領英將使用會員資料訓",
        ),
        ("領英：會員資料訓練人工智能", "", "領英：會員資料訓練人工智能"),  # noqa: RUF001
        # one word longer than the limit: the platform's name stands for it
        ("Supercalifragilisticexpialidociousextraordinarily", "x", "X"),
    ],
)
def test_a_missing_short_title_is_made_from_the_title(
    title: str, platform: str, short: str
) -> None:
    made = policy.short_title_for(title, platform)
    assert made == short
    assert len(made) <= 40


def test_a_translation_without_a_short_title_gets_one_from_its_own_title() -> None:
    body = json.loads(CONTRACT_EXAMPLE)
    body["policy"]["translations"] = {
        "de": {"title": "LinkedIn nutzt Mitgliederdaten zum Training generativer KI"},
        "fr": {"summary": "Résumé seulement"},
    }
    change = policy.parse(json.dumps(body).encode())
    assert change.policy.in_language("de").short_title == "LinkedIn nutzt Mitgliederdaten zum"
    assert change.policy.in_language("fr").short_title == "LinkedIn uses member data to train"


# -- what an attacker tried (issue 13, section 4): each a 400 naming the field ----------------


@pytest.mark.parametrize(
    "effective_at",
    ["0001-01-01T00:00:00-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"],
)
def test_a_deadline_out_of_range_is_refused_by_name(effective_at: str) -> None:
    body = json.loads(CONTRACT_EXAMPLE)
    body["regions"][1]["effective_at"] = effective_at
    with pytest.raises(InvalidInput) as caught:
        policy.parse(json.dumps(body).encode(), datetime(2025, 10, 27, 9, 0, tzinfo=UTC))
    found = caught.value.problems
    assert list(found) == ["regions[1].effective_at"]
    assert (
        "between" in found["regions[1].effective_at"]
        or "real date" in found["regions[1].effective_at"]
    )


def test_a_deadline_more_than_five_years_ahead_or_a_year_back_is_refused() -> None:
    now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)  # the stack's clock

    def problems_at(effective_at: str) -> dict[str, str]:
        body = json.loads(CONTRACT_EXAMPLE)
        body["regions"][0]["effective_at"] = effective_at
        with pytest.raises(InvalidInput) as caught:
            policy.parse(json.dumps(body).encode(), now)
        return caught.value.problems

    assert (
        "between 2024-10-27" in problems_at("2024-10-01T00:00:00+01:00")["regions[0].effective_at"]
    )
    assert "and 2030-10-" in problems_at("2031-01-01T00:00:00+01:00")["regions[0].effective_at"]
    # And four years and a half ahead, or ten months back, are real campaigns
    for fine in ("2030-06-01T00:00:00+01:00", "2025-01-01T00:00:00+01:00"):
        body = json.loads(CONTRACT_EXAMPLE)
        body["regions"][0]["effective_at"] = fine
        policy.parse(json.dumps(body).encode(), now)


def test_a_lone_surrogate_is_refused_by_name() -> None:
    body = CONTRACT_EXAMPLE.replace(b'"title": "LinkedIn', b'"title": "a\\ud800b LinkedIn')
    with pytest.raises(InvalidInput) as caught:
        policy.parse(body)
    assert caught.value.problems == {
        "policy.title": "is not UTF-8 text (it holds a lone surrogate escape)"
    }


@pytest.mark.parametrize("control", ["\\u0000", "\\u000b", "\\u000c", "\\u001b"])
def test_control_characters_in_a_title_are_refused(control: str) -> None:
    body = CONTRACT_EXAMPLE.replace(b'"title": "LinkedIn', f'"title": "{control}LinkedIn'.encode())
    with pytest.raises(InvalidInput) as caught:
        policy.parse(body)
    assert "control character" in caught.value.problems["policy.title"]


def test_a_key_given_twice_is_refused() -> None:
    body = CONTRACT_EXAMPLE.replace(
        b'"platform": "linkedin",', b'"platform": "linkedin", "platform": "meta",'
    )
    with pytest.raises(InvalidInput) as caught:
        policy.parse(body)
    assert caught.value.problems == {"body": "not valid JSON: the key 'platform' is given twice"}
