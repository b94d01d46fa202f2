"""Verifying a log: every hash, signature, sequence number and link, against checkpoints.

This module owns the procedure of log.md §6 and checkpoint.md §4 and the names of what can
go wrong. It reads records in storage order, once, a batch at a time, keeping only the
previous hash and the open intents, so memory stays flat however long the log is. The first
failure in storage order stops it with a LogIntegrityError naming the entry and the kind; it
never "fixes" anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Final

from custody.errors import LogIntegrityError, VerificationError
from custody.log.checkpoint import Checkpoint, verify_checkpoint, verify_checkpoints_agree
from custody.log.entry import (
    ZERO_HASH,
    entry_hash,
    parse_entry_line,
    signed_message,
    split_line,
)
from custody.log.intent import INTENT_EVENTS, Intent, IntentTracker
from custody.log.keys import VerifierKey, verify_signature
from custody.log.store import Record

_HINT: Final = "Compare with an export or a checkpoint kept outside the appliance."
_HINTS: Final = {
    "log-truncated": "The log was rolled back (for example, a disk restored from an older "
    "image); find the copy that holds the missing entries.",
    "log-forked": "The appliance signed two different histories; keep both copies as "
    "evidence and compare them.",
}
# Signatures are checked a batch at a time in a tight loop: interleaving the Python work of
# each entry between Ed25519 verifications costs more in cache misses than it seems.
_BATCH: Final = 256
Fields = tuple[int, str, str, str | None]  # seq, prev hex, event, ceremony
Authentic = tuple[Record, str, Fields]  # record, hash hex, fields


@dataclass(frozen=True, slots=True)
class LogReport:
    """What a successful verification established."""

    size: int
    head: bytes
    key: VerifierKey
    checkpoints: tuple[Checkpoint, ...]
    dangling: tuple[Intent, ...]


def verify_records(
    records: Iterable[Record],
    key: VerifierKey,
    checkpoints: Sequence[tuple[str, Checkpoint]] = (),
) -> LogReport:
    """Check a whole log (records in storage order) and each (source, checkpoint) given."""
    for source, checkpoint in checkpoints:
        verify_checkpoint(checkpoint, key, source=source)
    verify_checkpoints_agree(checkpoints)
    wanted = {checkpoint.size: (source, checkpoint) for source, checkpoint in checkpoints}
    intents = IntentTracker()
    expected, prev_hex = 1, ZERO_HASH.hex()
    rest = iter(records)
    while batch := list(islice(rest, _BATCH)):
        passed, failure = _authenticate(batch, key)
        for index, (record, head_hex, (seq, prev, event, ceremony)) in enumerate(passed):
            if seq != expected:
                raise _misplaced(seq, expected, record, chain(batch[index + 1 :], rest), key)
            if prev != prev_hex:
                raise _failure("log-forked", seq, f"Entry {seq} follows another entry {seq - 1}")
            if record.columns is not None and (
                record.position != seq or record.columns != (event, ceremony)
            ):
                raise _failure("log-modified", seq, f"Row {record.position}'s index differs")
            if seq in wanted and wanted[seq][1].head.hex() != head_hex:
                raise _failure("log-forked", seq, f"Entry {seq} differs from {wanted[seq][0]}")
            if event in INTENT_EVENTS:
                intents.observe(parse_entry_line(record.line, position=record.position))
            expected, prev_hex = expected + 1, head_hex
        if failure is not None:
            raise failure
    _check_length(expected - 1, checkpoints)
    head = bytes.fromhex(prev_hex)
    return LogReport(expected - 1, head, key, tuple(c for _, c in checkpoints), intents.dangling)


def _authenticate(
    batch: list[Record], key: VerifierKey
) -> tuple[list[Authentic], LogIntegrityError | None]:
    """Steps 1 to 5 for a batch: the records before the first failure, and that failure.

    Each pass handles only the records before the earliest failure found so far, so the
    failure returned is the first in storage order.
    """
    staged, failure = [], None
    key_id = key.key_id.hex().encode("ascii")
    for record in batch:
        parts = split_line(record.line)
        if parts is None:
            where = record.position
            failure = _failure("log-modified", where, f"Entry {where} is garbled")
            break
        digest = entry_hash(parts[0])
        if digest.hex().encode("ascii") != parts[1] or parts[2] != key_id:
            failure = _hash_or_key_failure(record.position, parts, digest, key_id)
            break
        staged.append((record, parts, digest))
    for index, (record, parts, digest) in enumerate(staged):
        try:
            verify_signature(key, signed_message(digest), bytes.fromhex(parts[3].decode()))
        except VerificationError:
            where = record.position
            failure = _failure("log-modified", where, f"Entry {where}'s signature is wrong")
            del staged[index:]
            break
    passed: list[Authentic] = []
    for record, parts, _ in staged:
        read = _fields(parts[0])
        if read is None:
            where = record.position
            return passed, _failure("log-modified", where, f"Entry {where}'s body is malformed")
        passed.append((record, parts[1].decode("ascii"), read))
    return passed, failure


def _hash_or_key_failure(
    where: int, parts: tuple[bytes, bytes, bytes, bytes], digest: bytes, key_id: bytes
) -> LogIntegrityError:
    """Steps 2 and 3 failed: say which."""
    if digest.hex().encode("ascii") != parts[1]:
        return _failure("log-modified", where, f"Entry {where} was altered")
    if parts[2] != key_id:
        return LogIntegrityError(
            f"Entry {where} of the log is signed by an unknown key "
            f"(key id {parts[2].decode()}, expected {key_id.decode()}).",
            kind="log-unknown-signer",
            seq=where,
            hint=_HINT,
        )
    raise ValueError("the hash and key id are both right")


def _fields(body: bytes) -> Fields | None:
    """Step 5: seq, prev, event and ceremony, read by position; None for another shape.

    A body is canonical JSON with its keys in a fixed order, `ceremony`, `event` and `payload`
    first and `prev`, `seq`, `time` and `v` last, so these fields are found without parsing
    the payload. The payload's own bytes are covered by the hash and signature.
    """
    head = _BODY_HEAD.match(body)
    cut = body.rfind(b'},"prev":"')
    if head is None or cut < head.end() - 1:
        return None
    tail = _BODY_TAIL.fullmatch(body, cut)
    if tail is None:
        return None
    ceremony = None if head[1] is None else head[1].decode("ascii")
    return int(tail[2]), tail[1].decode("ascii"), head[2].decode("ascii"), ceremony


_BODY_HEAD: Final = re.compile(
    rb'\{"ceremony":(?:null|"([a-z0-9][a-z0-9._-]{0,63})"),"event":"([a-z][a-z0-9_.]{2,63})",'
    rb'"payload":\{'
)
_BODY_TAIL: Final = re.compile(
    rb'\},"prev":"([0-9a-f]{64})","seq":([1-9][0-9]{0,18}),'
    rb'"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z","v":1\}'
)


def _misplaced(
    seq: int, expected: int, record: Record, rest: Iterator[Record], key: VerifierKey
) -> LogIntegrityError:
    """Step 6: name what put a correctly signed entry `seq` where `expected` belongs."""
    where = f"position {record.position} holds entry {seq} where entry {expected} belongs"
    if seq < expected:
        return _failure("log-duplicated", expected, f"Entry {seq} appears twice: {where}")
    for later in rest:
        found, _ = _authenticate([later], key)
        if found and found[0][2][0] == expected:
            return _failure(
                "log-reordered", expected, f"Entries are out of order: {where}, and it comes later"
            )
    return _failure("log-deleted", expected, f"Entry {expected} is missing: {where}")


def _check_length(size: int, checkpoints: Sequence[tuple[str, Checkpoint]]) -> None:
    if size == 0:
        raise _failure("log-truncated", 1, "The log has no entries; every log starts with log.init")
    for source, checkpoint in checkpoints:
        if checkpoint.size > size:
            raise _failure(
                "log-truncated",
                size + 1,
                f"The log has {size} entries but {source} vouches for {checkpoint.size}: "
                f"{_entries(size + 1, checkpoint.size)} gone (rolled back)",
            )


def _entries(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first} to {last} are"


def _failure(kind: str, seq: int, what: str) -> LogIntegrityError:
    return LogIntegrityError(f"{what} ({kind}).", kind=kind, seq=seq, hint=_HINTS.get(kind, _HINT))
