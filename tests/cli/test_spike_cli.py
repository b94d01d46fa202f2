"""`custody spike check-db` end to end through the installed command, on SPIKE's own spike.db."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import VECTORS, RunCustody, assert_no_secret, run_custody_many, vector_sets

DB_VECTOR = VECTORS / "db-t2-n3"
RECOVER = DB_VECTOR / "recover"
KEY_HEX = json.loads((DB_VECTOR / "expected.json").read_text())["root_key_hex"]
OTHER = next(v for v in vector_sets("main-t2-n3-random-1"))
JSON_KEYS = {
    "db",
    "db_sha256",
    "integrity",
    "rows_checked",
    "rows_decrypted",
    "key_matches",
    "wal_present",
    "fingerprint",
}


def secrets() -> list[str]:
    values = [(RECOVER / f"spike.recovery.{i}.txt").read_text().split(":")[2] for i in (1, 2, 3)]
    return [KEY_HEX, OTHER.root_key_hex, *values, *(OTHER.value_hex(i) for i in OTHER.ids)]


def backup(tmp_path: Path, name: str = "backup") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copyfile(DB_VECTOR / "data" / "spike.db", folder / "spike.db")
    return folder / "spike.db"


def check(db: Path, shards: Path = RECOVER, *extra: str, threshold: int = 2) -> list[str | Path]:
    return ["spike", "check-db", "--db", db, shards, "--threshold", str(threshold), *extra]


def test_the_backup_opens_with_its_shards(tmp_path: Path, custody: RunCustody) -> None:
    db = backup(tmp_path)
    before = db.read_bytes()
    code, out, err = custody(*check(db, RECOVER, "--json"))
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == JSON_KEYS
    assert document["integrity"] == "ok"
    assert document["rows_checked"] == document["rows_decrypted"] == 5
    assert document["key_matches"] is True
    assert document["wal_present"] is False
    assert err == ""
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["spike.db"]
    assert_no_secret(secrets(), out, err)


def test_text_output_and_a_read_only_folder(tmp_path: Path, custody: RunCustody) -> None:
    # (As root the mode is not enforced; this still shows no side file is even attempted.)
    db = backup(tmp_path)
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        code, out, err = custody(*check(db))
    finally:
        db.parent.chmod(0o755)
    assert code == 0, err
    assert out.splitlines() == [
        f"{db}: integrity ok",
        "rows decrypted: 5 of 5",
        out.splitlines()[2],
    ]
    assert out.splitlines()[2].startswith("the key opens this backup (fingerprint ")
    assert sorted(p.name for p in db.parent.iterdir()) == ["spike.db"]
    assert_no_secret(secrets(), out, err)


def test_another_sets_key_does_not_open_it(tmp_path: Path, custody: RunCustody) -> None:
    db = backup(tmp_path)
    code, out, err = custody(*check(db, OTHER.folder, "--json"))
    assert code == 1
    document = json.loads(out)
    assert document["key_matches"] is False
    assert document["rows_decrypted"] == 0
    assert document["rows_checked"] == 5
    assert document["integrity"] == "ok"
    assert "Traceback" not in err
    code, out, err = custody(*check(db, OTHER.folder))
    assert code == 1
    assert "the key does NOT open this backup" in out
    assert_no_secret(secrets(), out, err)


def test_a_wal_file_beside_it_is_a_warning(tmp_path: Path, custody: RunCustody) -> None:
    db = backup(tmp_path)
    Path(f"{db}-wal").write_bytes(bytes(64))
    code, out, err = custody(*check(db, RECOVER, "--json"))
    assert code == 0
    assert json.loads(out)["wal_present"] is True
    assert err.startswith(f"custody: warning: {db}-wal exists beside the backup")


def test_unusable_databases_are_clear_errors(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("hello")
    no_tables = tmp_path / "other.db"
    with sqlite3.connect(no_tables) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()
    truncated = backup(tmp_path, "truncated")
    with truncated.open("r+b") as handle:
        handle.truncate(3 * 4096)
    corrupted = backup(tmp_path, "corrupted")
    data = bytearray(corrupted.read_bytes())
    for i in range(15990, 15994):  # inside a b-tree page of the SPIKE tables
        data[i] ^= 0x5A
    corrupted.write_bytes(data)
    link = tmp_path / "link.db"
    link.symlink_to(DB_VECTOR / "data" / "spike.db")
    cases = [
        (not_sqlite, "not an SQLite database"),
        (no_tables, "not a SPIKE database"),
        (truncated, "corrupt"),
        (corrupted, "corrupt"),
        (tmp_path / "missing.db", "cannot open it"),
        (link, "links are not followed"),
        (tmp_path, "not a regular file"),
    ]
    results = run_custody_many([check(db) for db, _ in cases])
    for (db, words), (code, out, err) in zip(cases, results, strict=True):
        assert code == 3, (db, err)
        assert out == ""
        assert err.startswith(f"custody: error: {db}: "), err
        assert words in err, err
        assert "Traceback" not in err
        assert_no_secret(secrets(), out, err)


def test_a_locked_database(tmp_path: Path, custody: RunCustody) -> None:
    db = backup(tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, out, err = custody(*check(db), timeout=20)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert code == 3
    assert err.startswith(f"custody: error: {db}: locked by a program writing to it.")
    assert "custody: hint: " in err
    assert out == ""


def test_bad_shards_stop_before_the_database_is_opened(tmp_path: Path, custody: RunCustody) -> None:
    db = backup(tmp_path)
    shards = tmp_path / "shards"
    shards.mkdir()
    shutil.copyfile(RECOVER / "spike.recovery.1.txt", shards / "spike.recovery.1.txt")
    results = run_custody_many([check(db, shards), check(db, OTHER.folder, threshold=3)])
    (c1, o1, e1), (c2, o2, e2) = results
    assert c1 == 3
    assert "1 more needed" in e1
    assert c2 == 1
    assert "looks like 2" in e2
    assert_no_secret(secrets(), o1, e1, o2, e2)
