"""Loading SPIKE shard files from paths the operator names: files, or folders of them.

A folder contributes its `spike.recovery.<id>.txt` entries (one level, bounded); a file is
taken whatever its name, but when its name carries an id, the content must carry the same.
Every file is opened without following links, must be a regular file, and is size-checked
before it is read. Problems are collected per file, so the operator sees all of them at once.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.atomicfile import make_private_directory, write_file_atomic
from custody.errors import BadInputError, CustodyError, ShardFormatError
from custody.formats.spike import (
    MAX_SHARD_FILE_BYTES,
    ParsedShard,
    encode_shard_line,
    id_from_file_name,
    parse_shard_text,
    shard_file_name,
)
from custody.shards import CollectedShards, Shard, collect_shards

MAX_FOLDER_ENTRIES: Final = 10_000


@dataclass(frozen=True, slots=True)
class ShardFile:
    path: Path
    file_sha256: str
    """SHA-256 of the bytes as read, for the record; not a digest of the shard alone."""
    parsed: ParsedShard


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: Path
    error: CustodyError


@dataclass(frozen=True, slots=True)
class LoadedShards:
    files: tuple[ShardFile, ...]
    problems: tuple[FileProblem, ...]

    def collect(self) -> CollectedShards:
        """The shards by id, after refusing the load if any file had a problem."""
        if self.problems:
            raise self.problems[0].error
        return collect_shards(f.parsed.shard for f in self.files)


def load_shard_files(paths: Sequence[Path]) -> LoadedShards:
    files: list[ShardFile] = []
    problems: list[FileProblem] = []
    for path in _expand(paths):
        try:
            files.append(load_shard_file(path))
        except CustodyError as error:
            problems.append(FileProblem(path, error))
    return LoadedShards(files=tuple(files), problems=tuple(problems))


def load_shard_file(path: Path) -> ShardFile:
    data = read_small_regular_file(path, MAX_SHARD_FILE_BYTES)
    parsed = parse_shard_text(data, source=str(path))
    named_id = id_from_file_name(path.name)
    if named_id is not None and named_id != parsed.shard.id:
        raise ShardFormatError(
            f"{path}: line 1 says shard {parsed.shard.id} but the file name says shard {named_id}.",
            kind="id-mismatch",
            hint="A renamed shard file rebuilds a wrong key; find the file's real name.",
        )
    return ShardFile(path=path, file_sha256=hashlib.sha256(data).hexdigest(), parsed=parsed)


def _expand(paths: Sequence[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            yield from _shard_files_in(path)
        else:
            yield path


def _shard_files_in(folder: Path) -> list[Path]:
    found: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_FOLDER_ENTRIES:
                    raise BadInputError(
                        f"{folder}: more than {MAX_FOLDER_ENTRIES} entries; refusing to list it.",
                        kind="too-many-entries",
                    )
                if id_from_file_name(entry.name) is not None:
                    found.append(folder / entry.name)
    except OSError as error:
        raise BadInputError(
            f"{folder}: cannot list it ({error.strerror}).", kind="unreadable"
        ) from None
    if not found:
        raise BadInputError(
            f"{folder}: no spike.recovery.<id>.txt files in it.",
            kind="no-shard-files",
            hint="Name the shard files themselves, or the folder `spike operator recover` wrote.",
        )
    return sorted(found, key=lambda p: id_from_file_name(p.name) or 0)


def read_small_regular_file(path: Path, limit: int) -> bytes:
    # O_NOFOLLOW refuses a link in the last component; O_NONBLOCK keeps a FIFO from hanging
    # the open; fstat on the opened descriptor decides, so nothing can be swapped in between.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            # O_NOFOLLOW's answer for a link: the link's target is never opened.
            raise BadInputError(
                f"{path}: a symbolic link; custody reads only regular files, never links.",
                kind="not-a-regular-file",
                hint="Copy the file itself onto the medium, not a link to it.",
            ) from None
        raise BadInputError(
            f"{path}: cannot open it ({error.strerror}; links are not followed).",
            kind="unreadable",
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInputError(f"{path}: not a regular file.", kind="not-a-regular-file")
        if info.st_size > limit:
            raise BadInputError(
                f"{path}: {info.st_size} bytes, more than a shard file's {limit}.",
                kind="file-too-large",
            )
        data = os.read(fd, limit + 1)
    except OSError as error:
        raise BadInputError(
            f"{path}: cannot read it ({error.strerror}).", kind="unreadable"
        ) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise BadInputError(f"{path}: grew past {limit} bytes while read.", kind="file-too-large")
    return data


def write_shard_files(folder: Path, shards: Sequence[Shard]) -> tuple[Path, ...]:
    """Write each shard as SPIKE does (`spike.recovery.<id>.txt`, 0600, no newline).

    All or nothing: existing names are refused before anything is written, and files already
    written are removed again if a later one fails.
    """
    make_private_directory(folder)
    targets = [folder / shard_file_name(shard.id) for shard in shards]
    for target in targets:
        if target.exists() or target.is_symlink():
            raise BadInputError(
                f"{target}: already exists; custody does not overwrite shard files.",
                kind="output-exists",
            )
    written: list[Path] = []
    try:
        for shard, target in zip(shards, targets, strict=True):
            write_file_atomic(target, encode_shard_line(shard))
            written.append(target)
    except CustodyError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return tuple(written)
