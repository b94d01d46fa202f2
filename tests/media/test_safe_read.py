"""Reading a hostile folder: links, FIFOs, devices, giant and hard-linked files, look-alikes."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from custody.formats.spike import id_from_file_name
from custody.media.errors import MediaReadError
from custody.media.safe_read import (
    list_folder,
    open_folder,
    read_file,
    read_named_files,
    select_names,
    shown,
)


def is_shard_name(name: str) -> bool:
    return id_from_file_name(name) is not None


def read_one(folder: Path, name: str, max_bytes: int = 256) -> bytes:
    with open_folder(folder) as fd:
        return read_file(fd, name, str(folder), max_bytes=max_bytes).data


def test_reads_a_plain_file_and_hashes_what_it_read(tmp_path: Path) -> None:
    (tmp_path / "spike.recovery.1.txt").write_bytes(b"spike:1:ab")
    (read,) = read_named_files(tmp_path, ["spike.recovery.1.txt"], max_bytes=256)
    assert read.data == b"spike:1:ab"
    assert read.sha256 == hashlib.sha256(b"spike:1:ab").hexdigest()


def test_c07_a_link_to_a_secret_is_never_opened(tmp_path: Path) -> None:
    (tmp_path / "spike.recovery.1.txt").symlink_to("/etc/shadow")
    with pytest.raises(MediaReadError) as caught:
        read_one(tmp_path, "spike.recovery.1.txt")
    assert caught.value.kind == "not-a-regular-file"


def test_c07_a_link_to_dev_zero_is_never_opened(tmp_path: Path) -> None:
    (tmp_path / "spike.recovery.1.txt").symlink_to("/dev/zero")
    with pytest.raises(MediaReadError):
        read_one(tmp_path, "spike.recovery.1.txt")


def test_c08_a_linked_folder_component_is_refused(tmp_path: Path) -> None:
    (tmp_path / "recover").symlink_to("/")
    with pytest.raises(MediaReadError) as caught, open_folder(tmp_path / "recover"):
        pass
    assert caught.value.kind == "folder-unreadable"
    assert "recover" in caught.value.message


def test_c09_a_hard_linked_file_is_refused(tmp_path: Path) -> None:
    original = tmp_path / "elsewhere.txt"
    original.write_bytes(b"spike:1:00")
    os.link(original, tmp_path / "spike.recovery.1.txt")
    with pytest.raises(MediaReadError) as caught:
        read_one(tmp_path, "spike.recovery.1.txt")
    assert caught.value.kind == "hard-linked"


def test_c10_a_fifo_named_like_a_shard_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "spike.recovery.1.txt")
    started = time.monotonic()
    with pytest.raises(MediaReadError) as caught:
        read_one(tmp_path, "spike.recovery.1.txt")
    assert caught.value.kind == "not-a-regular-file"
    assert time.monotonic() - started < 2


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_c11_a_device_node_is_refused(tmp_path: Path) -> None:
    os.mknod(tmp_path / "spike.recovery.1.txt", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero
    with pytest.raises(MediaReadError) as caught:
        read_one(tmp_path, "spike.recovery.1.txt")
    assert caught.value.kind == "not-a-regular-file"


def test_c13_a_giant_sparse_file_is_refused_before_reading(tmp_path: Path) -> None:
    with (tmp_path / "spike.recovery.1.txt").open("wb") as handle:
        handle.truncate(2 * 1024**3)
    started = time.monotonic()
    with pytest.raises(MediaReadError) as caught:
        read_one(tmp_path, "spike.recovery.1.txt")
    assert caught.value.kind == "file-too-large"
    assert time.monotonic() - started < 1


def test_c14_a_folder_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    for i in range(60):
        (tmp_path / f"f{i}").touch()
    with open_folder(tmp_path) as fd, pytest.raises(MediaReadError) as caught:
        list_folder(fd, str(tmp_path), max_entries=50)
    assert caught.value.kind == "too-many-entries"


def test_a_folder_is_listed_one_level_only(tmp_path: Path) -> None:
    (tmp_path / "deep" / "deeper").mkdir(parents=True)
    (tmp_path / "deep" / "deeper" / "spike.recovery.1.txt").touch()
    with open_folder(tmp_path) as fd:
        assert list_folder(fd, str(tmp_path)).names == ("deep",)


def test_only_exact_ascii_names_are_selected_and_look_alikes_are_reported(tmp_path: Path) -> None:
    for name in (
        "spike.recovery.1.txt",
        "SPIKE.RECOVERY.2.TXT",
        "spike.recovery.\uff13.txt",
        "x.txt",
    ):
        (tmp_path / name).touch()
    with open_folder(tmp_path) as fd:
        exact, lookalikes = select_names(list_folder(fd, "f"), is_shard_name, "f")
    assert exact == ("spike.recovery.1.txt",)
    assert set(lookalikes) == {"SPIKE.RECOVERY.2.TXT", "spike.recovery.\uff13.txt"}


@pytest.mark.parametrize(
    "lookalike", ["SPIKE.RECOVERY.1.TXT", "spike.recovery.\uff11.txt", "spike.recovery.1.txt "]
)
def test_a_look_alike_of_a_present_name_makes_the_folder_ambiguous(
    tmp_path: Path, lookalike: str
) -> None:
    (tmp_path / "spike.recovery.1.txt").touch()
    (tmp_path / lookalike).touch()
    with open_folder(tmp_path) as fd, pytest.raises(MediaReadError) as caught:
        select_names(list_folder(fd, "f"), is_shard_name, "f")
    assert caught.value.kind == "ambiguous-name"


def test_hostile_names_are_shown_escaped(tmp_path: Path) -> None:
    name = "spike\x1b[31m.recovery.1.txt\n"
    (tmp_path / name).touch()
    with open_folder(tmp_path) as fd:
        listing = list_folder(fd, "f")
    assert name in listing.names
    assert "\x1b" not in shown(name) and "\n" not in shown(name)


def test_undecodable_names_are_listed_without_crashing(tmp_path: Path) -> None:
    raw = os.fsencode(str(tmp_path)) + b"/spike.recovery.\xff.txt"
    with open(raw, "wb"):
        pass
    with open_folder(tmp_path) as fd:
        exact, _ = select_names(list_folder(fd, "f"), is_shard_name, "f")
    assert exact == ()


def test_missing_named_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaReadError) as caught:
        read_named_files(tmp_path, ["spike.recovery.1.txt"], max_bytes=256)
    assert caught.value.kind == "missing-file"
