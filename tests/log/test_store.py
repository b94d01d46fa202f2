"""The log file: links, permissions, foreign and damaged files, a full disk (E12, G03, G04)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.appliance import Appliance, init_home
from custody.errors import CustodyError, LogIntegrityError, StateError
from custody.log import verify_log
from tests.log.conftest import SEED, Clock


def _refused_everywhere(appliance: Appliance, kind: str) -> None:
    """Opening for appending and verifying both refuse, with the same kind for appending."""
    with pytest.raises(CustodyError) as refused:
        appliance.open_log()
    assert refused.value.kind == kind
    with pytest.raises(CustodyError):
        verify_log(appliance.home)


def test_a_log_replaced_by_a_symlink_is_refused(filled: Appliance, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.sqlite"
    shutil.copyfile(filled.log_path, target)
    before = target.read_bytes()
    filled.log_path.unlink()
    filled.log_path.symlink_to(target)
    _refused_everywhere(filled, "log-unavailable")
    with pytest.raises(StateError):
        filled.open_log()
    assert target.read_bytes() == before


@pytest.mark.parametrize("side", ["-wal", "-shm"])
def test_a_symlinked_wal_or_shm_is_refused(filled: Appliance, tmp_path: Path, side: str) -> None:
    path = filled.log_path.with_name(filled.log_path.name + side)
    path.unlink(missing_ok=True)
    path.symlink_to(tmp_path / "attacker")
    _refused_everywhere(filled, "log-unavailable")
    assert not (tmp_path / "attacker").exists()


def test_a_log_that_is_a_directory_is_refused(filled: Appliance) -> None:
    filled.log_path.unlink()
    filled.log_path.mkdir()
    _refused_everywhere(filled, "log-unavailable")


def test_a_read_only_log_refuses_to_record_but_still_verifies(filled: Appliance) -> None:
    filled.log_path.chmod(0o400)
    with pytest.raises(StateError) as refused:
        filled.open_log()
    assert refused.value.kind == "log-unavailable"
    assert "not writable" in refused.value.message
    assert verify_log(filled.home).size == 8


def test_a_foreign_database_is_refused(appliance: Appliance) -> None:
    appliance.log_path.unlink()
    for suffix in ("-wal", "-shm"):
        appliance.log_path.with_name(appliance.log_path.name + suffix).unlink(missing_ok=True)
    db = sqlite3.connect(appliance.log_path)
    db.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY, line BLOB)")
    db.close()
    _refused_everywhere(appliance, "log-unavailable")


def test_a_file_that_is_not_a_database_is_corrupt(appliance: Appliance) -> None:
    appliance.log_path.write_bytes(b"\x00" * 100 + b"not sqlite" * 500)
    _refused_everywhere(appliance, "log-corrupt")


@pytest.mark.parametrize("keep", [0.98, 0.5, 0.02])
def test_a_torn_database_is_reported_never_truncated(
    filled: Appliance, clock: Clock, keep: float
) -> None:
    with filled.open_log(now=clock) as log:
        for number in range(60):
            log.append("log.note", {"text": f"padding {number} " * 8})
    data = filled.log_path.read_bytes()
    torn = data[: int(len(data) * keep)]
    filled.log_path.write_bytes(torn)
    with pytest.raises(LogIntegrityError) as failed:
        verify_log(filled.home)
    assert failed.value.kind == "log-corrupt"
    with pytest.raises(LogIntegrityError):
        filled.open_log()
    assert filled.log_path.read_bytes() == torn


def test_disk_full_stand_in_the_entry_and_its_action_do_not_happen(
    filled: Appliance, tmp_path: Path
) -> None:
    # Stand-in for a full disk on machines that cannot mount a tiny tmpfs: SQLite's
    # max_page_count makes the next write fail with SQLITE_FULL, the same error path.
    acted = tmp_path / "action"
    with filled.open_log() as log:
        pages = log._store._db.execute("PRAGMA page_count").fetchone()[0]
        log._store._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StateError) as refused:
            log.intent("media.write", {"text": "x" * 8000})
            acted.write_text("the effect")
        assert refused.value.kind == "log-unavailable"
    assert not acted.exists()
    assert verify_log(filled.home).size == 8


@contextlib.contextmanager
def _tiny_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the max_page_count stand-in covers G04")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_on_a_real_tiny_filesystem(tmp_path: Path) -> None:
    with _tiny_tmpfs(tmp_path / "disk") as disk:
        clock = Clock()
        appliance = init_home(disk / "home", now=clock, seed=SEED)
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb", buffering=0) as file:
            while True:
                file.write(b"\x00" * 4096)
        acted = tmp_path / "action"
        with pytest.raises(StateError) as refused, appliance.open_log(now=clock) as log:
            log.intent("media.write", {"device": "stick-a", "padding": "p" * 9000})
            acted.write_text("the effect")
        assert refused.value.kind == "log-unavailable"
        assert not acted.exists()
        filler.unlink()
        assert verify_log(appliance.home).size == 1
        with appliance.open_log(now=clock) as log:
            log.append("log.note", {"text": "space again"})
        assert verify_log(appliance.home).size == 2
