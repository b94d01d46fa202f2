"""Log exports: a directory an auditor can verify on any machine (log.md §7).

This module owns the export layout (`log.jsonl`, `appliance.pub`, `checkpoint.txt`), writing
it whole or not at all under an intent, and reading one back as records for `verify`; also
writing a lone checkpoint file, under an intent too. It
refuses to export a log that does not verify (it would sign a checkpoint over it), and reads
an export's files only as regular files, never through links, a line at a time.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from custody.atomicfile import write_file_atomic
from custody.errors import BadInputError, CustodyError, LogIntegrityError
from custody.log.checkpoint import Checkpoint, encode_checkpoint, load_checkpoint
from custody.log.custody_log import CustodyLog
from custody.log.entry import MAX_LINE_BYTES
from custody.log.keys import VerifierKey, encode_vkey, parse_vkey
from custody.log.newdir import new_directory, write_new_file
from custody.log.store import Record

EXPORT_LOG: Final = "log.jsonl"
EXPORT_PUB: Final = "appliance.pub"
EXPORT_CHECKPOINT: Final = "checkpoint.txt"
EXPORT_EFFECT: Final = "log.export"
CHECKPOINT_EFFECT: Final = "log.checkpoint"


@dataclass(frozen=True, slots=True)
class Export:
    """An export directory's key and checkpoint; its entries are read by `records`."""

    directory: Path
    key: VerifierKey
    checkpoint: Checkpoint

    def records(self) -> Iterator[Record]:
        return read_jsonl(self.directory / EXPORT_LOG)


def export_log(log: CustodyLog, out: Path) -> Checkpoint:
    """Verify `log`, then write it to the new directory `out` under an intent."""
    if os.path.lexists(out):
        raise _exists(out)
    log.verify()
    intent = log.intent(EXPORT_EFFECT, {"out": str(out)})
    checkpoint = log.checkpoint()
    lines = (r.line for r in log.records() if r.position <= checkpoint.size)
    try:
        write_export(out, lines, log.key, checkpoint)
    except (OSError, CustodyError) as error:
        # If even the abandonment cannot be recorded, the intent stays dangling, which says
        # the same thing; the error worth reporting is the one that stopped the export.
        with contextlib.suppress(CustodyError):
            log.abandon(intent, f"nothing was written: {error}")
        if isinstance(error, FileExistsError):
            raise _exists(out) from None
        if isinstance(error, OSError):
            raise BadInputError(
                f"Cannot write the export {out}: {error.strerror or error}; nothing was written.",
                kind="write-failed",
                hint="Check the destination (space, permissions) and export again.",
            ) from None
        raise
    log.complete(intent, {"size": checkpoint.size, "head": checkpoint.head.hex()})
    return checkpoint


def export_checkpoint(log: CustodyLog, out: Path) -> Checkpoint:
    """Sign a checkpoint of `log` and write it to the new file `out`, under an intent."""
    if os.path.lexists(out):
        raise _exists(out)
    intent = log.intent(CHECKPOINT_EFFECT, {"output": "file", "path": str(out)})
    checkpoint = log.checkpoint()
    try:
        write_file_atomic(out, encode_checkpoint(checkpoint).encode("utf-8"), mode=0o644)
    except CustodyError as error:
        with contextlib.suppress(CustodyError):
            log.abandon(intent, f"nothing was written: {error.message}")
        raise
    log.complete(intent, {"size": checkpoint.size, "head": checkpoint.head.hex()})
    return checkpoint


def _exists(out: Path) -> BadInputError:
    return BadInputError(
        f"{out} already exists; custody writes a checkpoint or an export only to a new name.",
        kind="output-exists",
        hint="Choose another --out, or move the existing one away first.",
    )


def write_export(
    out: Path, lines: Iterable[bytes], key: VerifierKey, checkpoint: Checkpoint
) -> None:
    with new_directory(out, mode=0o755) as work:
        fd = os.open(work / EXPORT_LOG, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as file:
            for line in lines:
                file.write(line + b"\n")
            file.flush()
            os.fsync(fd)
        write_new_file(work / EXPORT_PUB, f"{encode_vkey(key)}\n".encode(), mode=0o644)
        write_new_file(work / EXPORT_CHECKPOINT, encode_checkpoint(checkpoint).encode(), mode=0o644)


def load_export(directory: Path) -> Export:
    """The key and checkpoint of an export directory, checked for shape (not yet trust)."""
    pub = directory / EXPORT_PUB
    try:
        data = _read_regular(pub, 1024)
        key = parse_vkey(data.decode("ascii").removesuffix("\n"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BadInputError(
            f"{pub}: not a custody verifier key ({error}).",
            kind="export-malformed",
            hint="Point --export at a directory written by `custody log export`.",
        ) from None
    return Export(directory, key, load_checkpoint(directory / EXPORT_CHECKPOINT))


def read_jsonl(path: Path) -> Iterator[Record]:
    """An export's entry lines as records (line number, line without LF); a torn tail raises."""
    try:
        file = _open_regular(path)
    except OSError as error:
        raise BadInputError(
            f"{path}: cannot read the exported log ({error.strerror or error}).",
            kind="export-malformed",
        ) from None
    with file:
        yield from _lines(file, path)


def _lines(file: BinaryIO, path: Path) -> Iterator[Record]:
    position = 0
    while line := file.readline(MAX_LINE_BYTES + 1):
        position += 1
        if line.endswith(b"\n"):
            yield Record(position, line[:-1])
        elif len(line) > MAX_LINE_BYTES:
            yield Record(position, b"")  # longer than any entry: reported as modified
        else:
            raise LogIntegrityError(
                f"{path}: line {position}, the last, is cut short (no line end): a torn write "
                "or a truncated copy. custody does not drop it.",
                kind="log-torn-tail",
                seq=position,
                hint="Export the log again from the appliance; keep this copy as evidence.",
            )


def _open_regular(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "not a regular file")
    return os.fdopen(fd, "rb")


def _read_regular(path: Path, limit: int) -> bytes:
    with _open_regular(path) as file:
        return file.read(limit + 1)
