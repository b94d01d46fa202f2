"""Paper text (docs/spec/papertext.md): round trips, typing tolerance, and every typing fault
of the F rows (F01-F03, F05-F07) caught and named by its line.

The per-line check is custody's own code; `_reference_polymod` below is BIP-173's reference
polymod written out independently, validated on BIP-350's published bech32m vectors, and then
used to check custody's lines as ordinary bech32m strings.
"""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.formats import papertext
from custody.formats.papertext import (
    LineResult,
    assemble,
    encode_paper_lines,
    encode_paper_text,
    parse_line,
    parse_paper_text,
)
from custody.paper.errors import ExpectedPayload, PaperTextError, PayloadMismatchError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M = 0x2BC830A3

# BIP-350, "Test vectors for Bech32m": every valid string.
BIP350_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

# bytes 0x00..0x27 (40 bytes): two data lines, then the end line. Also in the spec.
EXAMPLE = (
    "001: 000G4 0R40M 30E20 9185G R38E1 W8124 GK2GA HC5RR  WAE3M7",
    "002: 34D1P 70X3R FJ089 24CJ2 A9H70 00000 00000 00000  9Q5AVJ",
    "003: 00M5Z AJEXG V12NB 82B1D EJT3F J64KB EKZ48 F2033  TEQPY3",
)

payloads = st.binary(min_size=1, max_size=400)


def _reference_polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def _is_bech32m(hrp: str, data: list[int]) -> bool:
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _reference_polymod(expanded + data) == BECH32M


def _typed_symbols(line: str) -> str:
    return line.split(":", 1)[1].replace(" ", "")


@pytest.mark.parametrize("vector", BIP350_VALID)
def test_the_reference_polymod_accepts_bip350_vectors(vector: str) -> None:
    hrp, data = vector.lower().rsplit("1", 1)
    assert _is_bech32m(hrp, [BECH32.index(c) for c in data])


def test_lines_are_bech32m_over_domain_line_number_and_data() -> None:
    lines = encode_paper_lines(bytes(range(40)))
    assert lines == EXAMPLE
    for number, line in enumerate(lines, 1):
        domain = "custody-papertext-v1-" + ("end" if number == len(lines) else "data")
        values = [number >> 5, number & 31] + [ALPHABET.index(c) for c in _typed_symbols(line)]
        assert _is_bech32m(domain, values)


def test_the_end_line_holds_length_and_digest() -> None:
    end = parse_line(3, EXAMPLE[2])
    assert end.kind == "end"
    assert end.block == (40).to_bytes(2, "big") + hashlib.sha256(bytes(range(40))).digest()[:23]


@given(payloads)
def test_round_trip(payload: bytes) -> None:
    lines = encode_paper_lines(payload)
    assert len(lines) == -(-len(payload) // 25) + 1
    assert parse_paper_text(encode_paper_text(payload)) == payload


def test_round_trip_at_the_size_limit() -> None:
    payload = bytes(range(256)) * 32
    assert parse_paper_text(encode_paper_text(payload)) == payload
    assert encode_paper_lines(payload)[-1].startswith("329: ")


@pytest.mark.parametrize("size", [0, 8193])
def test_encoding_refuses_sizes_outside_the_format(size: int) -> None:
    with pytest.raises(ValueError):
        encode_paper_lines(bytes(size))


def test_what_people_do_when_typing_is_tolerated() -> None:
    payload = bytes(range(40))
    sloppy = [_typed_symbols(line).lower().replace("0", "o").replace("1", "l") for line in EXAMPLE]
    grouped = [" -".join(s[i : i + 5] for i in range(0, 46, 5)) for s in sloppy]
    typed = "\n\n".join(f"{n}: {line}" for n, line in enumerate(grouped, 1))
    assert parse_paper_text("\r\n" + typed.replace("\n", "\r\n") + "\n\n") == payload
    assert parse_line(1, "  " + sloppy[0].replace("l", "I")).block == bytes(range(25))


def test_every_single_character_fault_on_a_line_is_caught() -> None:
    # Exhaustive over one line: every substitution (F01), insertion and deletion (F02) and
    # adjacent transposition (F03).
    symbols = _typed_symbols(EXAMPLE[1])
    variants = set()
    for i in range(len(symbols) + 1):
        variants.add(symbols[:i] + symbols[i + 1 :])
        variants.update(symbols[:i] + c + symbols[i:] for c in ALPHABET)
        variants.update(symbols[:i] + c + symbols[i + 1 :] for c in ALPHABET)
        variants.add(symbols[: i - 1] + symbols[i : i + 1] + symbols[i - 1 : i] + symbols[i + 1 :])
    variants.discard(symbols)
    assert len(variants) > 2500
    for variant in variants:
        with pytest.raises(PaperTextError) as caught:
            parse_line(2, variant)
        assert caught.value.line == 2
        assert caught.value.kind in {"line-check-failed", "line-length", "wrong-line"}


@st.composite
def typed_with_one_fault(draw: st.DrawFn) -> tuple[bytes, int, str]:
    payload = draw(payloads)
    lines = list(encode_paper_lines(payload))
    index = draw(st.integers(0, len(lines) - 1))
    symbols = _typed_symbols(lines[index])
    at = draw(st.integers(0, len(symbols) - 1))
    fault = draw(st.sampled_from(["substitute", "insert", "delete", "transpose"]))
    other = draw(st.sampled_from([c for c in ALPHABET if c != symbols[at]]))
    if fault == "substitute":
        symbols = symbols[:at] + other + symbols[at + 1 :]
    elif fault == "insert":
        symbols = symbols[:at] + other + symbols[at:]
    elif fault == "delete":
        symbols = symbols[:at] + symbols[at + 1 :]
    else:
        at = min(at, len(symbols) - 2)
        swapped = symbols[:at] + symbols[at + 1] + symbols[at] + symbols[at + 2 :]
        if swapped == symbols:  # two equal neighbours: swapping them changes nothing
            swapped = symbols[:at] + other + symbols[at + 1 :]
        symbols = swapped
    lines[index] = f"{index + 1:03d}: {symbols}"
    return payload, index + 1, "\n".join(lines)


@settings(max_examples=300)
@given(typed_with_one_fault())
def test_one_typing_fault_anywhere_is_caught_and_its_line_named(
    case: tuple[bytes, int, str],
) -> None:
    _, line, text = case
    with pytest.raises(PaperTextError) as caught:
        parse_paper_text(text)
    assert caught.value.line == line


@settings(max_examples=300)
@given(payloads, st.data())
def test_up_to_four_substitutions_on_a_line_are_always_caught(
    payload: bytes, data: st.DataObject
) -> None:
    # The guarantee of the BCH code's distance (spec "What the check promises").
    lines = encode_paper_lines(payload)
    number = data.draw(st.integers(1, len(lines)))
    symbols = list(_typed_symbols(lines[number - 1]))
    for at in data.draw(st.sets(st.integers(0, len(symbols) - 1), min_size=2, max_size=4)):
        symbols[at] = data.draw(st.sampled_from([c for c in ALPHABET if c != symbols[at]]))
    with pytest.raises(PaperTextError) as caught:
        parse_line(number, "".join(symbols))
    assert caught.value.line == number


@settings(max_examples=200)
@given(payloads, st.data())
def test_five_or_more_errors_on_a_line_are_never_accepted(
    payload: bytes, data: st.DataObject
) -> None:
    # F07: far beyond what the line check guarantees; the payload digest still refuses it.
    lines = list(encode_paper_lines(payload))
    index = data.draw(st.integers(0, len(lines) - 1))
    symbols = list(_typed_symbols(lines[index]))
    positions = data.draw(st.sets(st.integers(0, len(symbols) - 1), min_size=5, max_size=20))
    for at in positions:
        symbols[at] = data.draw(st.sampled_from([c for c in ALPHABET if c != symbols[at]]))
    lines[index] = f"{index + 1:03d}: {''.join(symbols)}"
    with pytest.raises(PaperTextError):
        parse_paper_text("\n".join(lines))


LONG = bytes(range(200))  # 8 data lines and the end line


@pytest.mark.parametrize(
    ("order", "kind", "line"),
    [
        ([1, 2, 4, 3, 5, 6, 7, 8, 9], "line-out-of-order", 3),
        ([1, 2, 3, 5, 6, 7, 8, 9], "missing-line", 4),
        ([1, 2, 3, 3, 4, 5, 6, 7, 8, 9], "duplicate-line", 3),
        ([1, 2, 3, 4, 5, 6, 7, 8], "missing-end-line", 9),
        ([2, 3, 4, 5, 6, 7, 8, 9], "missing-line", 1),
    ],
)
def test_lines_swapped_missing_doubled_or_out_of_order_are_named(
    order: list[int], kind: str, line: int
) -> None:
    lines = encode_paper_lines(LONG)
    with pytest.raises(PaperTextError) as caught:
        parse_paper_text("\n".join(lines[n - 1] for n in order))
    assert (caught.value.kind, caught.value.line) == (kind, line)


def test_a_line_typed_in_the_wrong_place_is_named_as_such() -> None:
    lines = encode_paper_lines(LONG)
    with pytest.raises(PaperTextError) as caught:
        parse_line(4, _typed_symbols(lines[4]))
    assert (caught.value.kind, caught.value.line) == ("wrong-line", 4)
    assert "line 005" in caught.value.message
    with pytest.raises(PaperTextError) as caught:
        parse_line(4, lines[4])
    assert caught.value.kind == "line-number-mismatch"
    with pytest.raises(PaperTextError) as caught:
        parse_line(5, _typed_symbols(lines[8]))
    assert "line 009" in caught.value.message


def test_the_incremental_api_lets_a_typer_retry_one_line() -> None:
    lines = encode_paper_lines(LONG)
    typed: list[LineResult] = []
    for number, line in enumerate(lines, 1):
        if number == 3:
            with pytest.raises(PaperTextError):
                parse_line(3, _typed_symbols(line)[:-1] + "0")
        typed.append(parse_line(number, _typed_symbols(line)))
    assert [result.kind for result in typed] == ["data"] * 8 + ["end"]
    assert assemble(typed) == LONG


def test_lines_of_two_sheets_do_not_pass_together() -> None:
    other = bytes(reversed(LONG))
    mixed = [*encode_paper_lines(LONG)[:4], *encode_paper_lines(other)[4:]]
    with pytest.raises(PaperTextError) as caught:
        parse_paper_text("\n".join(mixed))
    assert caught.value.kind == "digest-mismatch"


def test_another_shards_page_is_a_payload_mismatch() -> None:
    # F06: every line checks and the digest holds, but it is not the logged packet.
    expected = ExpectedPayload(
        hashlib.sha256(b"the logged packet").digest(), "shard 3 of ceremony X"
    )
    with pytest.raises(PayloadMismatchError) as caught:
        parse_paper_text(encode_paper_text(LONG), expected=expected)
    assert caught.value.kind == "payload-mismatch"
    assert "shard 3 of ceremony X" in caught.value.message
    right = ExpectedPayload(hashlib.sha256(LONG).digest(), "shard 3 of ceremony X")
    assert parse_paper_text(encode_paper_text(LONG), expected=right) == LONG


def _forged(blocks: list[bytes]) -> list[LineResult]:
    *data, end = blocks
    lines = [papertext._encode_line(n, "data", b) for n, b in enumerate(data, 1)]
    lines.append(papertext._encode_line(len(blocks), "end", end))
    return [parse_line(n, line) for n, line in enumerate(lines, 1)]


def test_non_zero_padding_and_a_wrong_length_are_refused() -> None:
    payload = bytes(range(30))
    end = (30).to_bytes(2, "big") + hashlib.sha256(payload).digest()[:23]
    padded = payload[25:] + b"\x01" + bytes(19)
    with pytest.raises(PaperTextError) as caught:
        assemble(_forged([payload[:25], padded, end]))
    assert (caught.value.kind, caught.value.line) == ("bad-padding", 2)
    long_end = (60).to_bytes(2, "big") + end[2:]
    with pytest.raises(PaperTextError) as caught:
        assemble(_forged([payload[:25], payload[25:] + bytes(20), long_end]))
    assert (caught.value.kind, caught.value.line) == ("length-mismatch", 3)


def test_nothing_may_follow_the_end_line() -> None:
    lines = encode_paper_lines(bytes(range(40)))
    results = [parse_line(n, line) for n, line in enumerate(lines, 1)]
    with pytest.raises(PaperTextError) as caught:
        assemble([*results, results[0]])
    assert (caught.value.kind, caught.value.line) == ("line-after-end", 4)
    with pytest.raises(PaperTextError):
        assemble([])


@pytest.mark.parametrize("text", ["001: \u0131ABCD", "001: ABCDU", "001: ABC*D", "7: 00000"])
def test_characters_custody_never_prints_are_refused(text: str) -> None:
    with pytest.raises(PaperTextError) as caught:
        parse_line(1, text)
    assert caught.value.line == 1


def test_a_bad_line_number_argument_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        parse_line(0, EXAMPLE[0])
    with pytest.raises(ValueError):
        LineResult(number=1, kind="data", block=b"short")


@settings(max_examples=150)
@given(st.integers(1, 329), st.text(max_size=120))
def test_parse_line_of_arbitrary_text_raises_only_the_domain_error(number: int, text: str) -> None:
    with contextlib.suppress(PaperTextError):
        parse_line(number, text)


@settings(max_examples=150)
@given(st.one_of(st.text(max_size=400), st.text(alphabet="0123456789:ABCXYZ \n", max_size=400)))
def test_parse_of_arbitrary_text_raises_only_the_domain_error(text: str) -> None:
    with contextlib.suppress(PaperTextError):
        parse_paper_text(text)
