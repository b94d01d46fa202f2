"""SPIKE's shard file, read strictly: the A rows of bad-inputs.md, and parser properties."""

from __future__ import annotations

import base64
import contextlib
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.errors import ShardFormatError
from custody.field import N
from custody.formats.spike import (
    encode_shard_line,
    id_from_file_name,
    parse_root_key_text,
    parse_shard_text,
    shard_file_name,
)
from custody.shards import Shard
from tests.conftest import assert_no_secret

HEX = "bf91632aa33f0d9ddca8c504ff87af01e546d8528a636227895ee44532561f1e"
VALUE = int(HEX, 16)
LINE = f"spike:1:{HEX}".encode()
SOURCE = "stick/spike.recovery.1.txt"


def refused(data: bytes, kind: str, *secrets: str) -> ShardFormatError:
    """Parse `data`, expect `kind`, and check the message names the file and line, no secret."""
    with pytest.raises(ShardFormatError) as caught:
        parse_shard_text(data, source=SOURCE)
    error = caught.value
    assert error.kind == kind, error.message
    assert error.message.startswith(SOURCE + ": ")
    if kind not in ("empty-shard-file", "bad-encoding"):
        assert f"{SOURCE}: line 1 " in error.message
    assert_no_secret([HEX, *secrets], error.message, error.hint or "")
    return error


def test_spike_output_parses_exactly() -> None:
    parsed = parse_shard_text(LINE, source=SOURCE)
    assert parsed.shard == Shard(1, VALUE)
    assert parsed.shard.source == SOURCE
    assert parsed.encoding == "hex"
    assert parsed.notes == ()


def test_a01_empty_file() -> None:
    refused(b"", "empty-shard-file")


@pytest.mark.parametrize("digits", [0, 1, 63, 65, 128])
def test_a02_a03_wrong_length(digits: int) -> None:
    value = (HEX * 2)[:digits]
    error = refused(b"spike:1:" + value.encode(), "bad-shard-length")
    assert f"{digits} hex digits" in error.message


@pytest.mark.parametrize("bad", ["g", "z", " ", "-", "\x01", "é"])
def test_a04_non_hex_character(bad: str) -> None:
    data = f"spike:1:{HEX[:10]}{bad}{HEX[11:]}".encode()
    refused(data, "bad-encoding" if not bad.isascii() else "bad-hex")


def test_a05_upper_case_hex_is_accepted_and_canonicalised() -> None:
    upper = parse_shard_text(f"spike:1:{HEX.upper()}".encode(), source=SOURCE)
    mixed = parse_shard_text(f"spike:1:{HEX[:32]}{HEX[32:].upper()}".encode(), source=SOURCE)
    assert upper.shard == mixed.shard == Shard(1, VALUE)
    assert upper.notes == mixed.notes == ("upper-case hex read as lower-case",)
    assert encode_shard_line(upper.shard) == LINE


@pytest.mark.parametrize(
    ("ending", "note"), [(b"\n", "trailing newline ignored"), (b"\r\n", "trailing CRLF ignored")]
)
def test_a07_one_trailing_line_ending_is_accepted_and_reported(ending: bytes, note: str) -> None:
    parsed = parse_shard_text(LINE + ending, source=SOURCE)
    assert parsed.shard == Shard(1, VALUE)
    assert parsed.notes == (note,)


@pytest.mark.parametrize(
    "tail",
    [
        b"\n\n",
        b"\r\n\r\n",
        b"\n\r\n",
        b"\r",
        b"\r\r\n",
        b" ",
        b"  ",
        b"\t",
        b" \n",
        b"\n ",
        b"\x0b",
        b"\x0c",
        b"\nspike:2:" + HEX.encode(),
    ],
)
def test_a07_anything_more_is_trailing_garbage(tail: bytes) -> None:
    # `$` in a regex matches before a final newline; the parser must not let `\n\n` through.
    refused(LINE + tail, "trailing-garbage")


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + LINE,
        "spike:1:".encode("utf-16") + HEX.encode("utf-16-le"),
        (f"spike:1:{HEX}").encode("utf-16-le"),
        (f"spike:1:{HEX}").encode("utf-16-be"),
        b"\xff\xfe" + LINE,
        LINE[:20] + b"\x00" + LINE[21:],
        LINE[:20] + b"\xc3\xa9" + LINE[22:],
    ],
)
def test_a08_bom_utf16_nul_and_non_ascii(data: bytes) -> None:
    refused(data, "bad-encoding")


@pytest.mark.parametrize(
    "raw_id",
    [
        "0",
        "00",
        "1001",
        "9999",
        "10000",
        "256000",
        str(2**64),
        str(N),
        str(N + 1),
        "01",
        "007",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1_0",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: `int()` would read it as 1
        "0x1",
        "1e2",
        "",
    ],
)
def test_a09_a11_bad_ids(raw_id: str) -> None:
    data = f"spike:{raw_id}:{HEX}".encode()
    kind = "invalid-shard-id" if raw_id.isascii() else "bad-encoding"
    refused(data, kind)


@pytest.mark.parametrize("shard_id", [1, 5, 9, 10, 256, 999, 1000])
def test_a11_ids_up_to_1000_are_fine(shard_id: int) -> None:
    assert parse_shard_text(f"spike:{shard_id}:{HEX}".encode(), source=SOURCE).shard.id == shard_id


def test_a11_a_huge_id_is_refused_without_converting_it() -> None:
    # A million digits would take seconds to convert (and Python refuses > 4300 digits).
    data = b"spike:" + b"7" * 1_000_000 + b":" + HEX.encode()
    start = time.perf_counter()
    refused(data, "invalid-shard-id")
    assert time.perf_counter() - start < 0.5


def test_a11_leading_zero_id_message() -> None:
    assert "leading zeros" in refused(f"spike:01:{HEX}".encode(), "invalid-shard-id").message


@pytest.mark.parametrize(
    "data",
    [
        f"SPIKE:1:{HEX}",
        f"Spike:1:{HEX}",
        f"spike 1:{HEX}",
        f"spike 1 {HEX}",
        f":1:{HEX}",
        f"1:{HEX}",
        f"spike:{HEX}",
        f"spike:1:{HEX}:",
        f"spike:1:2:{HEX}",
        f" spike:1:{HEX}",
        f"spike::1:{HEX}",
        "spike:",
        "spike",
    ],
)
def test_a12_bad_prefix_or_shape(data: str) -> None:
    refused(data.encode(), "bad-shard-format")


def test_a13_zero_value() -> None:
    refused(b"spike:1:" + b"0" * 64, "zero-shard")


@pytest.mark.parametrize("value", [2**256 - 1, N, N + 5, N + 2**200], ids=["ff", "N", "N+5", "big"])
def test_a14_value_not_below_n_is_never_reduced(value: int) -> None:
    value_hex = f"{value:064x}"
    refused(f"spike:1:{value_hex}".encode(), "non-canonical-scalar", value_hex)


def test_a14_n_minus_1_is_fine() -> None:
    assert parse_shard_text(f"spike:1:{N - 1:064x}".encode(), source=SOURCE).shard.value == N - 1


def test_fields_in_the_wrong_order_do_not_echo_the_value() -> None:
    error = refused(f"spike:{HEX}:1".encode(), "invalid-shard-id")
    assert not any(HEX[i : i + 8] in error.message for i in range(57)), "part of the value shown"


def test_legacy_base64_is_accepted_and_reported() -> None:
    # SPIKE up to v0.4.0 wrote the value as standard base64.
    data = b"spike:1:" + base64.b64encode(bytes.fromhex(HEX))
    parsed = parse_shard_text(data, source=SOURCE)
    assert parsed.shard == Shard(1, VALUE)
    assert parsed.encoding == "legacy-base64"
    assert parsed.notes == ("legacy base64 value",)
    assert encode_shard_line(parsed.shard) == LINE
    assert parse_shard_text(data + b"\n", source=SOURCE).shard == parsed.shard


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(bytes.fromhex(HEX))[:42] + b"B=",  # unused low bits set: a 2nd encoding
        base64.b64encode(bytes.fromhex(HEX))[:43],  # padding missing
        base64.b64encode(bytes.fromhex(HEX))[:42] + b"==",
        base64.urlsafe_b64encode(bytes.fromhex("fb" * 32)),  # URL-safe alphabet
        base64.b64encode(bytes.fromhex(HEX)[:31]),  # 31 bytes
    ],
)
def test_non_canonical_or_short_base64_is_refused(value: bytes) -> None:
    with pytest.raises(ShardFormatError) as caught:
        parse_shard_text(b"spike:1:" + value, source=SOURCE)
    assert f"{SOURCE}: line 1 " in caught.value.message
    assert_no_secret(HEX, caught.value.message)


@pytest.mark.parametrize("value", [bytes(32), (N).to_bytes(32, "big")], ids=["zero", "N"])
def test_legacy_base64_values_are_range_checked(value: bytes) -> None:
    kind = "zero-shard" if value == bytes(32) else "non-canonical-scalar"
    refused(b"spike:1:" + base64.b64encode(value), kind, value.hex())


def test_file_names() -> None:
    assert shard_file_name(7) == "spike.recovery.7.txt"
    assert id_from_file_name("spike.recovery.7.txt") == 7
    assert id_from_file_name("spike.recovery.1000.txt") == 1000
    for name in [
        "spike.recovery.0.txt",
        "spike.recovery.07.txt",
        "spike.recovery.7.txt~",
        "spike.recovery.-1.txt",
        "Spike.recovery.1.txt",
        "spike.recovery.1.TXT",
        "spike.recovery.10000.txt",
        "spike.recovery..txt",
        "spike-recovery-1.txt",
    ]:
        assert id_from_file_name(name) is None, name


shards = st.builds(Shard, id=st.integers(1, 1000), value=st.integers(1, N - 1))


@given(shards)
def test_encode_then_parse_round_trips(shard: Shard) -> None:
    line = encode_shard_line(shard)
    assert line == f"spike:{shard.id}:{shard.value:064x}".encode()
    assert len(line) == len(b"spike::") + len(str(shard.id)) + 64
    assert parse_shard_text(line, source="x").shard == shard
    assert parse_shard_text(line + b"\r\n", source="x").shard == shard


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_the_domain_error(data: bytes) -> None:
    with contextlib.suppress(ShardFormatError):
        parse_shard_text(data, source="x")


@given(shards, st.integers(0, 71), st.integers(0, 255))
def test_any_byte_changed_in_a_line_parses_or_raises_the_domain_error(
    shard: Shard, index: int, byte: int
) -> None:
    line = bytearray(encode_shard_line(shard))
    line[index % len(line)] = byte
    try:
        parsed = parse_shard_text(bytes(line), source="x")
    except ShardFormatError as error:
        assert_no_secret(f"{shard.value:064x}", error.message)
    else:
        assert encode_shard_line(parsed.shard).lower() == bytes(line).lower()


@given(st.text(alphabet="spike:0123456789abcdefABCDEF \r\n\t", max_size=90))
def test_near_miss_text_raises_only_the_domain_error(text: str) -> None:
    try:
        parsed = parse_shard_text(text.encode(), source="x")
    except ShardFormatError:
        pass
    else:
        assert text.rstrip("\r\n").lower() == encode_shard_line(parsed.shard).decode()


def test_root_key_file() -> None:
    key = "00ffeeddccbbaa99887766554433221100112233445566778899aabbccddeeff"
    assert parse_root_key_text(key.encode(), source="k") == int(key, 16)
    assert parse_root_key_text(key.encode() + b"\n", source="k") == int(key, 16)
    assert parse_root_key_text(key.encode() + b"\r\n", source="k") == int(key, 16)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"0" * 64,
        f"{N:064x}".encode(),
        b"f" * 64,
        HEX.upper().encode(),
        HEX[:63].encode(),
        HEX.encode() + b"\n\n",
        HEX.encode() + b" ",
        b" " + HEX.encode(),
        b"0x" + HEX[2:].encode(),
    ],
)
def test_bad_root_key_files_are_refused(data: bytes) -> None:
    with pytest.raises(ShardFormatError) as caught:
        parse_root_key_text(data, source="key.hex")
    assert caught.value.kind == "bad-root-key"
    assert caught.value.message.startswith("key.hex: ")
    assert_no_secret(HEX, caught.value.message)
