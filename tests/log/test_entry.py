"""Entry encodings: body, hash and signature domains, the line, strict reading."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.errors import LogIntegrityError
from custody.log.entry import (
    TAIL_BYTES,
    ZERO_HASH,
    Entry,
    parse_entry_line,
    seal_entry,
    verify_entry_signature,
)
from custody.log.keys import generate_signer, verify_signature
from tests.log.conftest import OTHER_SEED, SEED

SIGNER = generate_signer(SEED)


def _entry(**changes: object) -> Entry:
    values: dict[str, object] = {
        "seq": 1,
        "time": "2026-12-01T09:00:00Z",
        "ceremony_id": "intake-1",
        "event": "shards.intake",
        "payload": {"shard": 3, "digest": "ab" * 32},
        "prev": ZERO_HASH,
    }
    values.update(changes)
    return seal_entry(SIGNER, **values)  # type: ignore[arg-type]


def test_the_line_is_canonical_json_with_the_body_inside() -> None:
    entry = _entry()
    body = (
        b'{"ceremony":"intake-1","event":"shards.intake",'
        b'"payload":{"digest":"' + b"ab" * 32 + b'","shard":3},'
        b'"prev":"' + b"0" * 64 + b'","seq":1,"time":"2026-12-01T09:00:00Z","v":1}'
    )
    assert entry.line.startswith(b'{"entry":' + body + b',"hash":"')
    assert entry.hash == hashlib.sha256(b"custody-log-entry-hash/1\x00" + body).digest()
    verify_signature(SIGNER.verifier, b"custody-log-entry-sig/1\x00" + entry.hash, entry.signature)
    document = json.loads(entry.line)
    assert document["hash"] == entry.hash.hex()
    assert document["kid"] == SIGNER.verifier.key_id.hex()
    assert document["sig"] == entry.signature.hex()
    assert json.dumps(document, sort_keys=True, separators=(",", ":")).encode() == entry.line
    assert TAIL_BYTES == 229


SPEC_EXAMPLE = (
    b'{"entry":{"ceremony":null,"event":"log.init","payload":{"custody_version":"0.1.0",'
    b'"key_fingerprint":"34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"},'
    b'"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,'
    b'"time":"2026-12-01T09:00:00Z","v":1},'
    b'"hash":"9ba97d07ee91fcca714288a46038c4fba541fd7aeb4719bc83a0ef9cca4cc56e","kid":"3a579795",'
    b'"sig":"38698074c219ac0016cd34c3dcfdd6f3b7ce07af34c9de22a3c15d1e35cdd063b2c7eb55db6742725fa'
    b'1161458fa750182feec32cd52830fb89c4eef0118db00"}'
)


def test_the_spec_example_is_a_known_answer() -> None:
    # docs/spec/log.md §3: entry 1 of a log whose key comes from the seed 01..01.
    signer = generate_signer(bytes([1]) * 32)
    payload = {"custody_version": "0.1.0", "key_fingerprint": signer.verifier.fingerprint}
    entry = seal_entry(
        signer,
        seq=1,
        time="2026-12-01T09:00:00Z",
        ceremony_id=None,
        event="log.init",
        payload=payload,
        prev=ZERO_HASH,
    )
    assert entry.line == SPEC_EXAMPLE
    verify_entry_signature(parse_entry_line(SPEC_EXAMPLE, position=1), signer.verifier)


def test_reading_a_line_back_gives_the_same_entry() -> None:
    entry = _entry(seq=9, prev=bytes(range(32)), ceremony_id=None)
    assert parse_entry_line(entry.line, position=9) == entry
    verify_entry_signature(entry, SIGNER.verifier)


@pytest.mark.parametrize(
    "changes",
    [
        {"event": "Shards.intake"},
        {"event": "shards"},
        {"event": "shards..intake"},
        {"event": "shards.intake."},
        {"event": "a." + "b" * 63},
        {"ceremony_id": "Intake"},
        {"ceremony_id": ""},
        {"ceremony_id": "-x"},
        {"ceremony_id": "a" * 65},
        {"time": "2026-12-01 09:00:00Z"},
        {"time": "2026-02-30T09:00:00Z"},
        {"time": "2026-12-01T09:00:00+00:00"},
        {"payload": {"x": 0.5}},
        {"payload": {"seed": "00"}},
    ],
)
def test_bad_values_are_refused_when_sealing(changes: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        _entry(**changes)


def test_an_entry_signed_by_another_key_is_an_unknown_signer() -> None:
    other = seal_entry(
        generate_signer(OTHER_SEED),
        seq=1,
        time="2026-12-01T09:00:00Z",
        ceremony_id=None,
        event="log.note",
        payload={},
        prev=ZERO_HASH,
    )
    with pytest.raises(LogIntegrityError) as failed:
        verify_entry_signature(parse_entry_line(other.line, position=1), SIGNER.verifier)
    assert failed.value.kind == "log-unknown-signer"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda line: line[:-1],
        lambda line: line + b" ",
        lambda line: b" " + line,
        lambda line: line.replace(b'"seq":1', b'"seq":2'),
        lambda line: line.replace(b'"hash":"', b'"hash":"0')[:-1],
        lambda line: line.upper(),
        lambda line: b"",
    ],
)
def test_altered_lines_are_modified(mutate: object) -> None:
    with pytest.raises(LogIntegrityError) as failed:
        parse_entry_line(mutate(_entry().line), position=1)  # type: ignore[operator]
    assert (failed.value.kind, failed.value.seq) == ("log-modified", 1)


@given(st.binary(max_size=600))
def test_reading_arbitrary_bytes_raises_only_log_integrity_errors(data: bytes) -> None:
    try:
        parse_entry_line(data, position=1)
    except LogIntegrityError as error:
        assert error.kind == "log-modified"


@given(st.integers(0, 1000), st.integers(0, 7))
def test_any_bit_flip_in_a_line_is_caught(index: int, bit: int) -> None:
    line = bytearray(_entry().line)
    line[index % len(line)] ^= 1 << bit
    with pytest.raises(LogIntegrityError):
        verify_entry_signature(parse_entry_line(bytes(line), position=1), SIGNER.verifier)
