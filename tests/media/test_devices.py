"""Telling removable media from the rest, on recorded udev property sets and on this machine."""

from __future__ import annotations

from custody.media.devices import DeviceRecord, MediaDevice, classify, describe
from custody.media.discovery import list_media
from custody.media.probe import Mount

# Property sets as `udevadm info --query=property` prints them for each kind of device
# (trimmed to the keys custody reads), with the sysfs attributes it reads.
USB_STICK = DeviceRecord(
    node="/dev/sdb1",
    sys_path="/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1",
    device_type="partition",
    device_number="8:17",
    properties={
        "ID_BUS": "usb",
        "ID_VENDOR": "SanDisk",
        "ID_MODEL": "Ultra",
        "ID_SERIAL_SHORT": "4C530001230523115093",
        "ID_FS_TYPE": "vfat",
        "ID_FS_LABEL": "SHARDS",
        "ID_FS_UUID": "1A2B-3C4D",
    },
    attributes={"size": "60063744", "ro": "0", "removable": "1"},
    parent_node="/dev/sdb",
)
CARD_READER = DeviceRecord(
    node="/dev/sdc",
    sys_path="/sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/host7/target7:0:0/7:0:0:0/block/sdc",
    device_type="disk",
    device_number="8:32",
    properties={"ID_BUS": "usb", "ID_DRIVE_FLASH_SD": "1", "ID_MODEL": "SD_Card_Reader"},
    attributes={"size": "31116288", "ro": "0", "removable": "1"},
)
BUILT_IN_SD_SLOT = DeviceRecord(
    node="/dev/mmcblk0p1",
    sys_path="/sys/devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p1",
    device_type="partition",
    device_number="179:1",
    properties={"ID_FS_TYPE": "exfat"},
    attributes={"size": "124735488", "ro": "0"},
    parent_node="/dev/mmcblk0",
)
INTERNAL_DISK = DeviceRecord(
    node="/dev/nvme0n1p2",
    sys_path="/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1/nvme0n1p2",
    device_type="partition",
    device_number="259:2",
    properties={"ID_FS_TYPE": "ext4", "ID_MODEL": "Samsung SSD 980"},
    attributes={"size": "1000000000", "ro": "0", "removable": "0"},
    parent_node="/dev/nvme0n1",
)
OPTICAL_DRIVE = DeviceRecord(
    node="/dev/sr0",
    sys_path="/sys/devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sr0",
    device_type="disk",
    device_number="11:0",
    properties={"ID_CDROM": "1", "ID_BUS": "ata", "ID_FS_TYPE": "iso9660"},
    attributes={"size": "2097151", "ro": "0", "removable": "1"},
)


def described(record: DeviceRecord, mounts: tuple[Mount, ...] = ()) -> MediaDevice:
    system = frozenset({"259:2", "259:0"})
    return describe(record, {}, mounts, system, lambda node: "abcd-ef01")


def test_kinds_of_recorded_devices() -> None:
    assert classify(USB_STICK) == "usb"
    assert classify(CARD_READER) == "card-reader"
    assert classify(BUILT_IN_SD_SLOT) == "card-reader"
    assert classify(INTERNAL_DISK) == "internal"
    assert classify(OPTICAL_DRIVE) == "optical"


def test_a_usb_stick_is_described_with_what_an_operator_can_check() -> None:
    stick = described(USB_STICK)
    assert stick.removable and stick.supported and not stick.system
    assert (stick.vendor, stick.model, stick.label, stick.fs_type) == (
        "SanDisk",
        "Ultra",
        "SHARDS",
        "vfat",
    )
    assert stick.size_bytes == 60063744 * 512
    assert stick.content_digest == "abcd-ef01"
    assert stick.partition and stick.parent == "/dev/sdb"


def test_the_internal_disk_is_the_system_disk_and_not_removable() -> None:
    disk = described(INTERNAL_DISK)
    assert disk.system and not disk.removable
    assert disk.content_digest is None


def test_an_optical_drive_is_not_supported_media() -> None:
    drive = described(OPTICAL_DRIVE)
    assert not drive.removable and not drive.supported


def test_mountpoints_come_from_mountinfo() -> None:
    mounts = (Mount("8:17", "/dev/sdb1", "/media/op/SHARDS", ("rw",), "vfat"),)
    assert described(USB_STICK, mounts).mountpoints == ("/media/op/SHARDS",)


def test_discovery_runs_on_this_machine_and_never_offers_a_system_disk() -> None:
    for device in list_media(include_internal=True):
        if device.system:
            assert not device.removable or device.kind == "loop"
