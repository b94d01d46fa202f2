"""What the kernel and the disk say about block devices: the adapter that runs programs.

`blkid -p` probes a device's own superblock (not udev's cache, which may be stale or absent
when no udev daemon runs); /proc/self/mountinfo says what is mounted where. Nothing here
decides anything: callers get plain values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.errors import StateError

BLKID_TIMEOUT_SECONDS: Final = 20


@dataclass(frozen=True, slots=True)
class Mount:
    device_number: str
    """major:minor of the mounted filesystem's device."""
    source: str
    mountpoint: str
    options: tuple[str, ...]
    fs_type: str


def probe_filesystem(device: Path) -> dict[str, str]:
    """blkid's low-level probe of `device`: TYPE, LABEL, UUID, PTTYPE … (empty if none found)."""
    blkid = shutil.which("blkid") or "/usr/sbin/blkid"
    if not os.path.exists(blkid):
        raise StateError(
            "blkid is not installed.", kind="tool-missing", hint="apt-get install util-linux"
        )
    try:
        result = subprocess.run(
            [blkid, "-p", "-o", "export", str(device)],
            capture_output=True,
            timeout=BLKID_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StateError(
            f"{device}: blkid did not answer in time.", kind="media-unresponsive"
        ) from None
    # Exit 2: nothing recognised on the device. Anything else non-zero: unreadable.
    if result.returncode == 2:
        return {}
    if result.returncode != 0:
        return {"ERROR": result.stderr.decode("utf-8", "replace").strip()[:200]}
    return _parse_export(result.stdout)


def _parse_export(output: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.decode("utf-8", "replace").splitlines():
        key, separator, value = line.partition("=")
        if separator and key.isupper():
            values[key] = value
    return values


def read_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> tuple[Mount, ...]:
    mounts = []
    for line in mountinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split(" ")
        separator = fields.index("-")
        mounts.append(
            Mount(
                device_number=fields[2],
                source=_unescape(fields[separator + 2]),
                mountpoint=_unescape(fields[4]),
                options=tuple(fields[5].split(",")),
                fs_type=fields[separator + 1],
            )
        )
    return tuple(mounts)


def _unescape(text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code in ("\\040", "\\011", "\\012", "\\134"):
        text = text.replace(code, chr(int(code[1:], 8)))
    return text


def run_mount(device: Path, mountpoint: Path, fs_type: str, options: tuple[str, ...]) -> str:
    """Run mount(8); the empty string on success, else what it said."""
    return _run(["mount", "-t", fs_type, "-o", ",".join(options), str(device), str(mountpoint)])


def run_unmount(mountpoint: Path) -> str:
    return _run(["umount", str(mountpoint)])


def _run(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if result.returncode == 0:
        return ""
    return result.stderr.decode("utf-8", "replace").strip()[:300] or f"exit {result.returncode}"
