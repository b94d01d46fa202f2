"""Exports: what an auditor receives, and checking it with no appliance home."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from custody.appliance import Appliance
from custody.errors import BadInputError, LogIntegrityError
from custody.log import export_log, verify_export
from custody.log.checkpoint import (
    encode_checkpoint,
    load_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from custody.log.entry import parse_entry_line, seal_entry
from custody.log.export import export_checkpoint
from custody.log.keys import Signer, encode_vkey
from tests.log.conftest import Clock


@pytest.fixture
def exported(filled: Appliance, clock: Clock, tmp_path: Path) -> Path:
    with filled.open_log(now=clock) as log:
        export_log(log, tmp_path / "export")
    return tmp_path / "export"


def test_an_export_verifies_on_its_own(exported: Path, filled: Appliance) -> None:
    assert sorted(p.name for p in exported.iterdir()) == [
        "appliance.pub",
        "checkpoint.txt",
        "log.jsonl",
    ]
    report = verify_export(exported)
    assert (report.size, report.key) == (9, filled.key)
    # The export's own intent is its last entry and is not reported as dangling.
    assert [(i.seq, i.effect) for i in report.dangling] == [(6, "paper.print")]
    with filled.read_log() as reader:
        closing = list(reader.entries())[-1]
    assert closing.event == "intent.complete" and closing.payload["intent"] == 9


def test_an_export_goes_only_to_a_new_directory(filled: Appliance, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with filled.open_log() as log, pytest.raises(BadInputError) as refused:
        export_log(log, tmp_path / "taken")
    assert refused.value.kind == "output-exists"
    assert list((tmp_path / "taken").iterdir()) == []


def test_a_failed_export_leaves_nothing_and_abandons_its_intent(
    filled: Appliance, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    out = tmp_path / "a-file" / "sub" / "export"
    with filled.open_log() as log:
        with pytest.raises(BadInputError) as refused:
            export_log(log, out)
        assert refused.value.kind == "write-failed"
        assert [i.seq for i in log.dangling_intents()] == [6]
        head = log.head()
        assert head is not None and head.event == "intent.abandon"
        assert head.payload["effect"] == "log.export"
    assert not out.exists()


def test_a_torn_last_line_is_reported_not_dropped(exported: Path) -> None:
    jsonl = exported / "log.jsonl"
    data = jsonl.read_bytes()
    jsonl.write_bytes(data[:-40])
    with pytest.raises(LogIntegrityError) as failed:
        verify_export(exported)
    assert (failed.value.kind, failed.value.seq) == ("log-torn-tail", 9)
    assert jsonl.read_bytes() == data[:-40]
    jsonl.write_bytes(data[:-1])
    with pytest.raises(LogIntegrityError) as failed:
        verify_export(exported)
    assert failed.value.kind == "log-torn-tail"


def test_lines_dropped_at_a_line_end_are_caught_by_the_bundled_checkpoint(
    exported: Path,
) -> None:
    jsonl = exported / "log.jsonl"
    lines = jsonl.read_bytes().splitlines(keepends=True)
    jsonl.write_bytes(b"".join(lines[:-2]))
    with pytest.raises(LogIntegrityError) as failed:
        verify_export(exported)
    assert (failed.value.kind, failed.value.seq) == ("log-truncated", 8)


def test_a_forged_export_fails_against_a_checkpoint_from_outside(
    exported: Path, filled: Appliance, other_signer: Signer, clock: Clock, tmp_path: Path
) -> None:
    paper = load_checkpoint(exported / "checkpoint.txt")  # signed by the real appliance
    forged = tmp_path / "forged"
    shutil.copytree(exported, forged)
    lines, prev = [], bytes(32)
    for line in (forged / "log.jsonl").read_bytes().splitlines():
        entry = parse_entry_line(line, position=0)
        entry = seal_entry(
            other_signer,
            seq=entry.seq,
            time=entry.time,
            ceremony_id=entry.ceremony_id,
            event=entry.event,
            payload=entry.payload,
            prev=prev,
        )
        lines.append(entry.line + b"\n")
        prev = entry.hash
    (forged / "log.jsonl").write_bytes(b"".join(lines))
    (forged / "appliance.pub").write_text(encode_vkey(other_signer.verifier) + "\n")
    own = sign_checkpoint(other_signer, size=len(lines), head=prev, time=paper.time)
    (forged / "checkpoint.txt").write_text(encode_checkpoint(own))
    assert verify_export(forged).key == other_signer.verifier  # consistent with itself only
    with pytest.raises(LogIntegrityError) as failed:
        verify_export(forged, checkpoints=[("paper", paper)])
    assert failed.value.kind == "log-unknown-signer"
    reparsed = parse_checkpoint(encode_checkpoint(paper).encode(), source="paper")
    assert verify_export(exported, checkpoints=[("paper", reparsed)]).size == 9


@pytest.mark.parametrize("missing", ["appliance.pub", "checkpoint.txt", "log.jsonl"])
def test_an_incomplete_export_is_bad_input(exported: Path, missing: str) -> None:
    (exported / missing).unlink()
    with pytest.raises(BadInputError):
        verify_export(exported)


def test_a_symlinked_export_file_is_refused(exported: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved.jsonl"
    (exported / "log.jsonl").rename(moved)
    (exported / "log.jsonl").symlink_to(moved)
    with pytest.raises(BadInputError):
        verify_export(exported)


def test_a_checkpoint_file_is_written_under_an_intent(filled: Appliance, tmp_path: Path) -> None:
    out = tmp_path / "checkpoint.txt"
    with filled.open_log() as log:
        checkpoint = export_checkpoint(log, out)
        assert checkpoint.size == 9  # up to its own intent
        assert [i.seq for i in log.dangling_intents()] == [6]
        with pytest.raises(BadInputError) as refused:
            export_checkpoint(log, out)
        assert refused.value.kind == "output-exists"
        head = log.head()
        assert head is not None and head.event == "intent.complete"
    assert load_checkpoint(out) == checkpoint


def test_a_checkpoint_that_cannot_be_written_is_abandoned(
    filled: Appliance, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with filled.open_log() as log:
        with pytest.raises(BadInputError) as refused:
            export_checkpoint(log, tmp_path / "a-file" / "checkpoint.txt")
        assert refused.value.kind == "write-failed"
        head = log.head()
        assert head is not None and head.event == "intent.abandon"
        assert [i.seq for i in log.dangling_intents()] == [6]
