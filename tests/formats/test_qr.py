"""QR chunks (docs/spec/qr.md): any order reassembles; a foreign, duplicate, missing or
malformed code is named (F09); a payload that is not the logged one is refused (F06)."""

from __future__ import annotations

import contextlib
import hashlib
import random

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.formats.qr import (
    MAX_CODE_BYTES,
    FoundCode,
    QrBinding,
    assemble_chunks,
    encode_chunks,
    parse_chunk,
)
from custody.paper.errors import ExpectedPayload, PayloadMismatchError, QrChunkError

BINDING = QrBinding("2026-12-01-intake", 3)
PAYLOAD = bytes(range(256)) * 3  # 768 bytes: four codes


def found(chunks: tuple[bytes, ...] | list[bytes], where: str = "page") -> list[FoundCode]:
    return [FoundCode(content=c, source=f"{where} {i + 1}") for i, c in enumerate(chunks)]


def test_the_header_is_the_spec_layout() -> None:
    # The context tag computed here from the spec's words, not by the module under test.
    cid = b"2026-12-01-intake"
    framed = (
        b"custody qr context v1\x00" + len(cid).to_bytes(2, "big") + cid + (3).to_bytes(2, "big")
    )
    chunks = encode_chunks(PAYLOAD, BINDING)
    assert [len(c) for c in chunks] == [21 + 192] * 4
    for index, chunk in enumerate(chunks):
        assert chunk[:3] == b"CQ\x01"
        assert chunk[3:11] == hashlib.sha256(framed).digest()[:8]
        assert chunk[11:19] == hashlib.sha256(PAYLOAD).digest()[:8]
        assert chunk[19:21] == bytes([index, 4])
    assert b"".join(c[21:] for c in chunks) == PAYLOAD


@settings(max_examples=60)
@given(st.binary(min_size=1, max_size=3000), st.randoms(use_true_random=False))
def test_chunks_reassemble_in_any_order(payload: bytes, shuffler: random.Random) -> None:
    chunks = list(encode_chunks(payload, BINDING))
    assert all(len(c) <= MAX_CODE_BYTES for c in chunks)
    shuffler.shuffle(chunks)
    assert assemble_chunks(found(chunks), binding=BINDING) == payload
    assert assemble_chunks(found(chunks)) == payload


def test_the_largest_chunk_is_a_version_13_code_at_level_q() -> None:
    (chunk,) = encode_chunks(bytes(220), BINDING)
    assert len(chunk) == MAX_CODE_BYTES == 241
    code = segno.make_qr(chunk, error="q", mode="byte")
    assert code.version == 13
    assert code.error in {"Q", "H"}
    assert len(encode_chunks(bytes(221), BINDING)) == 2
    assert len(encode_chunks(bytes(8192), BINDING)) == 38


def test_a_code_from_another_shard_or_ceremony_is_a_payload_mismatch() -> None:
    for other in (QrBinding("2026-12-01-intake", 4), QrBinding("2026-12-02-intake", 3)):
        codes = found(encode_chunks(PAYLOAD, BINDING)[:2]) + found(
            encode_chunks(PAYLOAD, other)[2:], "scan.png"
        )
        with pytest.raises(PayloadMismatchError) as caught:
            assemble_chunks(codes, binding=BINDING)
        assert caught.value.kind == "payload-mismatch"
        assert "scan.png 1" in caught.value.message
        assert "shard 3 of ceremony 2026-12-01-intake" in caught.value.message


def test_two_sets_are_refused_as_ambiguous() -> None:
    codes = found(encode_chunks(PAYLOAD, BINDING), "a.pdf") + found(
        encode_chunks(b"other", QrBinding("x", 1)), "b.png"
    )
    with pytest.raises(QrChunkError) as caught:
        assemble_chunks(codes)
    assert caught.value.kind == "two-sets"
    assert caught.value.sources == ("a.pdf 1", "b.png 1")
    # Two versions of the same shard's packet are two sets too, even with the binding given.
    reissued = found(encode_chunks(PAYLOAD[::-1], BINDING), "old.pdf")
    with pytest.raises(QrChunkError) as caught:
        assemble_chunks(found(encode_chunks(PAYLOAD, BINDING)) + reissued, binding=BINDING)
    assert caught.value.kind == "two-sets"


def test_duplicate_and_missing_codes_are_named() -> None:
    chunks = encode_chunks(PAYLOAD, BINDING)
    with pytest.raises(QrChunkError) as caught:
        assemble_chunks(found([*chunks, chunks[1]]))
    assert caught.value.kind == "duplicate-chunk"
    assert "QR 2 of 4" in caught.value.message
    with pytest.raises(QrChunkError) as caught:
        assemble_chunks(found([chunks[0], chunks[2]]))
    assert caught.value.kind == "missing-chunk"
    assert "QR 2, 4 of 4" in caught.value.message


def test_codes_that_are_not_custody_codes_are_set_aside() -> None:
    foreign = [FoundCode(b"https://example.org", "poster")]
    assert assemble_chunks(foreign + found(encode_chunks(PAYLOAD, BINDING))) == PAYLOAD
    with pytest.raises(QrChunkError) as caught:
        assemble_chunks(foreign)
    assert caught.value.kind == "missing-chunk"


def test_the_expected_digest_is_checked() -> None:
    expected = ExpectedPayload(hashlib.sha256(b"logged").digest(), "the packet of shard 3")
    with pytest.raises(PayloadMismatchError):
        assemble_chunks(found(encode_chunks(PAYLOAD, BINDING)), expected=expected)


def _with(chunk: bytes, offset: int, value: int) -> bytes:
    return chunk[:offset] + bytes([value]) + chunk[offset + 1 :]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: _with(c, 2, 2),  # another format version
        lambda c: c[:21],  # no data
        lambda c: c[:15],  # short header
        lambda c: _with(c, 19, 4),  # index not below count
        lambda c: _with(c, 20, 0),  # count zero
        lambda c: _with(c, 20, 65),  # count above the limit
        lambda c: c + bytes(300),  # longer than any code
    ],
)
def test_malformed_chunks_are_refused(mutate: object) -> None:
    chunk = encode_chunks(PAYLOAD, BINDING)[0]
    with pytest.raises(QrChunkError) as caught:
        parse_chunk(mutate(chunk), source="page 1")  # type: ignore[operator]
    assert caught.value.kind == "bad-chunk"
    assert "page 1" in caught.value.message


def test_a_corrupted_or_resplit_set_is_refused() -> None:
    chunks = encode_chunks(PAYLOAD, BINDING)
    corrupted = [chunks[0], _with(chunks[1], 100, chunks[1][100] ^ 1), *chunks[2:]]
    resplit = [chunks[0][:-1], chunks[1][:21] + chunks[0][-1:] + chunks[1][21:], *chunks[2:]]
    disagreeing = [chunks[0], _with(chunks[1], 20, 5), *chunks[2:]]
    for codes in (corrupted, resplit, disagreeing):
        with pytest.raises(QrChunkError) as caught:
            assemble_chunks(found(codes))
        assert caught.value.kind == "bad-chunk"


@pytest.mark.parametrize(
    ("ceremony_id", "shard_id"), [("", 1), ("x" * 257, 1), ("a\nb", 1), ("x", -1), ("x", 1001)]
)
def test_a_binding_checks_itself(ceremony_id: str, shard_id: int) -> None:
    with pytest.raises(ValueError):
        QrBinding(ceremony_id, shard_id)


@pytest.mark.parametrize("size", [0, 8193])
def test_encoding_refuses_sizes_outside_the_format(size: int) -> None:
    with pytest.raises(ValueError):
        encode_chunks(bytes(size), BINDING)


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=400), st.binary(max_size=300).map(lambda b: b"CQ\x01" + b)))
def test_parse_of_arbitrary_bytes_raises_only_the_domain_error(content: bytes) -> None:
    with contextlib.suppress(QrChunkError):
        parse_chunk(content, source="page 1")


@settings(max_examples=100)
@given(st.lists(st.binary(max_size=80).map(lambda b: b"CQ\x01" + b), max_size=6))
def test_assembly_of_arbitrary_codes_raises_only_domain_errors(contents: list[bytes]) -> None:
    with contextlib.suppress(QrChunkError, PayloadMismatchError):
        assemble_chunks(found(contents), binding=BINDING)
