"""Writing files to output media so that what is there is exactly what custody wrote.

Each file goes to a temporary name, is fsynced, renamed into place (never over an existing
file), and the folder is fsynced; then the page cache for the file is dropped where the
kernel allows and the file is read back and its SHA-256 compared. A full, read-only or
vanished stick is a MediaWriteError naming which, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.media.errors import MediaReadError, MediaWriteError
from custody.media.safe_read import open_folder, shown

_CREATE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PROBLEMS: Final = {
    errno.ENOSPC: ("media-full", "the medium is full"),
    errno.EDQUOT: ("media-full", "the medium is full"),
    errno.EROFS: ("media-read-only", "the medium is read-only"),
    errno.EACCES: ("media-read-only", "the medium refuses writes"),
    errno.EPERM: ("media-read-only", "the medium refuses writes"),
    errno.EIO: ("media-failed", "the medium failed (I/O error) or was removed"),
    errno.ENODEV: ("media-failed", "the medium was removed"),
    errno.ENOENT: ("media-failed", "the folder vanished (was the medium removed?)"),
}


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: Path
    size: int
    sha256: str


def write_verified(folder: Path, name: str, data: bytes, *, mode: int = 0o600) -> WrittenFile:
    if (
        not name.isascii()
        or not name.isprintable()
        or "/" in name
        or name in (".", "..")
        or name.startswith(".")
    ):
        raise ValueError("output names are plain, visible ASCII file names")
    expected = hashlib.sha256(data).hexdigest()
    target = folder / name
    temporary = _temporary_name(name)
    try:
        with open_folder(folder) as folder_fd:
            try:
                _write_temporary(folder_fd, temporary, data, mode)
                _move_into_place(folder_fd, temporary, name)
                os.fsync(folder_fd)
                found = _read_back_digest(folder_fd, name)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder_fd)
    except MediaReadError as error:
        raise MediaWriteError(
            f"{shown(str(target))}: not written: {error.message}", kind="media-failed"
        ) from None
    except OSError as error:
        raise _write_error(target, error) from None
    if found != expected:
        raise MediaWriteError(
            f"{shown(str(target))}: read back differs from what was written.",
            kind="read-back-mismatch",
            hint="The medium is failing or was removed too early; use another one.",
        )
    return WrittenFile(path=target, size=len(data), sha256=expected)


def remove_leftover(folder: Path, name: str) -> None:
    """Remove the temporary name a write of `name` killed after its rename may have left."""
    with open_folder(folder) as folder_fd, contextlib.suppress(FileNotFoundError):
        os.unlink(_temporary_name(name), dir_fd=folder_fd)
        os.fsync(folder_fd)


def _temporary_name(name: str) -> str:
    return f".{name}.custody-tmp"


def _write_temporary(folder_fd: int, name: str, data: bytes, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=folder_fd)  # a leftover from an interrupted write
    fd = os.open(name, _CREATE, mode, dir_fd=folder_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(folder_fd: int, temporary: str, name: str) -> None:
    # link() refuses an existing name atomically; FAT has no hard links, so there an
    # existence check and rename() have to do.
    try:
        os.link(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        try:
            os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            return
        raise FileExistsError(errno.EEXIST, "File exists") from None


def _read_back_digest(folder_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    try:
        # The pages are clean after fsync, so this drops them and the read goes to the medium.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _write_error(target: Path, error: OSError) -> MediaWriteError:
    if error.errno == errno.EEXIST:
        return MediaWriteError(
            f"{shown(str(target))}: already exists; custody does not overwrite files on media.",
            kind="output-exists",
        )
    kind, what = _PROBLEMS.get(error.errno or 0, ("media-failed", error.strerror or "write failed"))
    return MediaWriteError(
        f"{shown(str(target))}: not written: {what}.",
        kind=kind,
        hint="Nothing was marked as written; use another medium and run the step again.",
    )
