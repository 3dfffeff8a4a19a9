"""The region catalogue: the groups campaigns target, and the countries that belong to each.

A subscriber gives a country (``DE``) or a group (``EU``); both resolve to a *home group*, which
is the partition of the audience index they live in. A campaign region names a group or a
country; `audience_groups` says which home groups it reaches (``EEA`` reaches ``EU`` and the
EEA countries outside the EU, whose home group is ``EEA``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from optout.core.errors import InvalidInput


def N_(name: str) -> str:  # gettext's name for this, which `make messages` looks for
    """Marks a group's English name for translation; pages and messages show it translated."""
    return name


TEST_REGION = "ZZ"


@dataclass(frozen=True)
class Group:
    code: str
    name: str  # in English; `render.translate` gives it in a subscriber's language
    reference_zone: str  # the zone in which the group's deadlines and mornings are reckoned
    countries: frozenset[str]


_EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)

GROUPS: dict[str, Group] = {
    g.code: g
    for g in (
        Group("EU", N_("European Union"), "Europe/Brussels", _EU),
        # As a home group: the EEA countries outside the EU. As a campaign region: all of the EEA.
        Group("EEA", N_("European Economic Area"), "Europe/Oslo", frozenset({"IS", "LI", "NO"})),
        Group("CH", N_("Switzerland"), "Europe/Zurich", frozenset({"CH"})),
        Group("UK", N_("United Kingdom"), "Europe/London", frozenset({"GB", "GG", "JE", "IM"})),
        Group("CA", N_("Canada"), "America/Toronto", frozenset({"CA"})),
        Group("HK", N_("Hong Kong"), "Asia/Hong_Kong", frozenset({"HK"})),
        Group("US", N_("United States"), "America/New_York", frozenset({"US"})),
        # ISO 3166's user-assigned ZZ: where `optout smoke` puts AWS's test recipients, and only
        # them (`subscriptions` refuses it for anyone else), so that a smoke campaign launched
        # to it can reach no person, whatever they subscribed to.
        Group(TEST_REGION, "Test recipients", "UTC", frozenset()),
    )
}
# The groups a person may choose from; a page or a refusal never offers the test region.
PUBLIC_GROUPS = {code: group for code, group in GROUPS.items() if code != TEST_REGION}

_HOME_GROUP = {country: g.code for g in GROUPS.values() for country in g.countries}


@dataclass(frozen=True)
class Region:
    """What a subscriber or campaign named (``code``) and the audience partition it maps to."""

    code: str
    group: str

    @property
    def is_country(self) -> bool:
        return self.code not in GROUPS


def resolve(code: str, *, field: str = "region") -> Region:
    """Resolve a group or ISO 3166-1 alpha-2 code, in any case; anything else is invalid input."""
    normalised = code.strip().upper() if isinstance(code, str) else ""
    if normalised in GROUPS:
        return Region(normalised, normalised)
    if normalised in _HOME_GROUP:
        return Region(normalised, _HOME_GROUP[normalised])
    raise InvalidInput({field: unknown_region(code)})


def unknown_region(code: object) -> str:
    choices = ", ".join(PUBLIC_GROUPS)
    return f"unknown region {code!r}; use one of {choices} or a country in them"


def audience_groups(region: Region) -> tuple[str, ...]:
    """The home groups whose subscribers a campaign for `region` reaches."""
    if region.code == "EEA":
        return ("EU", "EEA")
    return (region.group,)


def countries(region: Region) -> frozenset[str]:
    """The countries a subscriber in `region` may live in (their phone numbers' countries)."""
    if region.is_country:
        return frozenset({region.code})
    return frozenset().union(*(GROUPS[group].countries for group in audience_groups(region)))


def default_timezone(region: Region) -> str:
    """The zone to assume for a subscriber who gave none.

    A country uses its first zone in the IANA zone table (Germany: Europe/Berlin); a whole
    group, or a country that is a group of its own and spans zones (Canada, the US), uses the
    group's reference zone.
    """
    if region.code in GROUPS:
        return GROUPS[region.code].reference_zone
    zones = _country_zones().get(region.code, ())
    return zones[0] if zones else GROUPS[region.group].reference_zone


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> zones, read from tzdata's zone.tab (shipped in the layer)."""
    table: dict[str, list[str]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, zone, *_ = line.split("\t")
            table.setdefault(country, []).append(zone)
    return {country: tuple(zones) for country, zones in table.items()}
