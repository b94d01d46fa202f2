"""Atomic writes: never overwrite by accident, never leave a temporary file, exact modes."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.atomicfile import make_private_directory, write_file_atomic
from custody.errors import BadInputError


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o400])
def test_writes_the_bytes_with_the_mode_asked(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "file"
    write_file_atomic(path, b"data\x00\xff", mode=mode)
    assert path.read_bytes() == b"data\x00\xff"
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert names(tmp_path) == ["file"]


def test_default_mode_is_private(tmp_path: Path) -> None:
    write_file_atomic(tmp_path / "file", b"")
    assert stat.S_IMODE((tmp_path / "file").stat().st_mode) == 0o600
    assert (tmp_path / "file").read_bytes() == b""


def test_a_large_file_is_written_whole(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    write_file_atomic(tmp_path / "big", data)
    assert (tmp_path / "big").read_bytes() == data


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")
    with pytest.raises(BadInputError) as caught:
        write_file_atomic(path, b"new")
    assert caught.value.kind == "output-exists"
    assert str(path) in caught.value.message
    assert caught.value.hint
    assert path.read_bytes() == b"old"
    assert names(tmp_path) == ["file"]


def test_refuses_to_write_through_a_dangling_link(tmp_path: Path) -> None:
    (tmp_path / "file").symlink_to(tmp_path / "target")
    with pytest.raises(BadInputError) as caught:
        write_file_atomic(tmp_path / "file", b"new")
    assert caught.value.kind == "output-exists"
    assert not (tmp_path / "target").exists()


def test_overwrites_only_when_told(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")
    write_file_atomic(path, b"new", overwrite=True, mode=0o640)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert names(tmp_path) == ["file"]


def test_a_name_that_appears_meanwhile_is_not_clobbered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the existence check and the final link someone else creates the name.
    real_link = os.link

    def racing_link(source: str | Path, target: str | Path) -> None:
        Path(target).write_bytes(b"theirs")
        real_link(source, target)

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(BadInputError) as caught:
        write_file_atomic(tmp_path / "file", b"ours")
    assert caught.value.kind == "write-failed"
    assert (tmp_path / "file").read_bytes() == b"theirs"
    assert names(tmp_path) == ["file"], "a temporary file was left behind"


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP])
def test_without_hard_links_it_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    # FAT has no hard links; the write still lands, with no temporary file left.
    def no_links(source: str | Path, target: str | Path) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_links)
    write_file_atomic(tmp_path / "file", b"data")
    assert (tmp_path / "file").read_bytes() == b"data"
    assert names(tmp_path) == ["file"]


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as caught:
        write_file_atomic(tmp_path / "missing" / "file", b"data")
    assert caught.value.kind == "write-failed"
    assert names(tmp_path) == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # A real write failure: the file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG
    # half way, in a child process so this one keeps its limits.
    script = """
import resource, signal, sys
from pathlib import Path
from custody.atomicfile import write_file_atomic
from custody.errors import BadInputError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    write_file_atomic(Path(sys.argv[1]), b"x" * 100_000)
except BadInputError as error:
    print(error.kind)
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "file")],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.strip() == "write-failed"
    assert names(tmp_path) == []


def test_make_private_directory(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    make_private_directory(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (folder / "keep").write_text("x")
    make_private_directory(folder)
    assert (folder / "keep").read_text() == "x"
