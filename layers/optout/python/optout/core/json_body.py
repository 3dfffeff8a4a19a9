"""JSON request bodies read strictly, the same way for every route that takes one.

Stricter than `json.loads` where leniency is a risk: a key given twice is refused (a signing
proxy and this parser could each read a different one: a known bypass), and so is text that
is not UTF-8 (a lone surrogate escape such as ``\\ud800`` cannot be stored, sent or shown) or
that holds control characters (NUL, VT, FF... reach mail headers and pages raw). Each problem
is named by its path, like the schema's problems.
"""

from __future__ import annotations

import json
import re
from typing import Any

from optout.core.errors import InvalidInput

# C0 and C1 controls and DEL, but tab and line breaks, which summaries and steps may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(f"the key {key[:40]!r} is given twice")
        document[key] = value
    return document


def parse_object(body: bytes | str) -> dict[str, Any]:
    """The JSON object in `body`; `InvalidInput` names what is wrong, and where."""
    try:
        document = json.loads(body or "null", object_pairs_hook=_refuse_duplicates)
    except RecursionError:
        raise InvalidInput({"body": "JSON nested too deeply"}) from None
    except _DuplicateKey as error:
        raise InvalidInput({"body": f"not valid JSON: {error}"}) from None
    except json.JSONDecodeError as error:
        raise InvalidInput(
            {"body": f"not valid JSON ({error.msg} at character {error.pos})"}
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput({"body": "not valid JSON: not UTF-8 text"}) from None
    if not isinstance(document, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    problems: dict[str, str] = {}
    _check_text(document, "", problems)
    if problems:
        raise InvalidInput(dict(sorted(problems.items())))
    return document


def _check_text(value: Any, path: str, problems: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{path}.<key>".lstrip("."), problems)
            _check_text(item, f"{path}.{key}".lstrip(".") if is_utf8(key) else path, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]", problems)
    elif isinstance(value, str):
        if not is_utf8(value):
            problems[path or "body"] = "is not UTF-8 text (it holds a lone surrogate escape)"
        elif _CONTROL.search(value):
            problems[path or "body"] = "holds a control character (NUL, VT, FF...): remove it"


def is_utf8(value: str) -> bool:
    """Whether `value` can be written as UTF-8 (a lone surrogate cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
