"""The commitments document: written canonically, read strictly, any edit refused or caught."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.commitments import Commitments, commit, find_bad_shards
from custody.errors import CommitmentsError
from custody.field import N
from custody.formats.commitments import MAX_DOCUMENT_BYTES, encode_commitments, parse_commitments
from custody.shamir import split
from custody.shards import Shard

SOURCE = "commitments.json"


def make_set(
    threshold: int = 3, shares: int = 5, seed: int = 1
) -> tuple[Commitments, tuple[Shard, ...]]:
    rng = random.Random(seed)
    polynomial, shards = split(
        1 + rng.randrange(N - 1), threshold, shares, random_below=rng.randrange
    )
    return commit(polynomial, [s.id for s in shards]), shards


COMMITMENTS, SHARDS = make_set()
DOCUMENT: dict[str, Any] = json.loads(encode_commitments(COMMITMENTS))


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def refused(data: bytes) -> CommitmentsError:
    with pytest.raises(CommitmentsError) as caught:
        parse_commitments(data, source=SOURCE)
    assert caught.value.kind == "bad-commitments"
    assert caught.value.message.startswith(SOURCE + " ")
    return caught.value


def test_encoding_is_canonical() -> None:
    data = encode_commitments(COMMITMENTS)
    assert data.endswith(b"}\n")
    assert data == (json.dumps(DOCUMENT, indent=2, sort_keys=True) + "\n").encode()
    assert set(DOCUMENT) == {
        "format",
        "version",
        "curve",
        "threshold",
        "ids",
        "commitments",
        "fingerprint",
        "fingerprint_short",
    }
    assert DOCUMENT["format"] == "custody-commitments"
    assert DOCUMENT["version"] == 1
    assert DOCUMENT["curve"] == "P-256"
    assert DOCUMENT["fingerprint"] == DOCUMENT["commitments"][0]
    assert DOCUMENT["fingerprint_short"] == COMMITMENTS.fingerprint.short


def test_the_spec_example_parses() -> None:
    # docs/spec/commitments.md's example, the test set main-t2-n3-counting.
    document = {
        "commitments": [
            "02515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f",
            "027b6c6cc40e03dd032b1284af91f936018ddb9f87089287e0ecf3b6282b2eb129",
        ],
        "curve": "P-256",
        "fingerprint": "02515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f",
        "format": "custody-commitments",
        "ids": [1, 2, 3],
        "threshold": 2,
        "version": 1,
    }
    commitments = parse_commitments(encoded(document), source=SOURCE)
    assert commitments.ids == (1, 2, 3)
    assert commitments.threshold == 2


@settings(max_examples=10)
@given(st.integers(2, 6), st.integers(0, 4), st.randoms(use_true_random=False))
def test_encode_then_parse_round_trips(threshold: int, spare: int, rng: random.Random) -> None:
    polynomial, shards = split(
        1 + rng.randrange(N - 1), threshold, threshold + spare, random_below=rng.randrange
    )
    commitments = commit(polynomial, [s.id for s in shards])
    data = encode_commitments(commitments)
    assert parse_commitments(data, source=SOURCE) == commitments
    assert encode_commitments(parse_commitments(data, source=SOURCE)) == data


def test_fingerprint_short_is_optional_when_reading() -> None:
    document = {k: v for k, v in DOCUMENT.items() if k != "fingerprint_short"}
    assert parse_commitments(encoded(document), source=SOURCE) == COMMITMENTS


def mutations() -> list[tuple[str, Any]]:
    """(field, new value): each a single change to one field of DOCUMENT."""
    points = DOCUMENT["commitments"]
    other, _ = make_set(seed=2)
    return [
        ("threshold", 2),
        ("threshold", 4),
        ("threshold", 5),
        ("threshold", "3"),
        ("threshold", 3.0),
        ("threshold", True),
        ("threshold", None),
        ("threshold", 1),
        ("threshold", 1001),
        ("ids", [1, 2, 3, 4]),
        ("ids", [1, 2, 3, 4, 6]),
        ("ids", [0, 1, 2, 3, 4]),
        ("ids", [2, 1, 3, 4, 5]),
        ("ids", [1, 2, 2, 4, 5]),
        ("ids", [1, 2]),
        ("ids", [1, 2, 3, 4, 1001]),
        ("ids", [1, 2, 3, 4, 5.0]),
        ("ids", [1, 2, 3, 4, "5"]),
        ("ids", [True, 2, 3, 4, 5]),
        ("ids", "1..5"),
        ("commitments", [points[0], points[2], points[1]]),
        ("commitments", [points[0], points[1], other.points[2].hex()]),
        ("commitments", [points[0], points[1]]),
        ("commitments", [*points, points[0]]),
        ("commitments", [points[0], points[1], points[2].upper()]),
        ("commitments", [points[0], points[1], "04" + points[2][2:]]),
        ("commitments", [points[0], points[1], points[2][:-2]]),
        ("commitments", [points[0], points[1], "02" + "ff" * 32]),
        ("commitments", [points[0], points[1], None]),
        ("fingerprint", points[1]),
        ("fingerprint", points[0].upper()),
        ("fingerprint", other.points[0].hex()),
        ("fingerprint_short", DOCUMENT["fingerprint_short"].lower()),
        ("fingerprint_short", other.fingerprint.short),
        ("fingerprint_short", None),
        ("format", "custody-commitment"),
        ("version", 2),
        ("version", 1.0),
        ("version", True),
        ("version", "1"),
        ("curve", "P-384"),
        ("curve", "p-256"),
    ]


@pytest.mark.parametrize(("field", "value"), mutations())
def test_any_single_field_changed_is_refused_or_fails_verification(field: str, value: Any) -> None:
    document = {**DOCUMENT, field: value}
    try:
        changed = parse_commitments(encoded(document), source=SOURCE)
    except CommitmentsError as error:
        assert error.kind == "bad-commitments"
        return
    # A document that still parses (a well-formed but different set) must not vouch for the
    # genuine shards: some of them fail it, or it names a different key.
    assert changed != COMMITMENTS
    bad = find_bad_shards(SHARDS, changed)
    assert bad or changed.fingerprint != COMMITMENTS.fingerprint, (field, value)


@pytest.mark.parametrize("field", sorted(DOCUMENT))
def test_a_missing_field_is_refused_unless_optional(field: str) -> None:
    document = {k: v for k, v in DOCUMENT.items() if k != field}
    if field == "fingerprint_short":
        parse_commitments(encoded(document), source=SOURCE)
    else:
        refused(encoded(document))


def test_an_extra_field_is_refused() -> None:
    refused(encoded({**DOCUMENT, "comment": "hello"}))


def test_a_repeated_key_is_refused() -> None:
    # JSON parsers disagree on which copy wins; a reader must not see a different set.
    text = encode_commitments(COMMITMENTS).decode()
    repeated = text.replace('"threshold": 3', '"threshold": 2, "threshold": 3')
    assert repeated != text
    refused(repeated.encode())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'"x"',
        b"3",
        b"\xff\xfe{}",
        b"{" * 10,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"threshold": NaN}',
        b'{"threshold": Infinity}',
        encode_commitments(COMMITMENTS) + b"x",
        encode_commitments(COMMITMENTS).replace(b"\n", b"\r\n")[:-2] + b"{}",
        b'{"threshold": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_documents_are_refused(data: bytes) -> None:
    refused(data)


def test_an_oversized_document_is_refused() -> None:
    data = encode_commitments(COMMITMENTS)
    padded = data[:-2] + b" " * (MAX_DOCUMENT_BYTES - len(data) + 1) + data[-2:]
    assert "larger than" in refused(padded).message


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_the_domain_error(data: bytes) -> None:
    with contextlib.suppress(CommitmentsError):
        parse_commitments(data, source=SOURCE)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.sampled_from(sorted(DOCUMENT)), json_values)
def test_arbitrary_json_in_any_field_raises_only_the_domain_error(field: str, value: Any) -> None:
    try:
        parsed = parse_commitments(encoded({**DOCUMENT, field: value}), source=SOURCE)
    except CommitmentsError:
        pass
    else:
        assert parsed == COMMITMENTS  # only an equal value (e.g. the same list) may parse


@given(st.integers(0, len(encode_commitments(COMMITMENTS)) - 1), st.integers(0, 255))
def test_any_byte_changed_is_refused_or_harmless(index: int, byte: int) -> None:
    data = bytearray(encode_commitments(COMMITMENTS))
    data[index] = byte
    try:
        parsed = parse_commitments(bytes(data), source=SOURCE)
    except CommitmentsError:
        return
    assert parsed == COMMITMENTS  # whitespace, or an equal rewrite such as 1 -> 1 in an id
