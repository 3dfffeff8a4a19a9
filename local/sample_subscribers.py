"""`python -m local.sample_subscribers 1000 > people.csv`: a CSV of made-up subscribers to try
`optout import` with, in the columns it reads (see the README).

People live in the campaign's regions and speak their languages; most signed a paper form
(proof of consent: active at once), the rest came from an old list without proof (they get a
confirmation first). Addresses are on example.org, which never receives mail.
"""

from __future__ import annotations

import argparse
import csv
import sys

PLACES = [  # country, language
    ("DE", "de"),
    ("AT", "de"),
    ("FR", "fr"),
    ("BE", "nl"),
    ("NL", "nl"),
    ("ES", "es"),
    ("IT", "it"),
    ("PL", "pl"),
    ("PT", "pt"),
    ("SE", "sv"),
    ("NO", "en"),
    ("CH", "de"),
    ("CA", "fr-CA"),
    ("CA", "en"),
    ("HK", "zh-HK"),
]
COLUMNS = [
    "contact",
    "region",
    "locale",
    "platforms",
    "consent_source",
    "consent_at",
    "consent_form",
    "consent_proof",
]


def rows(count: int) -> list[dict[str, str]]:
    people = []
    for number in range(count):
        country, locale = PLACES[number % len(PLACES)]
        proven = number % 4 != 3  # one in four without proof: a confirmation first
        people.append(
            {
                "contact": f"member-{number:05d}@example.org",
                "region": country,
                "locale": locale,
                "platforms": "linkedin" if number % 3 else "linkedin;meta",
                "consent_source": "paper form at the digital rights fair" if proven else "",
                "consent_at": "2025-09-20T14:00:00Z" if proven else "",
                "consent_form": "paper-form-v2" if proven else "",
                "consent_proof": f"box 1, sheet {number // 20 + 1}" if proven else "",
            }
        )
    return people


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.sample_subscribers", description=__doc__)
    parser.add_argument("count", type=int, nargs="?", default=1000, help="rows (default 1000)")
    count = parser.parse_args(argv).count
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(count))


if __name__ == "__main__":
    main()
