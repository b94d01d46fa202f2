"""Mounting removable media into folders custody owns, with flags that make them inert.

Read-only mounts are `ro,nosuid,nodev,noexec,noatime` (ext4 also `noload`, so a dirty
journal is not replayed onto a stick that should not be written); read-write mounts, for
output sticks only, are still `nosuid,nodev,noexec`. Only vfat, exfat and ext4 are mounted:
every other filesystem is a kernel parser custody has no reason to expose to a stranger's
stick. After mounting, the flags are read back from the kernel and the mount is undone if
any is missing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.atomicfile import make_private_directory
from custody.media.devices import SUPPORTED_FILESYSTEMS, MediaDevice
from custody.media.discovery import list_media
from custody.media.errors import MediaError
from custody.media.probe import read_mounts, run_mount, run_unmount

REQUIRED_FLAGS: Final = frozenset({"nosuid", "nodev", "noexec"})


@dataclass(frozen=True, slots=True)
class MountedMedium:
    device: MediaDevice
    mountpoint: Path
    writable: bool


def mount_options(fs_type: str, *, writable: bool) -> tuple[str, ...]:
    options: tuple[str, ...] = ("rw" if writable else "ro", "nosuid", "nodev", "noexec", "noatime")
    if fs_type == "ext4" and not writable:
        options += ("noload",)
    if fs_type in ("vfat", "exfat"):
        # FAT has no owners: give every file to the operator, readable by nobody else.
        options += (f"uid={os.getuid()}", f"gid={os.getgid()}", "umask=077")
    return options


def mount_medium(node: Path, mount_root: Path, *, writable: bool = False) -> MountedMedium:
    device = _mountable_device(node)
    make_private_directory(mount_root)
    mountpoint = mount_root / Path(device.node).name
    mountpoint.mkdir(mode=0o700, exist_ok=True)
    failure = run_mount(
        Path(device.node),
        mountpoint,
        device.fs_type,
        mount_options(device.fs_type, writable=writable),
    )
    if failure:
        mountpoint.rmdir()
        raise MediaError(
            f"{device.node}: mounting its {device.fs_type} filesystem failed: {failure}",
            kind="mount-failed",
            hint=_mount_hint(failure, device.fs_type),
        )
    _verify_flags(device, mountpoint, writable)
    return MountedMedium(device=device, mountpoint=mountpoint, writable=writable)


def unmount_medium(target: Path, mount_root: Path) -> Path:
    """Unmount a custody mount, named by its device or its mountpoint; returns the mountpoint."""
    mountpoint = _custody_mountpoint(target, mount_root)
    failure = run_unmount(mountpoint)
    if failure:
        raise MediaError(
            f"{mountpoint}: unmounting failed: {failure}",
            kind="unmount-failed",
            hint="Close every program using files on it, then try again.",
        )
    mountpoint.rmdir()
    return mountpoint


def _mountable_device(node: Path) -> MediaDevice:
    try:
        mode = os.stat(node).st_mode
    except OSError as error:
        raise MediaError(f"{node}: no such device ({error.strerror}).", kind="no-device") from None
    if not stat.S_ISBLK(mode):
        raise MediaError(f"{node}: not a block device.", kind="no-device")
    wanted = os.path.realpath(node)
    attached = list_media()
    device = next((d for d in attached if os.path.realpath(d.node) == wanted), None)
    if device is None or not device.removable:
        raise MediaError(
            f"{node}: not removable media; custody mounts only USB sticks, card readers and "
            "attached disk images.",
            kind="not-removable",
        )
    _refuse_unsuitable(device)
    _refuse_lookalike_media(device, attached)
    return device


def _refuse_lookalike_media(device: MediaDevice, attached: tuple[MediaDevice, ...]) -> None:
    # Two media with one filesystem UUID are copies of each other (or one fakes the other):
    # the operator could not tell which one custody read, so neither is mounted.
    twins = [d.node for d in attached if d.uuid and d.uuid == device.uuid and d.node != device.node]
    if twins:
        raise MediaError(
            f"{device.node}: {', '.join(twins)} carries the same filesystem UUID {device.uuid}.",
            kind="ambiguous-media",
            hint="Attach one at a time; check its content digest in `custody media list`.",
        )


def _refuse_unsuitable(device: MediaDevice) -> None:
    if device.system:
        raise MediaError(f"{device.node}: holds the system's own filesystems.", kind="system-disk")
    if device.mountpoints:
        raise MediaError(
            f"{device.node}: already mounted at {', '.join(device.mountpoints)}.",
            kind="already-mounted",
            hint="Unmount it there first; custody mounts media itself.",
        )
    if device.fs_type not in SUPPORTED_FILESYSTEMS:
        seen = device.fs_type or "no filesystem custody recognises"
        if device.partition_table:
            seen = f"a {device.partition_table} partition table, not a filesystem"
        raise MediaError(
            f"{device.node}: {seen}; custody mounts only {', '.join(SUPPORTED_FILESYSTEMS)}.",
            kind="unsupported-media",
            hint="A stick with partitions: name the partition (e.g. /dev/sdb1). "
            "Encrypted or other filesystems are not read on the appliance.",
        )


def _verify_flags(device: MediaDevice, mountpoint: Path, writable: bool) -> None:
    options = next(
        (set(m.options) for m in read_mounts() if m.mountpoint == str(mountpoint)), set()
    )
    wanted = REQUIRED_FLAGS | {"rw" if writable else "ro"}
    if not wanted <= options:
        run_unmount(mountpoint)
        mountpoint.rmdir()
        raise MediaError(
            f"{device.node}: the kernel mounted it without {', '.join(sorted(wanted - options))}; "
            "unmounted again.",
            kind="mount-flags",
        )


def _custody_mountpoint(target: Path, mount_root: Path) -> Path:
    root = os.path.realpath(mount_root)
    device_number = _device_number(target) if target.exists() and not target.is_dir() else None
    for mount in read_mounts():
        inside = os.path.dirname(mount.mountpoint) == root
        if inside and (
            mount.mountpoint == os.path.realpath(target) or mount.device_number == device_number
        ):
            return Path(mount.mountpoint)
    raise MediaError(f"{target}: not mounted by custody (under {mount_root}).", kind="not-mounted")


def _device_number(node: Path) -> str | None:
    info = os.stat(node)
    if not stat.S_ISBLK(info.st_mode):
        return None
    return f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}"


def _mount_hint(failure: str, fs_type: str) -> str:
    if "unknown filesystem type" in failure:
        return f"This kernel has no {fs_type} driver; load its module or use another stick."
    return "Check the stick on another machine; it may be damaged."
