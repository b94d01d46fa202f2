"""Loading SPIKE shard files from paths the operator names: files, or folders of them.

All reading goes through `custody.media.safe_read`: no link is followed anywhere on the
path, a file must be a regular, singly linked file, and its size is checked before it is read.

A folder contributes its exactly named `spike.recovery.<id>.txt` entries (one level,
bounded). An entry that is named like a shard but is not a plain file (a link, a FIFO, a
device, a hard link, a giant file) or whose name only looks like a shard's is a trap: it is
never opened for reading, and is reported as skipped while the genuine files are taken. A
file named explicitly is taken whatever its name; every problem with it refuses the load.
When a name carries an id, the content must carry the same.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from custody.media.errors import MediaReadError
from custody.media.safe_read import list_folder, open_folder, read_file, select_names, shown
from custody.shards import CollectedShards, Shard, collect_shards

MAX_FOLDER_ENTRIES: Final = 10_000
TRAP_KINDS: Final = frozenset({"not-a-regular-file", "hard-linked", "file-too-large"})


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
    """Files that refuse the load: damaged shards, unreadable files named explicitly."""
    skipped: tuple[FileProblem, ...] = ()
    """Traps in a folder, never read: reported, and the genuine files are still taken."""

    def collect(self) -> CollectedShards:
        """The shards by id, after refusing the load if any file had a problem."""
        if self.problems:
            raise self.problems[0].error
        return collect_shards(f.parsed.shard for f in self.files)


def load_shard_files(paths: Sequence[Path]) -> LoadedShards:
    files: list[ShardFile] = []
    problems: list[FileProblem] = []
    skipped: list[FileProblem] = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            _load_folder(path, files, problems, skipped)
            continue
        try:
            files.append(load_shard_file(path))
        except CustodyError as error:
            problems.append(FileProblem(path, error))
    return LoadedShards(files=tuple(files), problems=tuple(problems), skipped=tuple(skipped))


def load_shard_file(path: Path) -> ShardFile:
    with open_folder(path.parent) as folder_fd:
        return _load_entry(folder_fd, path)


def _load_folder(
    folder: Path, files: list[ShardFile], problems: list[FileProblem], skipped: list[FileProblem]
) -> None:
    where = shown(str(folder))
    with open_folder(folder) as folder_fd:
        listing = list_folder(folder_fd, where, max_entries=MAX_FOLDER_ENTRIES)
        names, lookalikes = select_names(listing, _is_shard_name, where)
        for name in lookalikes:
            skipped.append(FileProblem(folder / name, _lookalike(folder, name)))
        if not names:
            raise BadInputError(
                f"{folder}: no spike.recovery.<id>.txt files in it.",
                kind="no-shard-files",
                hint="Name the shard files, or the folder `spike operator recover` wrote.",
            )
        for name in sorted(names, key=lambda n: id_from_file_name(n) or 0):
            try:
                files.append(_load_entry(folder_fd, folder / name))
            except CustodyError as error:
                (skipped if error.kind in TRAP_KINDS else problems).append(
                    FileProblem(folder / name, error)
                )


def _load_entry(folder_fd: int, path: Path) -> ShardFile:
    read = read_file(folder_fd, path.name, shown(str(path.parent)), max_bytes=MAX_SHARD_FILE_BYTES)
    parsed = parse_shard_text(read.data, source=str(path))
    named_id = id_from_file_name(path.name)
    if named_id is not None and named_id != parsed.shard.id:
        raise ShardFormatError(
            f"{path}: line 1 says shard {parsed.shard.id} but the file name says shard {named_id}.",
            kind="id-mismatch",
            hint="A renamed shard file rebuilds a wrong key; find the file's real name.",
        )
    return ShardFile(path=path, file_sha256=read.sha256, parsed=parsed)


def _is_shard_name(name: str) -> bool:
    return id_from_file_name(name) is not None


def _lookalike(folder: Path, name: str) -> MediaReadError:
    return MediaReadError(
        f"{shown(str(folder / name))}: named like a shard file but not exactly; not read.",
        kind="lookalike-name",
    )


def read_small_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of one small regular file, read without following any link on its path."""
    with open_folder(path.parent) as folder_fd:
        return read_file(folder_fd, path.name, shown(str(path.parent)), max_bytes=limit).data


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
