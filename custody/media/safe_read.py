"""Reading from media someone else prepared, without trusting a single name or link on it.

Every command that reads media goes through here. A folder is opened one path component
at a time with O_NOFOLLOW, so no component may be a link; it is listed one level deep and
only up to a bound; a file is opened relative to its folder's descriptor with O_NOFOLLOW
and O_NONBLOCK (a FIFO cannot hang the open), must be a regular file with a single link,
is size-checked on the open descriptor before it is read, and is hashed from the very
buffer that is handed on. Only exact ASCII names the caller asks for are taken; a name
that differs from a wanted one only by case or Unicode form makes the folder ambiguous
and is refused, since filesystems and people disagree on whether those are one file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from custody.media.errors import MediaReadError

MAX_ENTRIES: Final = 4096
_OPEN_FOLDER: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class ReadFile:
    name: str
    data: bytes = field(repr=False)
    sha256: str


@dataclass(frozen=True, slots=True)
class FolderListing:
    names: tuple[str, ...]
    """Every entry name, as the filesystem gave it (undecodable bytes surrogate-escaped)."""


def shown(name: str) -> str:
    """A name made safe to print: control, non-ASCII and undecodable characters escaped."""
    return ascii(name)[1:-1]


@contextmanager
def open_folder(path: Path) -> Iterator[int]:
    """A descriptor for `path`, reached from `/` one component at a time, links refused."""
    absolute = Path(os.path.abspath(path))
    fd = os.open("/", _OPEN_FOLDER)
    try:
        for part in absolute.parts[1:]:
            child = _open_child(fd, part, absolute)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _open_child(parent_fd: int, part: str, whole: Path) -> int:
    try:
        return os.open(part, _OPEN_FOLDER, dir_fd=parent_fd)
    except OSError as error:
        raise MediaReadError(
            f"{shown(str(whole))}: cannot open the folder component {shown(part)!r} "
            f"({error.strerror}; custody does not follow links on media).",
            kind="folder-unreadable",
            hint="Name the real folder, not a link to it.",
        ) from None


def list_folder(folder_fd: int, where: str, *, max_entries: int = MAX_ENTRIES) -> FolderListing:
    names: list[str] = []
    with os.scandir(folder_fd) as entries:
        for entry in entries:
            if len(names) >= max_entries:
                raise MediaReadError(
                    f"{where}: more than {max_entries} entries; refusing to list it.",
                    kind="too-many-entries",
                )
            names.append(entry.name)
    return FolderListing(tuple(sorted(names)))


def select_names(
    listing: FolderListing, wanted: Callable[[str], bool], where: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(exact printable ASCII names `wanted` accepts, look-alikes of such names to ignore).

    A look-alike is a name that becomes a wanted one after Unicode folding, case folding and
    trimming. One that folds onto a name also present exactly makes the folder ambiguous.
    """
    exact = tuple(n for n in listing.names if n.isascii() and n.isprintable() and wanted(n))
    lookalikes = tuple(n for n in listing.names if n not in exact and wanted(_fold(n)))
    exact_by_fold = {_fold(n): n for n in exact}
    for name in lookalikes:
        if _fold(name) in exact_by_fold:
            raise MediaReadError(
                f"{where}: {shown(name)!r} and {exact_by_fold[_fold(name)]!r} name one file on "
                "some filesystems and two on others; custody will not choose.",
                kind="ambiguous-name",
                hint="Remove or rename the look-alike file on the medium.",
            )
    return exact, lookalikes


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold().strip()


def read_file(folder_fd: int, name: str, where: str, *, max_bytes: int) -> ReadFile:
    """The bytes of the regular file `name` in the folder, at most `max_bytes`, and their hash."""
    label = f"{where}/{shown(name)}"
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=folder_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            # O_NOFOLLOW's answer for a link: the link's target is never opened.
            raise MediaReadError(
                f"{label}: a symbolic link; custody reads only regular files, never links.",
                kind="not-a-regular-file",
                hint="Copy the file itself onto the medium, not a link to it.",
            ) from None
        raise MediaReadError(
            f"{label}: cannot open it ({error.strerror}).", kind="unreadable"
        ) from None
    try:
        data = _read_checked(fd, label, max_bytes)
    finally:
        os.close(fd)
    return ReadFile(name=name, data=data, sha256=hashlib.sha256(data).hexdigest())


def _read_checked(fd: int, label: str, max_bytes: int) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise MediaReadError(f"{label}: not a regular file.", kind="not-a-regular-file")
    if info.st_nlink > 1:
        raise MediaReadError(
            f"{label}: has {info.st_nlink} hard links; custody reads only singly linked files.",
            kind="hard-linked",
            hint="Copy the file to a plain new file and try again.",
        )
    if info.st_size > max_bytes:
        raise MediaReadError(
            f"{label}: {info.st_size} bytes, more than the {max_bytes} allowed here.",
            kind="file-too-large",
        )
    try:
        data = os.read(fd, max_bytes + 1)
    except OSError as error:
        raise MediaReadError(
            f"{label}: read failed ({error.strerror}).", kind="read-failed"
        ) from None
    if len(data) > max_bytes:
        raise MediaReadError(f"{label}: grew while it was read.", kind="file-too-large")
    return data


def read_named_files(path: Path, names: Sequence[str], *, max_bytes: int) -> tuple[ReadFile, ...]:
    """Read each of `names` from the folder `path`; all or nothing."""
    where = shown(str(path))
    with open_folder(path) as fd:
        listing = list_folder(fd, where)
        select_names(listing, set(names).__contains__, where)
        missing = [n for n in names if n not in listing.names]
        if missing:
            raise MediaReadError(
                f"{where}: {', '.join(map(shown, missing))} not found.", kind="missing-file"
            )
        return tuple(read_file(fd, name, where, max_bytes=max_bytes) for name in names)
