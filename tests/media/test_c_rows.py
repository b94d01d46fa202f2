"""The C rows of the bad-input catalogue not covered in the other media tests.

Where this machine cannot reproduce a row, the test says why and what stands in for it:
- C01 corrupted FAT: this kernel has no vfat driver (see /proc/filesystems), so no FAT image
  can be mounted here; the allow-list refusal (C02, test_loop_media) and the mount-failure path
  (`test_a_mount_failure_is_a_clear_error`) stand in.
- C05 stick pulled mid-read: device-mapper's error target is not available in this sandbox
  (no /dev/mapper); an EIO raised by the read itself stands in.
- C06 HID / composite USB devices: blocked by USBGuard in the appliance image (issue 8),
  outside this package.
- C19 stick removed before sync: the read-back digest comparison catches it; a file changed
  between write and read-back stands in.
Covered elsewhere: C02/C04/C18 in test_loop_media and test_verified_write, C07-C14 in
test_safe_read.
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from custody.media import verified_write
from custody.media.errors import MediaError, MediaReadError, MediaWriteError
from custody.media.safe_read import open_folder, read_file
from tests.media.conftest import needs_loop, write_set

CUSTODY = str(Path(sys.executable).parent / "custody")


def custody(media_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUSTODY_MEDIA_ROOT": str(media_root)}
    return subprocess.run(
        [CUSTODY, "media", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def attach(image: Path) -> str:
    return subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()


@needs_loop
def test_c03_a_stick_with_a_partition_table_names_what_was_seen(
    tmp_path: Path, media_root: Path
) -> None:
    image = tmp_path / "partitioned.img"
    mbr = bytearray(512)
    # One Linux partition from sector 2048, 4096 sectors long; then the MBR signature.
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, 4096)
    mbr[510:512] = b"\x55\xaa"
    with image.open("wb") as handle:
        handle.write(bytes(mbr))
        handle.truncate(8 * 1024 * 1024)
    node = attach(image)
    try:
        result = custody(media_root, "mount", node)
        assert result.returncode == 3
        assert "dos partition table" in result.stderr
        assert "name the partition" in result.stderr
    finally:
        subprocess.run(["losetup", "-d", node], check=False)


@needs_loop
def test_c16_two_media_with_one_uuid_are_refused(ext4_loop: Path, tmp_path: Path) -> None:
    root = tmp_path / "mnt"
    backing = subprocess.run(
        ["losetup", "-nO", "BACK-FILE", str(ext4_loop)], capture_output=True, text=True, check=True
    ).stdout.strip()
    twin_image = tmp_path / "twin.img"
    twin_image.write_bytes(Path(backing).read_bytes())
    twin = attach(twin_image)
    try:
        result = custody(root, "mount", str(ext4_loop))
        assert result.returncode == 3
        assert "same filesystem UUID" in result.stderr and twin in result.stderr
    finally:
        subprocess.run(["losetup", "-d", twin], check=False)


@needs_loop
def test_c20_no_plaintext_shard_survives_on_the_raw_image(ext4_loop: Path, tmp_path: Path) -> None:
    root = tmp_path / "mnt"
    assert custody(root, "mount", str(ext4_loop), "--write").returncode == 0
    stick = root / ext4_loop.name
    lines = write_set(stick / "recover")
    commitments = tmp_path / "c.json"
    subprocess.run(
        [
            CUSTODY,
            "shards",
            "commit",
            str(stick / "recover"),
            "--threshold",
            "2",
            "--out",
            str(commitments),
        ],
        check=True,
        capture_output=True,
    )
    wiped = custody(root, "wipe-shards", str(stick / "recover"), "--commitments", str(commitments))
    assert wiped.returncode == 0, wiped.stderr
    assert custody(root, "unmount", str(ext4_loop)).returncode == 0
    raw = ext4_loop.read_bytes()
    for line in lines:
        assert line not in raw
        assert line.split(b":")[2] not in raw


def test_c05_a_read_error_mid_read_takes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_set(tmp_path)

    def failing_read(fd: int, size: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "read", failing_read)
    with open_folder(tmp_path) as fd, pytest.raises(MediaReadError) as caught:
        read_file(fd, "spike.recovery.1.txt", str(tmp_path), max_bytes=256)
    assert caught.value.kind == "read-failed"


def test_c19_a_read_back_that_differs_is_never_marked_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verified_write, "_read_back_digest", lambda fd, name: "0" * 64)
    with pytest.raises(MediaWriteError) as caught:
        verified_write.write_verified(tmp_path, "packet-1.asc", b"ciphertext")
    assert caught.value.kind == "read-back-mismatch"


def test_a_mount_failure_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from custody.media import mounting
    from custody.media.devices import MediaDevice

    device = MediaDevice(
        node="/dev/sdz1",
        kind="usb",
        partition=True,
        parent="/dev/sdz",
        bus="usb",
        vendor="",
        model="",
        serial="",
        size_bytes=1,
        read_only=False,
        fs_type="vfat",
        label="",
        uuid="",
        partition_table="",
        mountpoints=(),
        system=False,
        content_digest=None,
    )
    monkeypatch.setattr(mounting, "_mountable_device", lambda node: device)
    monkeypatch.setattr(
        mounting, "run_mount", lambda *args: "mount: unknown filesystem type 'vfat'."
    )
    with pytest.raises(MediaError) as caught:
        mounting.mount_medium(Path("/dev/sdz1"), tmp_path / "mnt")
    assert caught.value.kind == "mount-failed"
    assert caught.value.hint is not None and "no vfat driver" in caught.value.hint
    assert not (tmp_path / "mnt" / "sdz1").exists()
