"""`custody log …` through the installed command: transcripts of output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CUSTODY = shutil.which("custody") or str(Path(sys.executable).parent / "custody")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CUSTODY_HOME", "XDG_DATA_HOME"}}
    return subprocess.run(
        [CUSTODY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def ok(*args: str, stdin: str | None = None) -> str:
    result = run(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def home(tmp_path: Path) -> str:
    """A home with three entries, made through the library (the commands are under test)."""
    from custody.appliance import init_home

    appliance = init_home(tmp_path / "home")
    with appliance.open_log() as log:
        log.append("log.note", {"text": "seal 4471 on the safe intact"}, ceremony_id="intake-1")
        log.append("log.note", {"text": "second witness arrived"})
    return str(appliance.home)


def _tamper(home: str, statement: str) -> None:
    db = sqlite3.connect(Path(home) / "log.sqlite")
    db.execute("DROP TRIGGER entries_append_only_update")
    db.execute("DROP TRIGGER entries_append_only_delete")
    db.execute(statement)
    db.commit()
    db.close()


def test_note_then_show(home: str) -> None:
    noted = ok("log", "note", "line one\nline two", "--home", home)
    assert noted.startswith("recorded entry 4 (log.note), hash ")
    lines = ok("log", "show", "--home", home).splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "CEREMONY", "EVENT", "PAYLOAD"]
    assert lines[2].split(None, 4)[2:] == [
        "intake-1",
        "log.note",
        '{"text":"seal 4471 on the safe intact"}',
    ]
    assert lines[4].endswith('{"text":"line one\\nline two"}')
    assert len(lines) == 5


def test_show_json_and_by_ceremony(home: str) -> None:
    entries = json.loads(ok("log", "show", "--json", "--home", home))["entries"]
    assert [e["event"] for e in entries] == ["log.init", "log.note", "log.note"]
    assert entries[1]["prev"] == entries[0]["hash"]
    only = json.loads(ok("log", "show", "--json", "--ceremony", "intake-1", "--home", home))
    assert [e["seq"] for e in only["entries"]] == [2]


@pytest.mark.parametrize(
    ("args", "kind_text"),
    [
        (["log", "note", ""], "A note is 1 to 4096 characters"),
        (["log", "note", "bell\x07"], "A note is 1 to 4096 characters"),
        (["log", "note", "x" * 4097], "A note is 1 to 4096 characters"),
        (["log", "note", "ok", "--ceremony", "Intake 1"], "is not a ceremony id"),
        (["log", "show", "--ceremony", "../x"], "is not a ceremony id"),
    ],
)
def test_bad_input_is_exit_3_and_records_nothing(
    home: str, args: list[str], kind_text: str
) -> None:
    result = run(*args, "--home", home)
    assert result.returncode == 3
    assert result.stderr.startswith("custody: error: ") and kind_text in result.stderr
    assert len(json.loads(ok("log", "show", "--json", "--home", home))["entries"]) == 3


def test_checkpoint_to_stdout_then_typed_back(home: str) -> None:
    text = ok("log", "checkpoint", "--home", home)
    lines = text.split("\n")
    assert lines[1] == "4" and lines[3].startswith("time ") and lines[5].startswith("\u2014 ")
    ok("log", "note", "after the checkpoint", "--home", home)
    typed = text.replace("\u2014 ", "-- ").rstrip("\n")
    verified = ok("log", "verify", "--checkpoint", "-", "--home", home, stdin=typed)
    assert verified.splitlines()[0].startswith("the log verifies: 5 entries, head ")
    assert verified.splitlines()[2].startswith("it extends the checkpoint of 4 entries signed ")


def test_checkpoint_to_a_file(home: str, tmp_path: Path) -> None:
    out = tmp_path / "cp.txt"
    assert ok("log", "checkpoint", "--out", str(out), "--home", home) == (
        f"checkpoint of 4 entries written to {out}\n"
    )
    again = run("log", "checkpoint", "--out", str(out), "--home", home)
    assert again.returncode == 3 and "already exists" in again.stderr
    assert ok("log", "verify", "--checkpoint", str(out), "--home", home)


def test_verify_names_the_first_bad_entry(home: str, tmp_path: Path) -> None:
    out = tmp_path / "cp.txt"
    ok("log", "checkpoint", "--out", str(out), "--home", home)
    _tamper(
        home, "UPDATE entries SET line = CAST(replace(line, 'sec', 'Sec') AS BLOB) WHERE seq = 3"
    )
    result = run("log", "verify", "--home", home)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == ("custody: error: Entry 3 was altered (log-modified).")
    assert result.stderr.splitlines()[1].startswith("custody: hint: ")
    failed = run("log", "verify", "--json", "--home", home)
    assert failed.returncode == 1
    assert json.loads(failed.stdout) == {
        "ok": False,
        "kind": "log-modified",
        "seq": 3,
        "error": "Entry 3 was altered (log-modified).",
    }
    shown = run("log", "show", "--home", home)
    assert shown.returncode == 1 and shown.stdout == ""


def test_verify_finds_a_rollback_against_a_checkpoint(home: str, tmp_path: Path) -> None:
    out = tmp_path / "cp.txt"
    ok("log", "checkpoint", "--out", str(out), "--home", home)
    _tamper(home, "DELETE FROM entries WHERE seq >= 3")
    assert ok("log", "verify", "--home", home).startswith("the log verifies: 2 entries")
    result = run("log", "verify", "--checkpoint", str(out), "--json", "--home", home)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (document["kind"], document["seq"]) == ("log-truncated", 3)


def test_a_malformed_checkpoint_is_bad_input(home: str, tmp_path: Path) -> None:
    text = ok("log", "checkpoint", "--home", home)
    for name, mutant in [("garbage", "x" + text), ("short", text[:-5])]:
        (tmp_path / name).write_text(mutant)
        result = run("log", "verify", "--checkpoint", str(tmp_path / name), "--home", home)
        assert result.returncode == 3
        assert "is not a custody checkpoint" in result.stderr
    altered = text.replace("\n4\n", "\n3\n")
    result = run("log", "verify", "--checkpoint", "-", "--home", home, stdin=altered)
    assert result.returncode == 1 and "signature does not verify" in result.stderr


def test_export_and_verify_with_no_home(home: str, tmp_path: Path) -> None:
    paper = tmp_path / "paper.txt"
    ok("log", "checkpoint", "--out", str(paper), "--home", home)
    out = tmp_path / "export"
    exported = ok("log", "export", "--out", str(out), "--home", home)
    assert exported.splitlines() == [
        f"exported 6 entries to {out} (log.jsonl, appliance.pub, checkpoint.txt)",
        f"an auditor checks it with: custody log verify --export {out}",
    ]
    shutil.rmtree(home)
    alone = run("log", "verify", "--export", str(out), "--home", str(tmp_path / "none"))
    assert alone.returncode == 0
    assert alone.stdout.startswith("the log verifies: 6 entries")
    assert alone.stderr.startswith("custody: warning: the export names its own key")
    pinned = run("log", "verify", "--export", str(out), "--checkpoint", str(paper))
    assert pinned.returncode == 0 and pinned.stderr == ""
    assert "it extends the checkpoint of 4 entries" in pinned.stdout
    bundled = str(out / "checkpoint.txt")
    both = run("log", "verify", "--export", str(out), "--checkpoint", str(paper), bundled)
    assert both.returncode == 0
    assert both.stdout.count("it extends the checkpoint") == 2
    again = run("log", "export", "--out", str(out), "--home", str(tmp_path / "none"))
    assert again.returncode == 4


def test_a_log_replaced_by_a_symlink_stops_every_command(home: str, tmp_path: Path) -> None:
    log = Path(home) / "log.sqlite"
    log.rename(tmp_path / "moved.sqlite")
    log.symlink_to(tmp_path / "moved.sqlite")
    for args in (["log", "note", "x"], ["log", "verify"], ["log", "checkpoint"], ["status"]):
        result = run(*args, "--home", home)
        assert result.returncode == 4, args
        assert "is a symbolic link" in result.stderr
        assert "Traceback" not in result.stderr


def test_every_log_command_takes_home_and_help(home: str) -> None:
    for verb in ("show", "note", "verify", "checkpoint", "export"):
        helped = ok("log", verb, "--help")
        assert "--home DIR" in helped
