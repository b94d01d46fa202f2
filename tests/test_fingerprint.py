"""The root-key fingerprint: full form, short form, and its check character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.commitments import fingerprint_of
from custody.field import N
from custody.fingerprint import Fingerprint, crockford_base32, is_short_form_well_typed

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# Pinned so that docs/spec/commitments.md and any printed page can be checked against code.
KNOWN = [
    (
        0xDC5E295348BE975458C225AFA3163BB43E4AFF01FBCF651E4EDE7D93E659D2D7,
        "03c26b7926753434d407d6cd14fae1cdd47479ca6e9a77c773d3dc885470df5476",
        "WRTA-72KX-4HS5-G577",
    ),
    (
        0x0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20,
        "02515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f",
        "HG5V-7YMQ-78VS-8P7Z",
    ),
]

# Fingerprint checks only the shape of its point, so any 02/03-prefixed 33 bytes will do
# for the short form's properties (no curve arithmetic per example).
points = st.tuples(st.sampled_from([b"\x02", b"\x03"]), st.binary(min_size=32, max_size=32)).map(
    b"".join
)


@pytest.mark.parametrize(("key", "full", "short"), KNOWN)
def test_known_fingerprints(key: int, full: str, short: str) -> None:
    fingerprint = fingerprint_of(key)
    assert fingerprint.hex == full
    assert fingerprint.short == short
    assert is_short_form_well_typed(short)


@given(st.integers(min_value=1, max_value=N - 1))
def test_full_form_is_a_compressed_point_in_lowercase_hex(key: int) -> None:
    full = fingerprint_of(key).hex
    assert len(full) == 66
    assert full[:2] in ("02", "03")
    assert full == full.lower()
    assert fingerprint_of(key) == Fingerprint(bytes.fromhex(full))


@given(points)
def test_short_form_is_well_typed(point: bytes) -> None:
    short = Fingerprint(point).short
    assert len(short) == 19
    assert [len(group) for group in short.split("-")] == [4, 4, 4, 4]
    assert is_short_form_well_typed(short)


@given(points)
def test_every_single_character_substitution_is_caught(point: bytes) -> None:
    short = Fingerprint(point).short
    for position, original in enumerate(short):
        if original == "-":
            continue
        for other in CROCKFORD.replace(original, ""):
            mistyped = short[:position] + other + short[position + 1 :]
            assert not is_short_form_well_typed(mistyped), (short, mistyped)


@given(points)
def test_every_swap_of_neighbouring_characters_is_caught(point: bytes) -> None:
    text = Fingerprint(point).short.replace("-", "")
    for i in range(15):
        if text[i] == text[i + 1]:
            continue
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        grouped = "-".join(swapped[j : j + 4] for j in range(0, 16, 4))
        assert not is_short_form_well_typed(grouped)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "WRTA72KX4HS5G577",
        "wrta-72kx-4hs5-g577",  # lower case is not the printed form
        "WRTA-72KX-4HS5-G57",
        "WRTA-72KX-4HS5-G5777",
        "WRTA-72KX-4HS5-G577\n",
        "WRTI-72KX-4HS5-G577",  # I, L, O, U are not Crockford symbols
        "WRTA-72KX-4HS5-G57U",
        " WRTA-72KX-4HS5-G577",
    ],
)
def test_malformed_short_forms_are_not_well_typed(text: str) -> None:
    assert not is_short_form_well_typed(text)


@pytest.mark.parametrize(
    "point", [b"", bytes(33), b"\x04" + bytes(32), b"\x02" + bytes(31), b"\x02" + bytes(33)]
)
def test_a_fingerprint_must_be_a_compressed_point(point: bytes) -> None:
    with pytest.raises(ValueError):
        Fingerprint(point)


def test_crockford_base32() -> None:
    assert crockford_base32(bytes(5)) == "00000000"
    assert crockford_base32(b"\xff" * 5) == "ZZZZZZZZ"
    assert crockford_base32(b"f") == "CR"
    assert not set(crockford_base32(bytes(range(256)))) & set("ILOU")
