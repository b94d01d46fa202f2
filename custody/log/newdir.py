"""New directories that appear whole or not at all: the appliance home and log exports.

A directory is built under a temporary sibling name (`.<name>.init-<random>`), every file
fsynced as it is written, then the directory itself fsynced, renamed to its final name and
its parent fsynced. A crash leaves either nothing or the whole directory, never a half-built
one under the real name. An existing path is refused, never merged into or replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from custody.atomicfile import fsync_directory


@contextlib.contextmanager
def new_directory(dest: Path, *, mode: int = 0o700) -> Iterator[Path]:
    """Yield a work directory; on success it gets `mode` and becomes `dest`.

    FileExistsError when `dest` exists (also when it appears meanwhile); any other failure
    removes the work directory and propagates.
    """
    if os.path.lexists(dest):
        raise FileExistsError(dest)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.init-", dir=dest.parent))
    try:
        yield work
        os.chmod(work, mode)
        fsync_directory(work)
        # rename() would silently replace an empty directory created meanwhile; the check
        # just before it narrows that window to nothing a single operator can hit.
        if os.path.lexists(dest):
            raise FileExistsError(dest)
        os.rename(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    fsync_directory(dest.parent)


def write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    """Create `path` (never an existing one, never through a link) with `data`, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
