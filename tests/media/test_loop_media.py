"""Real media: an ext4 image attached to a loop device, driven through the installed CLI.

FAT cannot be tested this way here: this machine's kernel has no vfat driver (see
/proc/filesystems), so `test_fat_options_are_private` checks the options custody would pass,
and the ext4 tests stand in for the mount, read, write and wipe paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from custody.media.mounting import mount_options
from custody.media.verified_write import write_verified
from tests.media.conftest import needs_loop, write_set

CUSTODY = str(Path(sys.executable).parent / "custody")


def custody(*args: str, env_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUSTODY_MEDIA_ROOT": str(env_root)}
    return subprocess.run(
        [CUSTODY, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def mount_options_of(mountpoint: Path) -> set[str]:
    out = subprocess.run(
        ["findmnt", "-no", "OPTIONS", str(mountpoint)], capture_output=True, text=True, check=True
    )
    return set(out.stdout.strip().split(","))


@needs_loop
def test_list_shows_the_attached_image_with_what_an_operator_can_check(
    ext4_loop: Path, media_root: Path
) -> None:
    result = custody("media", "list", "--json", env_root=media_root)
    assert result.returncode == 0, result.stderr
    (device,) = [d for d in json.loads(result.stdout)["devices"] if d["node"] == str(ext4_loop)]
    assert device["kind"] == "loop" and device["fs_type"] == "ext4"
    assert device["label"] == "CUSTODYTEST" and device["supported"] and not device["system"]
    assert len(device["content_digest"]) == 9


@needs_loop
def test_c04_read_only_mount_is_inert(ext4_loop: Path, media_root: Path, tmp_path: Path) -> None:
    # Prepare the stick: a shard set and an executable.
    assert custody("media", "mount", str(ext4_loop), "--write", env_root=media_root).returncode == 0
    stick = media_root / ext4_loop.name
    write_set(stick / "recover")
    tool = stick / "run-me"
    tool.write_text("#!/bin/sh\necho ran\n")
    tool.chmod(0o4755)
    assert custody("media", "unmount", str(ext4_loop), env_root=media_root).returncode == 0

    result = custody("media", "mount", str(ext4_loop), env_root=media_root)
    assert result.returncode == 0, result.stderr
    assert {"ro", "nosuid", "nodev", "noexec"} <= mount_options_of(stick)
    with pytest.raises(PermissionError):
        subprocess.run([str(tool)], check=False)
    with pytest.raises(OSError):
        (stick / "recover" / "new.txt").write_text("x")
    verify = subprocess.run(
        [CUSTODY, "shards", "verify", str(stick / "recover"), "--threshold", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert custody("media", "unmount", str(stick), env_root=media_root).returncode == 0
    assert not stick.exists()


@needs_loop
def test_write_then_wipe_on_the_stick(ext4_loop: Path, media_root: Path, tmp_path: Path) -> None:
    assert custody("media", "mount", str(ext4_loop), "--write", env_root=media_root).returncode == 0
    stick = media_root / ext4_loop.name
    assert {"rw", "nosuid", "nodev", "noexec"} <= mount_options_of(stick)
    written = write_verified(stick, "packet-1.asc", b"ciphertext")
    assert (stick / "packet-1.asc").read_bytes() == b"ciphertext" and written.size == 10
    write_set(stick / "recover")
    (stick / "recover" / "README").write_text("keep")
    commitments = tmp_path / "commitments.json"
    committed = subprocess.run(
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
        capture_output=True,
        text=True,
        check=False,
    )
    assert committed.returncode == 0, committed.stderr
    result = custody(
        "media",
        "wipe-shards",
        str(stick / "recover"),
        "--commitments",
        str(commitments),
        "--json",
        env_root=media_root,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["wiped"]) == 3
    assert "wear" in result.stderr
    assert sorted(os.listdir(stick / "recover")) == ["README"]
    assert custody("media", "unmount", str(ext4_loop), env_root=media_root).returncode == 0


@needs_loop
def test_refusals(ext4_loop: Path, media_root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(["mount", "-o", "ro", str(ext4_loop), str(elsewhere)], check=True)
    try:
        result = custody("media", "mount", str(ext4_loop), env_root=media_root)
        assert result.returncode == 3 and "already mounted" in result.stderr
    finally:
        subprocess.run(["umount", str(elsewhere)], check=True)
    not_a_device = custody("media", "mount", str(tmp_path), env_root=media_root)
    assert not_a_device.returncode == 3 and "not a block device" in not_a_device.stderr
    not_ours = custody("media", "unmount", str(tmp_path), env_root=media_root)
    assert not_ours.returncode == 3 and "not mounted by custody" in not_ours.stderr


@needs_loop
def test_c02_a_medium_without_a_supported_filesystem_is_refused(
    media_root: Path, tmp_path: Path
) -> None:
    image = tmp_path / "blank.img"
    with image.open("wb") as handle:
        handle.truncate(4 * 1024 * 1024)
    node = subprocess.run(
        ["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        result = custody("media", "mount", node, env_root=media_root)
        assert result.returncode == 3
        assert "custody mounts only vfat, exfat, ext4" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        subprocess.run(["losetup", "-d", node], check=False)


def test_the_system_disk_is_never_mounted(media_root: Path) -> None:
    root_device = subprocess.run(
        ["findmnt", "-no", "SOURCE", "/"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not root_device.startswith("/dev/"):
        pytest.skip(f"/ is not on a block device here ({root_device or 'unknown'})")
    result = custody("media", "mount", root_device, env_root=media_root)
    assert result.returncode == 3
    assert "not removable" in result.stderr or "system" in result.stderr


def test_fat_options_are_private() -> None:
    options = mount_options("vfat", writable=False)
    assert {"ro", "nosuid", "nodev", "noexec", "noatime", "umask=077"} <= set(options)
    assert "noload" in mount_options("ext4", writable=False)
    assert "noload" not in mount_options("ext4", writable=True)
