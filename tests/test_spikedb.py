"""Checking a key against a real spike.db backup: read-only, no side files, clear refusals."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.errors import SpikeDbError
from custody.spikedb import DbCheck, check_spike_db
from tests.conftest import VECTORS

DB_VECTOR = VECTORS / "db-t2-n3"
EXPECTED = json.loads((DB_VECTOR / "expected.json").read_text())
KEY = bytes.fromhex(EXPECTED["root_key_hex"])
OTHER_KEY = bytes.fromhex((VECTORS / "sets/main-t3-n5-random-1/root_key.hex").read_text().strip())
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")

# Offsets where XOR-ing 4 bytes with 0x5A damages a b-tree page so that reading the
# SPIKE tables fails after integrity_check (found by sweeping the file).
DAMAGING_OFFSETS = [15990, 16137, 24292]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    folder = tmp_path / "backup"
    folder.mkdir()
    copy = folder / "spike.db"
    shutil.copyfile(DB_VECTOR / "data" / "spike.db", copy)
    return copy


def side_files(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name != db.name)


def refused(db: Path, kind: str, key: bytes = KEY) -> SpikeDbError:
    with pytest.raises(SpikeDbError) as caught:
        check_spike_db(db, key)
    assert caught.value.kind == kind, caught.value.message
    assert caught.value.exit_code == 3
    assert str(db) in caught.value.message
    assert KEY.hex() not in caught.value.message
    return caught.value


def test_the_bundled_db_opens_with_its_key(db: Path) -> None:
    before = db.read_bytes()
    result = check_spike_db(db, KEY)
    assert result.integrity == "ok"
    assert result.rows_checked == result.rows_decrypted == 5  # 3 secret versions, 2 metadata
    assert result.key_matches
    assert result.ok
    assert not result.wal_present
    assert db.read_bytes() == before
    assert side_files(db) == []


def test_no_plaintext_leaves_the_check(db: Path) -> None:
    result = check_spike_db(db, KEY)
    shown = repr(result)
    assert "correct horse" not in shown
    assert "marker-v" not in shown
    assert set(DbCheck.__slots__) == {
        "path",
        "sha256",
        "integrity",
        "rows_checked",
        "rows_decrypted",
        "wal_present",
    }


def test_the_digest_is_of_the_file(db: Path) -> None:
    import hashlib

    assert check_spike_db(db, KEY).sha256 == hashlib.sha256(db.read_bytes()).hexdigest()


def test_a_read_only_folder_and_file_still_work(db: Path) -> None:
    # (As root the modes are not enforced; the check still shows nothing is attempted.)
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        assert check_spike_db(db, KEY).ok
        assert side_files(db) == []
    finally:
        db.parent.chmod(0o755)


def test_another_key_does_not_open_it(db: Path) -> None:
    result = check_spike_db(db, OTHER_KEY)
    assert result.integrity == "ok"
    assert result.rows_checked == 5
    assert result.rows_decrypted == 0
    assert not result.key_matches
    assert not result.ok


def test_a_wal_file_beside_it_is_reported(db: Path) -> None:
    Path(f"{db}-wal").write_bytes(b"\x00" * 32)
    result = check_spike_db(db, KEY)
    assert result.wal_present
    assert result.ok


def test_a_key_of_the_wrong_length_is_a_caller_bug(db: Path) -> None:
    with pytest.raises(ValueError):
        check_spike_db(db, KEY[:16])


def test_a_missing_file(tmp_path: Path) -> None:
    refused(tmp_path / "spike.db", "db-unreadable")


def test_a_symlink_is_not_followed(db: Path) -> None:
    link = db.parent / "link.db"
    link.symlink_to(db)
    refused(link, "db-unreadable")


def test_a_folder(tmp_path: Path) -> None:
    refused(tmp_path, "db-unreadable")


def test_a_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "spike.db"
    os.mkfifo(fifo)
    refused(fifo, "db-unreadable")


@pytest.mark.parametrize("content", [b"", b"not a database", b"SQLite format 2\x00" + bytes(100)])
def test_a_file_that_is_not_sqlite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "spike.db"
    path.write_bytes(content)
    refused(path, "not-spike-db")


def test_an_sqlite_file_without_spike_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    refused(path, "not-spike-db")


def test_a_spike_db_without_encrypted_rows(db: Path) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("DELETE FROM secrets")
        connection.execute("DELETE FROM secret_metadata")
    refused(db, "empty-db")


@pytest.mark.parametrize("keep", [100, 4096, 3 * 4096, 5 * 4096 + 10, 8 * 4096])
def test_a_truncated_copy(db: Path, keep: int) -> None:
    with db.open("r+b") as handle:
        handle.truncate(keep)
    refused(db, "corrupt-db")


@pytest.mark.parametrize("offset", DAMAGING_OFFSETS)
def test_damage_found_while_reading_the_tables_is_corruption(db: Path, offset: int) -> None:
    flip(db, offset, 4)
    refused(db, "corrupt-db")


def test_an_index_page_damaged_is_reported_by_integrity_check(db: Path) -> None:
    flip(db, 3 * 4096 + 4000, 16)
    result = check_spike_db(db, KEY)
    assert result.integrity != "ok"
    assert "index" in result.integrity
    assert not result.ok


def test_any_damage_to_the_middle_pages_is_caught_or_harmless(db: Path) -> None:
    # Flip 4 bytes at a time across pages 2-8: either a clear SpikeDbError, or a result that
    # reports the damage, or (free space, unused header bytes) a result identical to the
    # undamaged file's. Never another exception, never a quiet partial answer.
    original = db.read_bytes()
    for offset in range(4096, len(original) - 4, 97):
        damaged = bytearray(original)
        for i in range(offset, offset + 4):
            damaged[i] ^= 0x5A
        db.write_bytes(damaged)
        try:
            result = check_spike_db(db, KEY)
        except SpikeDbError as error:
            assert error.kind in ("corrupt-db", "not-spike-db"), (offset, error.message)
            continue
        intact = result.integrity == "ok" and result.rows_decrypted == result.rows_checked == 5
        assert intact == result.ok, offset
    assert side_files(db) == []


def flip(path: Path, offset: int, length: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + length):
        data[i] ^= 0x5A
    path.write_bytes(data)


@pytest.fixture
def locked(db: Path) -> Iterator[Path]:
    """The copy in rollback-journal mode, held under BEGIN EXCLUSIVE by another process."""
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield db
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_a_locked_file(locked: Path) -> None:
    error = refused(locked, "db-locked")
    assert error.hint


def test_a_rollback_journal_copy_opens(db: Path) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    assert check_spike_db(db, KEY).ok
    assert side_files(db) == []
