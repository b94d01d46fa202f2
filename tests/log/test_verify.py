"""Every way of changing a good log fails verification with the right kind (E01 to E06, E08).

Mutants are made two ways: on the entry lines (as in an export, through `verify_records`)
and in the SQLite file itself, with the append-only triggers dropped first, as an attacker
holding the file would.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from custody.appliance import Appliance
from custody.errors import LogIntegrityError
from custody.log import verify_log
from custody.log.checkpoint import Checkpoint
from custody.log.entry import Entry, entry_hash, parse_entry_line, seal_entry, signed_message
from custody.log.keys import Signer, VerifierKey
from custody.log.store import Record
from custody.log.verify import verify_records
from tests.log.conftest import Clock

SAMPLE = 4  # the entry whose every byte is flipped: shards.intake, with a ceremony


def _lines(appliance: Appliance) -> list[bytes]:
    with appliance.read_log() as reader:
        return [record.line for record in reader.records()]


def _verify(
    lines: Sequence[bytes], key: VerifierKey, checkpoints: Sequence[Checkpoint] = ()
) -> None:
    records = [Record(number, line) for number, line in enumerate(lines, start=1)]
    verify_records(records, key, [(f"cp{c.size}", c) for c in checkpoints])


def _failure(lines: Sequence[bytes], key: VerifierKey, *cps: Checkpoint) -> tuple[str, int | None]:
    with pytest.raises(LogIntegrityError) as failed:
        _verify(lines, key, cps)
    return failed.value.kind, failed.value.seq


def _resigned(line: bytes, signer: Signer, *, prev: bytes | None = None) -> bytes:
    entry = parse_entry_line(line, position=0)
    return _reseal(entry, signer, prev=entry.prev if prev is None else prev).line


def _reseal(entry: Entry, signer: Signer, *, prev: bytes) -> Entry:
    return seal_entry(
        signer,
        seq=entry.seq,
        time=entry.time,
        ceremony_id=entry.ceremony_id,
        event=entry.event,
        payload=entry.payload,
        prev=prev,
    )


def test_the_good_log_verifies(filled: Appliance) -> None:
    _verify(_lines(filled), filled.key)


def test_flipping_any_byte_of_an_entry_is_caught_at_that_entry(filled: Appliance) -> None:
    lines = _lines(filled)
    sample = lines[SAMPLE - 1]
    kid_at = sample.index(b'"kid":"') + len(b'"kid":"')
    for index in range(len(sample)):
        mutant = bytearray(sample)
        mutant[index] ^= 0x01
        kind, seq = _failure([*lines[: SAMPLE - 1], bytes(mutant), *lines[SAMPLE:]], filled.key)
        in_kid = kid_at <= index < kid_at + 8 and chr(mutant[index]) in "0123456789abcdef"
        assert (kind, seq) == ("log-unknown-signer" if in_kid else "log-modified", SAMPLE), index


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda ls: ls[:3] + ls[4:], ("log-deleted", 4)),
        (lambda ls: ls[1:], ("log-deleted", 1)),
        (lambda ls: [*ls[:3], ls[4], ls[3], *ls[5:]], ("log-reordered", 4)),
        (lambda ls: [*ls[:2], ls[6], *ls[3:6], ls[2], *ls[7:]], ("log-reordered", 3)),
        (lambda ls: [*ls[:4], ls[3], *ls[4:]], ("log-duplicated", 5)),
        (lambda ls: [*ls, ls[-1]], ("log-duplicated", 9)),
        (lambda ls: [*ls, ls[1]], ("log-duplicated", 9)),
        (lambda ls: [], ("log-truncated", 1)),
        (lambda ls: [*ls[:3], ls[3] + b" ", *ls[4:]], ("log-modified", 4)),
        (lambda ls: [*ls[:3], ls[3].replace(b"\n", b"")[:-3], *ls[4:]], ("log-modified", 4)),
    ],
    ids=[
        "deleted-middle",
        "deleted-first",
        "swapped-adjacent",
        "swapped-apart",
        "duplicated-middle",
        "replayed-last",
        "replayed-early",
        "emptied",
        "trailing-space",
        "cut-line",
    ],
)
def test_structural_mutants_name_their_kind(
    filled: Appliance, mutate: object, expected: tuple[str, int]
) -> None:
    assert _failure(mutate(_lines(filled)), filled.key) == expected  # type: ignore[operator]


def test_truncation_verifies_as_a_prefix_but_not_against_a_checkpoint(
    filled: Appliance, clock: Clock
) -> None:
    with filled.open_log(now=clock) as log:
        checkpoint = log.checkpoint()
    lines = _lines(filled)
    for kept in range(1, len(lines)):
        _verify(lines[:kept], filled.key)
        assert _failure(lines[:kept], filled.key, checkpoint) == ("log-truncated", kept + 1)
    _verify(lines, filled.key, [checkpoint])


def test_an_entry_resigned_with_another_key_is_an_unknown_signer(
    filled: Appliance, other_signer: Signer
) -> None:
    lines = _lines(filled)
    lines[SAMPLE - 1] = _resigned(lines[SAMPLE - 1], other_signer)
    assert _failure(lines, filled.key) == ("log-unknown-signer", SAMPLE)


def test_a_log_forged_whole_with_another_key_is_an_unknown_signer(
    filled: Appliance, other_signer: Signer
) -> None:
    forged, prev = [], bytes(32)
    for line in _lines(filled):
        entry = _reseal(parse_entry_line(line, position=0), other_signer, prev=prev)
        forged.append(entry.line)
        prev = entry.hash
    _verify(forged, other_signer.verifier)  # consistent in itself...
    assert _failure(forged, filled.key) == ("log-unknown-signer", 1)  # ...but not ours


def _forked_copy(appliance: Appliance, clock: Clock, tmp_path: Path) -> Appliance:
    """A copy of the home that then records something else: two histories, one key."""
    copy = tmp_path / "fork"
    shutil.copytree(appliance.home, copy)
    from custody.appliance import load_appliance

    forked = load_appliance(copy)
    with forked.open_log(now=clock) as log:
        log.append("log.note", {"text": "the other history"})
    return forked


def test_forks_are_found(filled: Appliance, clock: Clock, tmp_path: Path) -> None:
    forked = _forked_copy(filled, clock, tmp_path)
    with filled.open_log(now=clock) as log:
        log.append("log.note", {"text": "this history"})
        ours = log.checkpoint()
    with forked.open_log(now=clock) as log:
        theirs = log.checkpoint()
    assert ours.size == theirs.size == 9
    lines = _lines(filled)
    assert _failure(lines, filled.key, theirs) == ("log-forked", 9)
    assert _failure(lines, filled.key, ours, theirs) == ("log-forked", 9)
    spliced = [*lines[:8], _lines(forked)[8]]
    assert _failure(spliced, filled.key, ours) == ("log-forked", 9)
    # The other history's entry 9 in place, with this history's entry 10 after it.
    with filled.open_log(now=clock) as log:
        log.append("log.note", {"text": "and on"})
    longer = _lines(filled)
    assert _failure([*longer[:8], _lines(forked)[8], longer[9]], filled.key) == ("log-forked", 10)


def _tamper(appliance: Appliance, *statements: str) -> None:
    db = sqlite3.connect(appliance.log_path)
    db.execute("DROP TRIGGER entries_append_only_update")
    db.execute("DROP TRIGGER entries_append_only_delete")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _home_failure(appliance: Appliance, *checkpoints: Checkpoint) -> tuple[str, int | None]:
    with pytest.raises(LogIntegrityError) as failed:
        verify_log(appliance.home, checkpoints=[(f"cp{c.size}", c) for c in checkpoints])
    return failed.value.kind, failed.value.seq


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["DELETE FROM entries WHERE seq = 4"], ("log-deleted", 4)),
        (
            [
                "UPDATE entries SET seq = -4 WHERE seq = 4",
                "UPDATE entries SET seq = 4 WHERE seq = 5",
                "UPDATE entries SET seq = 5 WHERE seq = -4",
            ],
            ("log-reordered", 4),
        ),
        (
            ["INSERT INTO entries SELECT 9, event, ceremony, line FROM entries WHERE seq = 8"],
            ("log-duplicated", 9),
        ),
        (["UPDATE entries SET event = 'log.note' WHERE seq = 4"], ("log-modified", 4)),
        (["UPDATE entries SET ceremony = NULL WHERE seq = 4"], ("log-modified", 4)),
        (["UPDATE entries SET seq = seq + 100"], ("log-modified", 1)),
        (["UPDATE entries SET line = CAST(line AS TEXT) WHERE seq = 4"], ("log-modified", 4)),
        (
            ["UPDATE entries SET line = replace(line, 'seal 4471', 'seal 4472') WHERE seq = 2"],
            ("log-modified", 2),
        ),
    ],
    ids=[
        "deleted",
        "swapped",
        "replayed",
        "index-event",
        "index-ceremony",
        "renumbered",
        "text-not-blob",
        "edited",
    ],
)
def test_sqlite_mutants_name_their_kind(
    filled: Appliance, statements: list[str], expected: tuple[str, int]
) -> None:
    _tamper(filled, *statements)
    assert _home_failure(filled) == expected


def test_sqlite_rows_resigned_with_another_key(filled: Appliance, other_signer: Signer) -> None:
    line = _resigned(_lines(filled)[SAMPLE - 1], other_signer)
    _tamper(filled, f"UPDATE entries SET line = x'{line.hex()}' WHERE seq = {SAMPLE}")
    assert _home_failure(filled) == ("log-unknown-signer", SAMPLE)


def test_sqlite_truncation_is_found_only_against_a_checkpoint(
    filled: Appliance, clock: Clock
) -> None:
    with filled.open_log(now=clock) as log:
        checkpoint = log.checkpoint()
    _tamper(filled, "DELETE FROM entries WHERE seq > 5")
    assert verify_log(filled.home).size == 5
    assert _home_failure(filled, checkpoint) == ("log-truncated", 6)


def test_flipped_bytes_in_the_database_file_are_caught(filled: Appliance) -> None:
    data = filled.log_path.read_bytes()
    line = _lines(filled)[SAMPLE - 1]
    start = data.index(line)
    for index in range(start, start + len(line), 7):
        mutant = bytearray(data)
        mutant[index] ^= 0x10
        filled.log_path.write_bytes(bytes(mutant))
        kind, seq = _home_failure(filled)
        assert kind in {"log-modified", "log-unknown-signer"} and seq == SAMPLE, index
    filled.log_path.write_bytes(data)
    verify_log(filled.home)


def test_the_exported_lines_are_the_stored_lines(filled: Appliance, tmp_path: Path) -> None:
    from custody.log import export_log

    with filled.open_log() as log:
        export_log(log, tmp_path / "export")
    exported = (tmp_path / "export" / "log.jsonl").read_bytes().split(b"\n")
    assert exported[-1] == b""
    assert exported[:-1] == _lines(filled)[: len(exported) - 1]
    assert all(json.loads(line)["entry"]["v"] == 1 for line in exported[:-1])


@pytest.mark.parametrize(
    "body",
    [
        b'{"x":1}',
        b'{"ceremony":null,"event":"log.note","payload":{},"prev":"00","seq":2,"time":"t","v":1}',
        b'{"ceremony":null,"event":"log.note","payload":{},"seq":2,"v":1}',
        b'{"ceremony":null,"event":"log.note","payload":{},"prev":"' + b"0" * 64 + b'",'
        b'"seq":02,"time":"2026-12-01T09:00:00Z","v":1}',
        b'{"ceremony":null,"event":"log.note","payload":{},"prev":"' + b"0" * 64 + b'",'
        b'"seq":2,"time":"2026-12-01T09:00:00Z","v":2}',
    ],
)
def test_a_signed_body_of_the_wrong_shape_is_modified(filled: Appliance, body: bytes) -> None:
    # Only the appliance's own key can sign, so this is a bug's output, not an attacker's;
    # verify still refuses it.
    signer = filled.load_signer()
    digest = entry_hash(body)
    line = b'{"entry":%s,"hash":"%s","kid":"%s","sig":"%s"}' % (
        body,
        digest.hex().encode(),
        signer.verifier.key_id.hex().encode(),
        signer.sign(signed_message(digest)).hex().encode(),
    )
    lines = _lines(filled)
    assert _failure([*lines[:1], line, *lines[2:]], filled.key) == ("log-modified", 2)
