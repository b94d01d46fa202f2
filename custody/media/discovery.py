"""Listing the removable media attached to the appliance (pyudev), with what is on them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from custody.media.devices import (
    REMOVABLE_KINDS,
    MediaDevice,
    classify,
    content_digest,
    describe,
    record_from_udev,
)
from custody.media.probe import Mount, probe_filesystem, read_mounts

# The appliance image boots from a live medium and keeps its home on its own medium.
SYSTEM_MOUNTPOINTS: Final = frozenset(
    {"/", "/boot", "/boot/efi", "/usr", "/var", "/home", "/run/live/medium", "/var/lib/custody"}
)


def list_media(*, include_internal: bool = False) -> tuple[MediaDevice, ...]:
    """Removable disks and partitions (USB, card readers, attached loop images), and optical
    drives so the operator sees why they are not offered; internal disks only on request."""
    import pyudev

    mounts = read_mounts()
    system = system_device_numbers(mounts)
    found = []
    for device in pyudev.Context().list_devices(subsystem="block"):
        record = record_from_udev(device)
        kind = classify(record)
        if kind == "loop" and not record.attributes.get("loop/backing_file"):
            continue  # an unattached loop device holds nothing
        if kind == "internal" and not include_internal:
            continue
        probed = probe_filesystem(Path(record.node)) if kind in REMOVABLE_KINDS else {}
        found.append(describe(record, probed, mounts, system, content_digest))
    return tuple(sorted(found, key=lambda d: d.node))


def find_device(node: Path) -> MediaDevice | None:
    wanted = os.path.realpath(node)
    for device in list_media(include_internal=True):
        if os.path.realpath(device.node) == wanted:
            return device
    return None


def system_device_numbers(mounts: tuple[Mount, ...]) -> frozenset[str]:
    """major:minor of every device holding a system filesystem, and of the disks they are on."""
    numbers = {m.device_number for m in mounts if m.mountpoint in SYSTEM_MOUNTPOINTS}
    numbers |= {m.device_number for m in mounts if m.fs_type == "swap"}
    return frozenset(numbers | {_parent_disk(n) for n in numbers} - {""})


def _parent_disk(device_number: str) -> str:
    # /sys/dev/block/MAJ:MIN is a link into the device tree; a partition's parent folder is
    # its disk, whose `dev` file holds the disk's own major:minor.
    sys_link = Path("/sys/dev/block") / device_number
    try:
        parent_dev = sys_link.resolve().parent / "dev"
        if (sys_link / "partition").exists() and parent_dev.exists():
            return parent_dev.read_text().strip()
    except OSError:
        pass
    return ""
