"""Erasing the plaintext shard files an intake read, and nothing else.

Only exact `spike.recovery.<id>.txt` names are considered, and of those only regular,
singly linked files whose content the caller confirms is a shard it has taken in. Each is
overwritten in place with random bytes of the same length, fsynced, truncated, unlinked, and
the folder fsynced.

This is honest about flash: USB sticks and SD cards remap blocks (wear levelling), so the
old bytes may survive in blocks the filesystem no longer sees. Overwriting removes the shard
from the filesystem, not from the chip; a stick that held plaintext shards must be destroyed,
or kept with the same care as the custodians' packets.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.formats.spike import id_from_file_name
from custody.media.errors import MediaWriteError
from custody.media.safe_read import list_folder, open_folder, select_names, shown

FLASH_WARNING: Final = (
    "Flash media remap blocks as they wear: the overwritten bytes may survive inside the "
    "stick. Destroy it, or keep it as securely as the custodians' packets."
)
_MAX_SHARD_FILE_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class WipedFile:
    name: str
    size: int
    sha256: str
    """Of the content before it was overwritten, for the record."""


@dataclass(frozen=True, slots=True)
class LeftAlone:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class WipeResult:
    wiped: tuple[WipedFile, ...]
    left_alone: tuple[LeftAlone, ...]


def find_shard_files(folder: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(exact shard file names in `folder`, look-alike names that will be left alone)."""
    with open_folder(folder) as fd:
        listing = list_folder(fd, shown(str(folder)))
    return select_names(listing, lambda n: id_from_file_name(n) is not None, shown(str(folder)))


def wipe_shard_files(
    folder: Path,
    names: tuple[str, ...],
    is_taken_in: Callable[[str, bytes], bool],
    *,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> WipeResult:
    """Wipe each named shard file that `is_taken_in(name, content)` confirms; leave the rest.

    Links, FIFOs, devices, hard-linked or oversized files and shards of another set are left
    untouched and reported: a trap on the stick is never written through.
    """
    wiped: list[WipedFile] = []
    left: list[LeftAlone] = []
    with open_folder(folder) as folder_fd:
        for name in names:
            if id_from_file_name(name) is None:
                raise ValueError("only spike.recovery.<id>.txt files are wiped")
            outcome = _wipe_one(folder_fd, folder, name, is_taken_in, random_bytes)
            if isinstance(outcome, WipedFile):
                wiped.append(outcome)
            else:
                left.append(outcome)
            os.fsync(folder_fd)
    return WipeResult(wiped=tuple(wiped), left_alone=tuple(left))


def _wipe_one(
    folder_fd: int,
    folder: Path,
    name: str,
    is_taken_in: Callable[[str, bytes], bool],
    random_bytes: Callable[[int], bytes],
) -> WipedFile | LeftAlone:
    label = f"{shown(str(folder))}/{name}"
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=folder_fd)
    except OSError as error:
        return LeftAlone(name, f"cannot be opened without following links ({error.strerror})")
    try:
        content = _checked_content(fd)
        if isinstance(content, LeftAlone):
            return LeftAlone(name, content.reason)
        if not is_taken_in(name, content):
            return LeftAlone(name, "not a shard of the set taken in")
        _overwrite(fd, len(content), random_bytes)
        os.ftruncate(fd, 0)
        os.fsync(fd)
        os.unlink(name, dir_fd=folder_fd)
    except OSError as error:
        raise MediaWriteError(
            f"{label}: wiping failed ({error.strerror}); the file may be partly overwritten.",
            kind="wipe-failed",
        ) from None
    finally:
        os.close(fd)
    return WipedFile(name=name, size=len(content), sha256=hashlib.sha256(content).hexdigest())


def _checked_content(fd: int) -> bytes | LeftAlone:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return LeftAlone("", "not a regular file")
    if info.st_nlink != 1:
        return LeftAlone("", f"has {info.st_nlink} hard links")
    if info.st_size > _MAX_SHARD_FILE_BYTES:
        return LeftAlone("", "too large to be a shard file")
    return os.pread(fd, _MAX_SHARD_FILE_BYTES + 1, 0)


def _overwrite(fd: int, size: int, random_bytes: Callable[[int], bytes]) -> None:
    view = memoryview(random_bytes(size))
    offset = 0
    while offset < size:
        offset += os.pwrite(fd, view[offset:], offset)
    os.fsync(fd)
