"""JSON documents read strictly: no repeated keys, no NaN or Infinity.

JSON readers disagree on which of two equal keys wins, so a document with a repeated key
could show one value to a person and another to custody (a hash, a commitment); and NaN or
Infinity are not JSON at all. Both are refused with ValueError, like any malformed JSON.
"""

from __future__ import annotations

import json
from typing import Any


def loads_strict(text: str) -> Any:
    """The document in `text`; ValueError (json.JSONDecodeError too) when it is not strict JSON."""
    return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_repeats)


def decode_strict(data: bytes) -> Any:
    """The UTF-8 document in `data`; ValueError saying what is wrong when it is not one."""
    try:
        return loads_strict(data.decode("utf-8"))  # UnicodeDecodeError is a ValueError
    except RecursionError:
        # Deep nesting exhausts the decoder's stack; no custody document nests deeply.
        raise ValueError("nested too deeply") from None


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a key is repeated")
    return document
