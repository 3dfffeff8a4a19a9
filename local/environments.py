"""Each function's own environment, as Lambda gives it: template.yaml's Globals and the
function's own `Environment`, nothing else.

Locally every function runs in one process, whose environment holds all of them (the tests
change a setting there, as an operator changes a function's configuration). A handler's
`settings.get()` reads it through `OwnEnvironment`, which hides the variables template.yaml
gives only other functions: a read of one of those is noted (`missing_variables`, which the
test fixtures report), since on AWS that function would not have it and would silently take
the default.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from functools import cache

from local import template
from optout.core import settings
from optout.core.settings import Settings

_lock = threading.Lock()
_missing: set[tuple[str, str]] = set()


def missing_variables() -> list[str]:
    """The variables functions read that template.yaml does not give them, since last forgotten."""
    with _lock:
        return [
            f"{function} reads {name}, which template.yaml does not give it"
            for function, name in sorted(_missing)
        ]


def forget_missing_variables() -> None:
    with _lock:
        _missing.clear()


@cache
def _hidden(logical_id: str) -> frozenset[str]:
    """The variables template.yaml gives other functions but not this one."""
    return template.environment_variables() - template.functions()[logical_id].variables


class OwnEnvironment(Mapping[str, str]):
    """The process environment as `logical_id` would have it on AWS."""

    def __init__(self, logical_id: str, environ: Mapping[str, str] = os.environ) -> None:
        self._function = logical_id
        self._environ = environ
        self._hidden = _hidden(logical_id)

    def __getitem__(self, name: str) -> str:
        if name in self._hidden:
            with _lock:
                _missing.add((self._function, name))
            raise KeyError(name)
        return self._environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._environ if name not in self._hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class OwnSettings:
    """Stands in for the `optout.core.settings` module in one function's handler: its `get()` gives
    the settings of that function's own environment."""

    def __init__(self, logical_id: str) -> None:
        self._function = logical_id
        self._of: Settings | None = None  # the process's settings these were made beside
        self._own: Settings | None = None

    def get(self) -> Settings:
        # A test that changes the environment clears `settings.get`; then these are made again.
        shared = settings.get()
        own = self._own
        if own is None or self._of is not shared:
            own = settings.from_environ(OwnEnvironment(self._function))
            self._of, self._own = shared, own
        return own
