"""Bad input, property-based: Hypothesis over every parser and page that takes outside input.

One profile for the whole folder: bounded and derandomized, so CI sees the same examples on
every run and the suite stays fast (`HYPOTHESIS_PROFILE=deep` explores more, by hand).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.integration.conftest import stack  # noqa: F401  (the fixture, for this folder)

_COMMON = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "print_blob": True,
    # The `stack` fixture (moto, tables from template.yaml) is made once per test and shared
    # by its examples on purpose: each example checks what it changed itself.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=60, **_COMMON)
settings.register_profile("deep", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
