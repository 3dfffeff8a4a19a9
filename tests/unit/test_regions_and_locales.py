import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from optout.core.errors import InvalidInput
from optout.domain import locales, regions
from optout.web import public


@pytest.mark.parametrize(
    "code, group",
    [
        ("DE", "EU"),
        ("de", "EU"),
        ("EU", "EU"),
        ("NO", "EEA"),
        ("CH", "CH"),
        ("GB", "UK"),
        ("uk", "UK"),
        ("CA", "CA"),
        ("HK", "HK"),
        ("US", "US"),
        ("IE", "EU"),
    ],
)
def test_countries_and_groups_resolve_to_their_home_group(code: str, group: str) -> None:
    assert regions.resolve(code).group == group


@pytest.mark.parametrize("code", ["JP", "XX", "", "EUROPE", "D"])
def test_unknown_regions_are_invalid_input(code: str) -> None:
    with pytest.raises(InvalidInput, match="unknown region"):
        regions.resolve(code)


def test_the_eea_reaches_the_eu_and_the_other_eea_countries() -> None:
    assert regions.audience_groups(regions.resolve("EEA")) == ("EU", "EEA")
    assert regions.audience_groups(regions.resolve("DE")) == ("EU",)


@pytest.mark.parametrize(
    "code, zone",
    [
        ("DE", "Europe/Berlin"),
        ("FR", "Europe/Paris"),
        ("EU", "Europe/Brussels"),
        ("CA", "America/Toronto"),
        ("HK", "Asia/Hong_Kong"),
        ("GB", "Europe/London"),
    ],
)
def test_a_subscriber_without_a_time_zone_gets_their_country_or_region_zone(
    code: str, zone: str
) -> None:
    assert regions.default_timezone(regions.resolve(code)) == zone


@pytest.mark.parametrize(
    "requested, locale",
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("DE-at", "de"),
        ("fr_CA", "fr-CA"),
        ("fr-ca", "fr-CA"),
        ("fr-BE", "fr"),
        ("zh-HK", "zh-HK"),
        ("zh-TW", "zh-HK"),
        ("pt-BR", "pt"),
        ("sv", "sv"),
    ],
)
def test_requested_locales_map_onto_the_supported_ones(requested: str | None, locale: str) -> None:
    assert locales.resolve(requested) == locale


@pytest.mark.parametrize("requested", ["tlh", "ja", "en-", "<script>", "x" * 40])
def test_unsupported_or_malformed_locales_are_invalid_input(requested: str) -> None:
    with pytest.raises(InvalidInput, match="unsupported language"):
        locales.resolve(requested)


@pytest.mark.parametrize(
    "header, locale",
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr-CA,fr;q=0.8", "fr-CA"),
        ("ja,fr;q=0.5", "fr"),  # the first language we write, in the browser's order
        ("en;q=0.2, sv;q=0.9", "sv"),  # quality, not position, decides
        ("zh-TW,zh;q=0.9", "zh-HK"),  # the one Chinese we write
        ("pt-BR", "pt"),
        ("*", "en"),
        ("de;q=0", "en"),  # q=0 means "not this one"
        ("", "en"),
        (None, "en"),
        ("<script>,;;;q=x", "en"),
    ],
)
def test_a_browser_s_accept_language_picks_a_supported_locale(
    header: str | None, locale: str
) -> None:
    assert locales.negotiate(header) == locale


@pytest.mark.parametrize(
    "query, header, locale",
    [
        ({"lang": "sv"}, "de-DE", "sv"),  # the person's choice wins over the browser's
        ({"lang": "fr_ca"}, None, "fr-CA"),
        ({"lang": "tlh"}, "de-DE", "de"),  # a language we do not write: the browser's
        (None, "it-CH,it;q=0.9", "it"),
        (None, None, "en"),
    ],
)
def test_a_page_without_a_subscriber_takes_lang_then_accept_language(
    query: dict[str, str] | None, header: str | None, locale: str
) -> None:
    event = APIGatewayProxyEvent(
        {
            "path": "/subscribe",
            "httpMethod": "GET",
            "headers": {"Accept-Language": header} if header else {},
            "queryStringParameters": query,
        }
    )
    assert public.page_locale(event) == locale
