"""Writing files so that a crash leaves either the old state or the whole new file.

Write to a temporary name in the same folder, fsync it, rename it into place, fsync the
folder. A file that already exists is never overwritten unless the caller says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from custody.errors import BadInputError


def write_file_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = False
) -> None:
    if not overwrite and (path.exists() or path.is_symlink()):
        raise BadInputError(
            f"{path}: already exists; custody does not overwrite it.",
            kind="output-exists",
            hint="Choose another name, or move the existing file away first.",
        )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(temporary, path)
        else:
            _move_into_free_name(temporary, path)
        fsync_directory(path.parent)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise BadInputError(
            f"{path}: cannot write it ({error.strerror}).", kind="write-failed"
        ) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _move_into_free_name(temporary: Path, path: Path) -> None:
    # link() fails if the name appeared meanwhile, where rename() would clobber it; on
    # filesystems without hard links (FAT) the existence check before rename has to do.
    try:
        os.link(temporary, path)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "File exists") from None
        os.rename(temporary, path)
    else:
        os.unlink(temporary)


def fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_directory(folder: Path) -> None:
    """Create `folder` (and parents) with mode 0700 for the last component; keep an existing one."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
