"""The dashboard's charts as an organiser reads them: labelled funnel bars with values and
shares, a region with nothing yet saying so, time axes whose labels never overlap and are in
the organiser's zone."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from optout.organisers import charts

SVG = "{http://www.w3.org/2000/svg}"
STAGES = ["people reached", "messages sent", "clicked a link", "switched it off"]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (markup this process drew, not received)


def texts(svg: str) -> list[str]:
    return [element.text or "" for element in parse(svg).iter(f"{SVG}text")]


def ticks(svg: str) -> list[tuple[float, str]]:
    """The axis labels: (centre x, text), left to right."""
    return [
        (float(element.attrib["x"]), element.text or "")
        for element in parse(svg).iter(f"{SVG}text")
        if element.attrib.get("class") == "tick"
    ]


def test_a_region_with_nothing_yet_says_so_instead_of_a_column_of_zeros() -> None:
    # Given EU with numbers and HK with none
    svg = charts.funnel(
        [("EU", [200, 180, 40, 18]), ("HK", [0, 0, 0, 0])], STAGES, "Funnel per region"
    )

    # Then HK's line says there is nothing yet, and no "0" is drawn anywhere
    shown = texts(svg)
    assert shown[shown.index("HK") + 1] == "nothing yet: no reminder has gone out"
    assert "0" not in shown and not any(text.startswith("0") for text in shown)


def test_each_funnel_bar_is_labelled_with_its_value_and_share_of_the_step_before() -> None:
    svg = charts.funnel([("EU", [2000, 1800, 450, 180])], STAGES, "Funnel per region")

    shown = texts(svg)
    assert shown == [
        "EU",
        "people reached",
        "2,000",
        "messages sent",
        "1,800 · 90%",
        "clicked a link",
        "450 · 25%",
        "switched it off",
        "180 · 40%",
    ]
    assert "EU: people reached 2,000" in parse(svg).find(f"{SVG}desc").text  # type: ignore[union-attr]


def test_a_campaign_with_no_region_yet_says_so() -> None:
    assert texts(charts.funnel([], STAGES, "Funnel per region")) == [
        "nothing yet: no reminder has gone out"
    ]


def test_text_in_a_chart_is_escaped() -> None:
    svg = charts.bars([("<script>", 3, "")], "Switched off, by <b>", "none")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    parse(svg)  # well-formed


@pytest.mark.parametrize(
    ("days", "hours"),
    [(3, 0), (14, 0), (31, 0), (90, 0), (365, 0), (0, 6), (1, 0), (2, 0)],
)
def test_no_two_axis_labels_are_closer_than_their_width(days: int, hours: int) -> None:
    # Given a campaign running for `days` (or `hours`) with a confirmation every hour
    start = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    end = start + timedelta(days=days, hours=hours)
    counts = {
        (start + timedelta(hours=n)).strftime("%Y-%m-%dT%H"): 1
        for n in range(int((end - start).total_seconds() // 3600))
    }

    svg = charts.timeline(counts, "Confirmations over time", start, end, "Europe/Brussels")

    # Then the axis has labels, and each pair of neighbours is apart by more than half of
    # each one's width (they are centred), none sticking out of the chart
    labelled = ticks(svg)
    assert len(labelled) >= 2
    for (x1, a), (x2, b) in itertools.pairwise(labelled):
        assert x2 - x1 >= (charts.text_width(a) + charts.text_width(b)) / 2, (a, b)
    assert all(x - charts.text_width(t) / 2 >= 0 for x, t in labelled)
    assert all(x + charts.text_width(t) / 2 <= charts.WIDTH for x, t in labelled)


def test_the_axis_is_in_the_organiser_s_zone_and_says_which() -> None:
    # Given one confirmation at 23:30 UTC on 26 Oct, which is 00:30 on 27 Oct in Brussels
    start = datetime(2025, 10, 20, 0, 0, tzinfo=UTC)
    end = datetime(2025, 10, 28, 12, 0, tzinfo=UTC)
    svg = charts.timeline({"2025-10-26T23": 1}, "Confirmations", start, end, "Europe/Brussels")

    # Then it is counted on the 27th, and the chart names the zone
    titles = [element.text for element in parse(svg).iter(f"{SVG}title")]
    assert "27 Oct: 1" in titles and "26 Oct: 0" in titles
    assert "days, Europe/Brussels time" in texts(svg)
    assert next(t for _, t in ticks(svg)) in ("20 Oct", "21 Oct")


def test_a_day_axis_labels_days_once_each_not_one_on_top_of_another() -> None:
    start = datetime(2025, 10, 1, tzinfo=UTC)
    svg = charts.timeline({}, "Confirmations", start, start + timedelta(days=45), "UTC")
    labels = [t for _, t in ticks(svg)]
    assert len(labels) == len(set(labels)) and len(labels) <= 8
    assert "10-1310-14" not in svg


def test_conversion_bars_show_the_count_and_the_rate_or_say_nobody_yet() -> None:
    svg = charts.bars(
        [("EU one week left", 12, "4.0% of 300 sent"), ("EU last day", 30, "")],
        "Switched off, by reminder",
        "nobody has switched it off yet",
    )
    assert texts(svg) == ["EU one week left", "12 · 4.0% of 300 sent", "EU last day", "30"]
    empty = charts.bars([], "Switched off, by reminder", "nobody has switched it off yet")
    assert texts(empty) == ["nobody has switched it off yet"]
