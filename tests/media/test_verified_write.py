"""Verified writes: the file on the medium is what was written, or a clear error and no file."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.media.errors import MediaWriteError
from custody.media.verified_write import write_verified


def test_write_reads_back_and_reports_the_digest(tmp_path: Path) -> None:
    written = write_verified(tmp_path, "packet-1.asc", b"payload")
    assert written.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert (tmp_path / "packet-1.asc").read_bytes() == b"payload"
    assert (tmp_path / "packet-1.asc").stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["packet-1.asc"]


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "packet-1.asc").write_bytes(b"old")
    with pytest.raises(MediaWriteError) as caught:
        write_verified(tmp_path, "packet-1.asc", b"new")
    assert caught.value.kind == "output-exists"
    assert (tmp_path / "packet-1.asc").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["packet-1.asc"]


def test_a_vanished_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaWriteError) as caught:
        write_verified(tmp_path / "gone", "packet-1.asc", b"x")
    assert caught.value.kind in {"media-failed", "folder-unreadable"}


def test_names_must_be_plain(tmp_path: Path) -> None:
    for name in ("../escape", ".hidden", "a/b", "é.txt"):
        with pytest.raises(ValueError):
            write_verified(tmp_path, name, b"x")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    target = tmp_path / "small"
    target.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)], check=False
    )
    if result.returncode != 0:
        pytest.skip("this machine cannot mount a tmpfs")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_c18_a_full_medium_is_a_clear_error_and_leaves_nothing(small_tmpfs: Path) -> None:
    with pytest.raises(MediaWriteError) as caught:
        write_verified(small_tmpfs, "packet-1.asc", b"x" * 200_000)
    assert caught.value.kind == "media-full"
    assert os.listdir(small_tmpfs) == []


def test_c18_a_read_only_medium_is_a_clear_error(small_tmpfs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    with pytest.raises(MediaWriteError) as caught:
        write_verified(small_tmpfs, "packet-1.asc", b"x")
    assert caught.value.kind == "media-read-only"
