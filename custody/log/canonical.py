"""Canonical JSON: the one byte encoding of a log payload, entry body or config (log.md §2).

This module owns the payload rules: which values a payload may hold, how they are encoded,
and how an encoding is read back strictly. It refuses floats (no canonical form), bytes
(secret material is never logged raw), non-string keys, keys outside `[a-z][a-z0-9_]*`, and
the key names that would carry secrets. A refused payload is a caller's mistake, so the
errors are `TypeError`/`ValueError`; a stored encoding that fails to parse raises
`ValueError` for the reader to translate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias

JSON: TypeAlias = bool | int | str | list["JSON"] | dict[str, "JSON"] | None

MAX_SAFE_INTEGER: Final = 2**53 - 1
MAX_DEPTH: Final = 8
MAX_PAYLOAD_BYTES: Final = 262_144
FORBIDDEN_KEYS: Final = frozenset(
    {"secret", "seed", "private_key", "root_key", "shard_value", "passphrase", "password"}
)
_KEY: Final = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)


def encode_canonical(value: JSON) -> bytes:
    """The canonical bytes of a value already checked by `check_payload` (or built by us)."""
    # With keys restricted to ASCII, sorted keys, no whitespace and ensure_ascii=False, the
    # json module's output for these types is exactly RFC 8785's.
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate; it has no UTF-8 encoding") from None


def check_payload(payload: Mapping[str, object]) -> dict[str, JSON]:
    """A plain, checked copy of `payload`, or TypeError/ValueError naming the offending key."""
    if not isinstance(payload, Mapping):
        raise TypeError("a payload is a mapping of names to JSON values")
    checked = _checked_object(payload, "payload", 1)
    size = len(encode_canonical(checked))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"the payload encodes to {size} bytes; at most {MAX_PAYLOAD_BYTES}")
    return checked


def _checked(value: object, where: str, depth: int) -> JSON:
    if value is None or isinstance(value, bool):
        return value
    if type(value) is int:
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"{where}: integers stay within ±(2**53 - 1)")
        return value
    if type(value) is str:
        return value
    if isinstance(value, float):
        raise TypeError(f"{where}: floats have no canonical form; use an integer or a string")
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{where}: bytes are not logged; log a digest or an id as hex")
    if isinstance(value, Mapping):
        return _checked_object(value, where, depth + 1)
    if isinstance(value, Sequence) and not isinstance(value, str):
        _check_depth(where, depth + 1)
        return [_checked(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")


def _checked_object(value: Mapping[Any, object], where: str, depth: int) -> dict[str, JSON]:
    _check_depth(where, depth)
    checked: dict[str, JSON] = {}
    for key, item in value.items():
        if type(key) is not str or not _KEY.fullmatch(key):
            raise ValueError(f"{where}: key {key!r} is not a lower-case name [a-z][a-z0-9_]*")
        if key in FORBIDDEN_KEYS:
            raise ValueError(f"{where}.{key}: the log never carries secret material")
        checked[key] = _checked(item, f"{where}.{key}", depth)
    return checked


def _check_depth(where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")


def _refuse_constant(text: str) -> None:
    raise ValueError(f"{text} is not canonical JSON")


def parse_canonical(data: bytes) -> JSON:
    """Read canonical JSON back; ValueError unless `data` is exactly the canonical encoding."""
    try:
        value: JSON = json.loads(
            data.decode("utf-8"), parse_float=_refuse_constant, parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if encode_canonical(value) != data:
        raise ValueError("not in canonical form (spacing, key order, escapes or a duplicate key)")
    return value
