"""Checkpoints: exact text, strict parsing, and every mutant refused (E08)."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.errors import BadInputError, LogIntegrityError
from custody.log.checkpoint import (
    Checkpoint,
    encode_checkpoint,
    parse_checkpoint,
    parse_typed_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
    verify_checkpoints_agree,
)
from custody.log.keys import Signer, encode_vkey, generate_signer
from tests.log.conftest import OTHER_SEED, SEED

HEAD = bytes(range(32))


@pytest.fixture
def signer() -> Signer:
    return generate_signer(SEED)


@pytest.fixture
def text(signer: Signer) -> str:
    checkpoint = sign_checkpoint(signer, size=4, head=HEAD, time="2026-12-01T09:00:00Z")
    return encode_checkpoint(checkpoint)


def _parse_and_verify(data: bytes, signer: Signer, *, typed: bool = False) -> Checkpoint:
    checkpoint = parse_checkpoint(data, source="cp", typed=typed)
    verify_checkpoint(checkpoint, signer.verifier, source="cp")
    return checkpoint


def test_text_layout_is_the_signed_note_form(text: str, signer: Signer) -> None:
    lines = text.split("\n")
    assert lines[:5] == [
        signer.verifier.name,
        "4",
        base64.b64encode(HEAD).decode(),
        "time 2026-12-01T09:00:00Z",
        "",
    ]
    assert lines[5].startswith(f"\u2014 {signer.verifier.name} ")
    assert lines[6:] == [""]
    stamp = base64.b64decode(lines[5].split(" ")[2])
    assert stamp[:4] == signer.verifier.key_id
    checkpoint = _parse_and_verify(text.encode(), signer)
    assert (checkpoint.size, checkpoint.head, checkpoint.time) == (4, HEAD, "2026-12-01T09:00:00Z")
    assert encode_checkpoint(checkpoint) == text


SPEC_EXAMPLE = (
    "custody-log/34750f98bd59fcfc946da45aaabe933b\n"
    "4\n"
    "UNhY4JhezH9gQYqvDMWrWH9CwlcKiECVqejMrND2VFw=\n"
    "time 2026-12-01T09:00:00Z\n"
    "\n"
    "\u2014 custody-log/34750f98bd59fcfc946da45aaabe933b "
    "OleXlQ2bWmNQBvI8tYKJCGbD/ZGIdp20aFiKlmAJ62UmRufiq3XwySLRbl1+TKVzvPa5tWJ+XSZ2vy478TeTmnCbmgc=\n"
)


def test_the_spec_example_is_a_known_answer() -> None:
    # docs/spec/checkpoint.md §1: the key from seed 01..01, size 4, head SHA-256("example").
    signer = generate_signer(bytes([1]) * 32)
    checkpoint = _parse_and_verify(SPEC_EXAMPLE.encode(), signer)
    assert checkpoint.head == hashlib.sha256(b"example").digest()
    assert checkpoint.key_id.hex() == "3a579795"
    signed = sign_checkpoint(signer, size=4, head=checkpoint.head, time=checkpoint.time)
    assert encode_checkpoint(signed) == SPEC_EXAMPLE
    assert encode_vkey(signer.verifier) == (
        "custody-log/34750f98bd59fcfc946da45aaabe933b+3a579795+"
        "AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
    )


def test_typed_checkpoints_may_use_two_hyphens(text: str, signer: Signer) -> None:
    typed = text.replace("\u2014 ", "-- ").encode()
    assert _parse_and_verify(typed, signer, typed=True).size == 4
    with pytest.raises(BadInputError):
        parse_checkpoint(typed, source="cp")
    assert parse_typed_checkpoint(typed[:-1]).size == 4  # ended with end-of-file, not Enter
    with pytest.raises(BadInputError):
        parse_typed_checkpoint(typed.replace(b"\n4\n", b"\n 4\n"))


def _line_mutants(text: str) -> list[tuple[str, str]]:
    lines = text.split("\n")
    size = int(lines[1])
    return [
        ("size + 1", text.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)),
        ("size - 1", text.replace(f"\n{size}\n", f"\n{size - 1}\n", 1)),
        ("heads swapped", text.replace(lines[2], base64.b64encode(HEAD[::-1]).decode())),
        ("time changed", text.replace("09:00:00", "09:00:01")),
    ]


@pytest.mark.parametrize("case", range(4))
def test_changed_statements_fail_the_signature(text: str, signer: Signer, case: int) -> None:
    name, mutant = _line_mutants(text)[case]
    with pytest.raises(LogIntegrityError) as failed:
        _parse_and_verify(mutant.encode(), signer)
    assert failed.value.kind == "checkpoint-bad-signature", name


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: "x" + t,
        lambda t: "\n" + t,
        lambda t: t + "x",
        lambda t: t + "\n",
        lambda t: t[:-1],
        lambda t: t[: len(t) // 2],
        lambda t: "",
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t.replace("\n4\n", "\n04\n"),
        lambda t: t.replace("\n4\n", "\n+4\n"),
        lambda t: t.replace("\n4\n", "\n 4\n"),
        lambda t: t.replace("\n4\n", "\n0\n"),
        lambda t: t.replace("\n\n", "\n"),
        lambda t: t.replace("time ", "time  "),
        lambda t: t.replace("time 2026-12-01T09:00:00Z", "time 2026-13-01T09:00:00Z"),
        lambda t: t.replace("time 2026-12-01T09:00:00Z\n", ""),
        lambda t: t.replace("time 2026-12-01T09:00:00Z\n", "time 2026-12-01T09:00:00Z\nx\n"),
        lambda t: t + t.split("\n")[5] + "\n",
        lambda t: t.replace("=\n", "\n", 1),
        lambda t: t.replace("Hh8=\n", "Hh9=\n"),  # non-zero padding bits: a second encoding
        lambda t: t.replace("\u2014", "-"),
        lambda t: t.replace("\u2014", "--"),
        lambda t: "\ufeff" + t,
        lambda t: t.replace("custody-log/", "Custody-log/", 1),
        lambda t: t + "\x00",
    ],
)
def test_malformed_texts_are_refused(text: str, mutate: object) -> None:
    with pytest.raises(BadInputError) as refused:
        parse_checkpoint(mutate(text).encode(), source="cp")  # type: ignore[operator]
    assert refused.value.kind == "checkpoint-malformed"


def test_every_single_bit_flip_is_refused(text: str, signer: Signer) -> None:
    data = text.encode()
    for index in range(len(data)):
        for bit in range(8):
            mutant = bytearray(data)
            mutant[index] ^= 1 << bit
            with pytest.raises((BadInputError, LogIntegrityError)):
                _parse_and_verify(bytes(mutant), signer)


def test_a_checkpoint_from_another_key_is_an_unknown_signer(text: str) -> None:
    other = generate_signer(OTHER_SEED)
    with pytest.raises(LogIntegrityError) as failed:
        _parse_and_verify(text.encode(), other)
    assert failed.value.kind == "log-unknown-signer"
    # Re-signed by the other key, but still under this log's name: still not ours.
    forged = text.split("\n")
    stamp = base64.b64encode(
        other.verifier.key_id + other.sign("\n".join(forged[:4]).encode() + b"\n")
    )
    forged[5] = forged[5].rsplit(" ", 1)[0] + " " + stamp.decode()
    with pytest.raises(LogIntegrityError) as failed:
        _parse_and_verify("\n".join(forged).encode(), generate_signer(SEED))
    assert failed.value.kind == "log-unknown-signer"


def test_two_signed_checkpoints_that_disagree_are_a_fork(signer: Signer) -> None:
    one = sign_checkpoint(signer, size=4, head=HEAD, time="2026-12-01T09:00:00Z")
    same = sign_checkpoint(signer, size=4, head=HEAD, time="2026-12-02T09:00:00Z")
    other = sign_checkpoint(signer, size=4, head=HEAD[::-1], time="2026-12-03T09:00:00Z")
    verify_checkpoints_agree([("a", one), ("b", same)])
    with pytest.raises(LogIntegrityError) as failed:
        verify_checkpoints_agree([("a", one), ("b", same), ("c", other)])
    assert (failed.value.kind, failed.value.seq) == ("log-forked", 4)


@given(st.binary(max_size=400))
def test_parsing_arbitrary_bytes_raises_only_bad_input(data: bytes) -> None:
    for typed in (False, True):
        with contextlib.suppress(BadInputError):
            parse_checkpoint(data, source="cp", typed=typed)
