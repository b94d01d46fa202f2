"""Fixtures for media tests: hostile folders, and real loop-attached filesystem images."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.formats.spike import encode_shard_line, shard_file_name
from custody.shamir import split

LOOP_REASON = "needs root, losetup and mkfs.ext4 (loop devices) on this machine"


def can_use_loop_devices() -> bool:
    return (
        os.geteuid() == 0
        and shutil.which("losetup") is not None
        and shutil.which("mkfs.ext4") is not None
        and Path("/dev/loop-control").exists()
    )


needs_loop = pytest.mark.skipif(not can_use_loop_devices(), reason=LOOP_REASON)


def write_set(folder: Path, threshold: int = 2, shares: int = 3) -> list[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    _, shards = split(0x1234567890ABCDEF, threshold, shares)
    lines = []
    for shard in shards:
        line = encode_shard_line(shard)
        (folder / shard_file_name(shard.id)).write_bytes(line)
        lines.append(line)
    return lines


@pytest.fixture
def ext4_loop(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB ext4 image attached to a loop device; detached afterwards."""
    if not can_use_loop_devices():
        pytest.skip(LOOP_REASON)
    image = tmp_path / "stick.img"
    with image.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-L", "CUSTODYTEST", str(image)], check=True)
    node = subprocess.run(
        ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield Path(node)
    finally:
        subprocess.run(["umount", node], check=False, capture_output=True)
        subprocess.run(["losetup", "-d", node], check=False)


@pytest.fixture
def media_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "mnt"
    monkeypatch.setenv("CUSTODY_MEDIA_ROOT", str(root))
    return root
