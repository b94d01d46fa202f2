"""The log's library API: appending, reserved events, intents, checkpoints, reading back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from custody.appliance import Appliance
from custody.errors import LogIntegrityError
from custody.log import open_log, verify_log
from custody.log.checkpoint import verify_checkpoint
from tests.log.conftest import Clock, fill


def test_append_chains_and_signs_every_entry(appliance: Appliance, clock: Clock) -> None:
    with appliance.open_log(now=clock) as log:
        first = log.head()
        assert first is not None and (first.seq, first.event) == (1, "log.init")
        assert first.payload["key_fingerprint"] == appliance.key.fingerprint
        note = log.append("log.note", {"text": "hello"}, ceremony_id="drill-7")
        assert (note.seq, note.prev, note.ceremony_id) == (2, first.hash, "drill-7")
        assert log.head() == note
        assert [e.seq for e in log.entries(ceremony_id="drill-7")] == [2]
    assert verify_log(appliance.home).size == 2


def test_open_log_resolves_the_home(appliance: Appliance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTODY_HOME", str(appliance.home))
    with open_log() as log:
        assert log.key == appliance.key


@pytest.mark.parametrize("event", ["log.init", "intent.begin", "intent.complete", "intent.x"])
def test_reserved_events_are_the_logs_own(appliance: Appliance, event: str) -> None:
    with appliance.open_log() as log, pytest.raises(ValueError):
        log.append(event, {})


def test_bad_payloads_record_nothing(appliance: Appliance) -> None:
    with appliance.open_log() as log:
        for payload in ({"x": 1.5}, {"x": b"raw"}, {"shard_value": "ff"}):
            with pytest.raises((TypeError, ValueError)):
                log.append("shards.intake", payload)
        with pytest.raises(ValueError):
            log.append("Not An Event", {})
        head = log.head()
        assert head is not None and head.seq == 1


def test_intents_dangle_until_closed_once(appliance: Appliance, clock: Clock) -> None:
    with appliance.open_log(now=clock) as log:
        write = log.intent("media.write", {"device": "stick-a"}, ceremony_id="intake-1")
        printing = log.intent("paper.print", {"sheet": 1})
        assert [i.seq for i in log.dangling_intents()] == [2, 3]
        done = log.complete(write, {"bytes": 1024})
        assert done.ceremony_id == "intake-1"
        assert done.payload["intent_hash"] == write.hash.hex()
        log.abandon(printing, "printer jammed; nothing printed")
        assert log.dangling_intents() == ()
        with pytest.raises(ValueError):
            log.complete(write, {})
        with pytest.raises(ValueError):
            log.intent("intent.begin", {})
    report = verify_log(appliance.home)
    assert report.dangling == ()


def test_checkpoints_name_the_current_head(filled: Appliance, clock: Clock) -> None:
    with filled.open_log(now=clock) as log:
        checkpoint = log.checkpoint()
        head = log.head()
        assert head is not None
        assert (checkpoint.size, checkpoint.head) == (head.seq, head.hash)
        verify_checkpoint(checkpoint, filled.key, source="cp")


def test_a_tampered_head_is_never_extended(filled: Appliance, clock: Clock) -> None:
    db = sqlite3.connect(filled.log_path)
    db.execute("DROP TRIGGER entries_append_only_update")
    db.execute("UPDATE entries SET line = replace(line, 'note 1', 'note 9') WHERE seq = 8")
    db.commit()
    db.close()
    with filled.open_log(now=clock) as log, pytest.raises(LogIntegrityError) as refused:
        log.append("log.note", {"text": "after"})
    assert (refused.value.kind, refused.value.seq) == ("log-modified", 8)


def test_the_triggers_keep_rows_from_being_changed(filled: Appliance) -> None:
    db = sqlite3.connect(filled.log_path)
    for statement in ("DELETE FROM entries WHERE seq = 2", "UPDATE entries SET event = 'x.y'"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
    db.close()


def test_verify_reports_the_open_intent(filled: Appliance) -> None:
    report = verify_log(filled.home)
    assert report.size == 8
    assert [(i.seq, i.effect) for i in report.dangling] == [(6, "paper.print")]


def test_fill_helper_is_deterministic(tmp_path: Path) -> None:
    from custody.appliance import init_home
    from tests.log.conftest import SEED

    heads = []
    for name in ("a", "b"):
        clock = Clock()
        appliance = init_home(tmp_path / name, now=clock, seed=SEED)
        fill(appliance, clock)
        heads.append(verify_log(appliance.home).head)
    assert heads[0] == heads[1]
