"""Canonical JSON: byte-exact encodings, refused values, strict reading back."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.log.canonical import (
    JSON,
    MAX_PAYLOAD_BYTES,
    check_payload,
    encode_canonical,
    parse_canonical,
)

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
SCALARS = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT
VALUES: st.SearchStrategy[JSON] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
PAYLOADS = st.dictionaries(KEYS, VALUES, max_size=5)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"b": 1, "a": [True, False, None]}, b'{"a":[true,false,null],"b":1}'),
        ({"t": 'q"\\/'}, b'{"t":"q\\"\\\\/"}'),
        ({"t": "\b\t\n\f\r\x00\x1f\x7f"}, b'{"t":"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f"}'),
        ({"t": "é€😀\u2028"}, '{"t":"é€😀\u2028"}'.encode()),
        ({"n": -(2**53) + 1}, b'{"n":-9007199254740991}'),
        ({"z": 0, "a_1": {}, "a": []}, b'{"a":[],"a_1":{},"z":0}'),
    ],
)
def test_encodings_are_byte_exact(value: dict[str, JSON], encoded: bytes) -> None:
    assert encode_canonical(check_payload(value)) == encoded
    assert parse_canonical(encoded) == value


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"x": 1.0}, TypeError),
        ({"x": float("nan")}, TypeError),
        ({"x": b"\x00"}, TypeError),
        ({"x": bytearray(b"k")}, TypeError),
        ({"x": {1, 2}}, TypeError),
        ({"x": 2**53}, ValueError),
        ({"x": -(2**53)}, ValueError),
        ({"X": 1}, ValueError),
        ({"1x": 1}, ValueError),
        ({"a-b": 1}, ValueError),
        ({"é": 1}, ValueError),
        ({1: 1}, ValueError),
        ({"secret": "00"}, ValueError),
        ({"outer": {"root_key": "00"}}, ValueError),
        ({"list": [{"passphrase": "x"}]}, ValueError),
        ({"x": "\ud800"}, ValueError),
        ({"x": [[[[[[[[[1]]]]]]]]]}, ValueError),
        ({"x": "a" * MAX_PAYLOAD_BYTES}, ValueError),
    ],
)
def test_payloads_that_cannot_be_logged_are_refused(
    payload: dict[object, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        check_payload(payload)  # type: ignore[arg-type]


def test_booleans_stay_booleans_and_tuples_become_lists() -> None:
    assert check_payload({"a": (1, True)}) == {"a": [1, True]}
    assert encode_canonical(check_payload({"a": (1, True)})) == b'{"a":[1,true]}'


@given(PAYLOADS)
def test_round_trip_and_agreement_with_sorted_json(payload: dict[str, JSON]) -> None:
    encoded = encode_canonical(check_payload(payload))
    assert parse_canonical(encoded) == payload
    assert (
        encoded
        == json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 1}',
        b'{"b":1,"a":2}',
        b'{"a":1,"a":1}',
        b'{"a":1.0}',
        b'{"a":1e3}',
        b'{"a":NaN}',
        b'{"a":"\\u00e9"}',
        b'{"a":"\\/"}',
        b'{"a":1}\n',
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b"",
    ],
)
def test_second_encodings_are_refused(text: bytes) -> None:
    with pytest.raises(ValueError):
        parse_canonical(text)


@given(st.binary(max_size=64))
def test_reading_arbitrary_bytes_raises_only_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_canonical(data)
