"""Which block devices are removable media, and how an operator can tell them apart.

Devices are read from udev (pyudev) as plain records, so the decisions here can be tested on
recorded property sets of a USB stick, a card reader, an internal disk or an optical drive.
Serial numbers and labels can be faked, so every medium also gets what the operator can check
with their own eyes: its size, its label, and a short digest of its first mebibyte.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from custody.media.probe import Mount

Kind = Literal["usb", "card-reader", "loop", "optical", "internal"]
REMOVABLE_KINDS: Final = frozenset({"usb", "card-reader", "loop"})
DIGEST_BYTES: Final = 1024 * 1024
SUPPORTED_FILESYSTEMS: Final = ("vfat", "exfat", "ext4")


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What udev knows of one block device, as plain strings."""

    node: str
    sys_path: str
    device_type: str
    """`disk` or `partition`."""
    device_number: str
    """major:minor."""
    properties: Mapping[str, str]
    attributes: Mapping[str, str]
    parent_node: str | None = None


@dataclass(frozen=True, slots=True)
class MediaDevice:
    node: str
    kind: Kind
    partition: bool
    parent: str | None
    bus: str
    vendor: str
    model: str
    serial: str
    size_bytes: int
    read_only: bool
    fs_type: str
    label: str
    uuid: str
    partition_table: str
    """`dos`, `gpt` … when the device holds partitions rather than a filesystem."""
    mountpoints: tuple[str, ...]
    system: bool
    """Holds a filesystem the running system uses: never mounted or written by custody."""
    content_digest: str | None

    @property
    def removable(self) -> bool:
        return self.kind in REMOVABLE_KINDS

    @property
    def supported(self) -> bool:
        return self.fs_type in SUPPORTED_FILESYSTEMS


def classify(record: DeviceRecord) -> Kind:
    props, name = record.properties, Path(record.node).name
    if props.get("ID_CDROM") == "1" or name.startswith("sr"):
        return "optical"
    if name.startswith("loop"):
        return "loop"
    if (
        name.startswith("mmcblk")
        or props.get("ID_DRIVE_FLASH_SD") == "1"
        or "/mmc" in record.sys_path
    ):
        return "card-reader"
    if props.get("ID_BUS") == "usb" or "/usb" in record.sys_path:
        return "usb"
    return "internal"


def describe(
    record: DeviceRecord,
    filesystem: Mapping[str, str],
    mounts: Iterable[Mount],
    system_devices: frozenset[str],
    digest: Callable[[str], str | None],
) -> MediaDevice:
    props, attrs = record.properties, record.attributes
    kind = classify(record)
    disk_number = record.device_number
    return MediaDevice(
        node=record.node,
        kind=kind,
        partition=record.device_type == "partition",
        parent=record.parent_node,
        bus=props.get("ID_BUS", kind if kind in ("usb", "loop") else ""),
        vendor=props.get("ID_VENDOR", attrs.get("device/vendor", "")).strip(),
        model=props.get("ID_MODEL", attrs.get("device/model", "")).strip(),
        serial=props.get("ID_SERIAL_SHORT", ""),
        size_bytes=int(attrs.get("size", "0") or 0) * 512,
        read_only=attrs.get("ro") == "1",
        fs_type=filesystem.get("TYPE", props.get("ID_FS_TYPE", "")),
        label=filesystem.get("LABEL", props.get("ID_FS_LABEL", "")),
        uuid=filesystem.get("UUID", props.get("ID_FS_UUID", "")),
        partition_table=filesystem.get("PTTYPE", props.get("ID_PART_TABLE_TYPE", "")),
        mountpoints=tuple(m.mountpoint for m in mounts if m.device_number == disk_number),
        system=disk_number in system_devices or (record.parent_node or "") in system_devices,
        content_digest=digest(record.node) if kind in REMOVABLE_KINDS else None,
    )


def content_digest(node: str) -> str | None:
    """`xxxx-xxxx` from SHA-256 of the first mebibyte, or None if it cannot be read."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        head = os.read(fd, DIGEST_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    text = hashlib.sha256(head).hexdigest()
    return f"{text[:4]}-{text[4:8]}"


def record_from_udev(device: Any) -> DeviceRecord:
    """A DeviceRecord from a pyudev Device (untyped library, confined here)."""
    attributes: dict[str, str] = {}
    for name in ("size", "ro", "removable", "device/vendor", "device/model", "loop/backing_file"):
        value = device.attributes.get(name)
        if value is not None:
            attributes[name] = value.decode("utf-8", "replace").strip()
    parent = device.find_parent("block") if device.device_type == "partition" else None
    return DeviceRecord(
        node=str(device.device_node),
        sys_path=str(device.sys_path),
        device_type=str(device.device_type),
        device_number=f"{os.major(device.device_number)}:{os.minor(device.device_number)}",
        properties={str(k): str(v) for k, v in device.properties.items()},
        attributes=attributes,
        parent_node=str(parent.device_node) if parent is not None else None,
    )
