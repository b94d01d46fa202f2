"""Packets as custodians present them at a restore: files, scanned sheets, typed text.

A custodian may bring their packet file (`*.asc` armored or `*.bin`/`*.gpg` binary, as
custody wrote it), a scan or photo of their sheet (`*.pdf`, `*.png`, `*.jpg`), or the sheet's
text typed into a file (`*.txt`). Each becomes the packet's exact bytes here, before any
check of its content: the restore checks every packet the same way whatever it came as.

Scans are pooled: a sheet photographed page by page, or a page whose codes are split over
two photos, still reads back, since each QR code says which packet it belongs to. A file
that cannot be read back is refused with a reason, and the others are still read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from custody.errors import BadInputError, CustodyError
from custody.formats.packet import MAX_PACKET_BYTES
from custody.formats.qr import FoundCode, assemble_chunks, is_custody_code, parse_chunk
from custody.media.safe_read import list_folder, open_folder, read_file, shown

PACKET_SUFFIXES: Final = (".asc", ".bin", ".gpg")
SCAN_SUFFIXES: Final = (".pdf", ".png", ".jpg", ".jpeg")
TEXT_SUFFIXES: Final = (".txt",)
MAX_TEXT_BYTES: Final = 256 * 1024
MAX_SCAN_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Presented:
    """One packet as presented: its bytes, or why it could not be read back."""

    name: str
    data: bytes | None = field(default=None, repr=False)
    error: CustodyError | None = None


def read_presented(folder: Path) -> list[Presented]:
    """Every packet presented in `folder`, in a stable order: files, then typed, then scans."""
    return _read_folder(folder, None)


def read_presented_file(path: Path) -> Presented:
    """The one packet a file holds (a packet, a scanned sheet or typed text)."""
    if not _is(path.name, PACKET_SUFFIXES + SCAN_SUFFIXES + TEXT_SUFFIXES):
        raise BadInputError(
            f"{path}: not a packet (.asc .bin .gpg), a scanned sheet (.pdf .png .jpg) or "
            "typed text (.txt).",
            kind="unknown-input",
        )
    found = _read_folder(path.parent, path.name)
    if len(found) != 1:
        raise BadInputError(f"{path}: holds codes of {len(found)} packets.", kind="many-packets")
    return found[0]


def _read_folder(folder: Path, only: str | None) -> list[Presented]:
    where = shown(str(folder))
    suffixes = PACKET_SUFFIXES + SCAN_SUFFIXES + TEXT_SUFFIXES
    with open_folder(folder) as fd:
        names = sorted(
            n
            for n in list_folder(fd, where).names
            if n.isascii() and n.isprintable() and _is(n, suffixes) and only in (None, n)
        )
        if only is not None and not names:
            raise BadInputError(f"{folder / only}: no such file.", kind="missing-input")
        files = [_read(fd, where, n, MAX_PACKET_BYTES) for n in names if _is(n, PACKET_SUFFIXES)]
        typed = [_read(fd, where, n, MAX_TEXT_BYTES) for n in names if _is(n, TEXT_SUFFIXES)]
        scans = [_read(fd, where, n, MAX_SCAN_BYTES) for n in names if _is(n, SCAN_SUFFIXES)]
    return files + [_typed(t) for t in typed] + _from_scans(scans)


def _is(name: str, suffixes: tuple[str, ...]) -> bool:
    return name.lower().endswith(suffixes)


def _read(fd: int, where: str, name: str, limit: int) -> Presented:
    try:
        return Presented(name, read_file(fd, name, where, max_bytes=limit).data)
    except CustodyError as error:
        return Presented(name, error=error)


def _typed(file: Presented) -> Presented:
    from custody.formats.papertext import parse_paper_text
    from custody.paper.readback import find_line_problems

    if file.data is None:
        return file
    try:
        text = file.data.decode("ascii")
        problems = find_line_problems(text, source=file.name)
        if problems:
            raise problems[0]
        payload = parse_paper_text(text, source=file.name)
    except UnicodeDecodeError:
        return Presented(file.name, error=_not_text(file.name))
    except CustodyError as error:
        return Presented(file.name, error=_named(file.name, error))
    return Presented(file.name, payload)


def _named(name: str, error: CustodyError) -> CustodyError:
    if name in error.message:
        return error
    return BadInputError(f"{name}: {error.message}", kind=error.kind, hint=error.hint)


def _from_scans(files: Sequence[Presented]) -> list[Presented]:
    """The packets of all scanned pages, each from the codes that say they belong to it.

    A page with no code at all (a sheet's last page may hold only text) is passed over when
    other pages gave codes; alone, or with a code seen but not decoded, it is refused.
    """
    result = [f for f in files if f.error is not None]
    groups: dict[bytes, list[FoundCode]] = {}
    sources: dict[bytes, list[str]] = {}
    codeless: list[tuple[str, int]] = []
    for file in files:
        if file.data is None:
            continue
        try:
            codes, unreadable = _codes(file.name, file.data)
            if not codes:
                codeless.append((file.name, unreadable))
            for code in codes:
                set_id = parse_chunk(code.content, source=file.name).set_id
                groups.setdefault(set_id, []).append(code)
                if file.name not in sources.setdefault(set_id, []):
                    sources[set_id].append(file.name)
        except CustodyError as error:
            result.append(Presented(file.name, error=error))
    result += [
        Presented(name, error=_no_codes(name, unreadable))
        for name, unreadable in codeless
        if unreadable or not groups
    ]
    for set_id, codes in groups.items():
        result.append(_assembled(" + ".join(sources[set_id]), codes))
    return result


def _codes(name: str, data: bytes) -> tuple[list[FoundCode], int]:
    from custody.paper.scan import read_document

    pages = read_document(data, source=name)
    codes = [c for page in pages for c in page.codes if is_custody_code(c.content)]
    return codes, sum(page.unreadable for page in pages)


def _assembled(name: str, codes: Sequence[FoundCode]) -> Presented:
    try:
        return Presented(name, assemble_chunks(codes))
    except CustodyError as error:
        return Presented(name, error=error)


def _no_codes(name: str, unreadable: int) -> BadInputError:
    seen = f"; {unreadable} code(s) were seen but could not be decoded" if unreadable else ""
    return BadInputError(
        f"{name}: no custody QR code could be read{seen}.",
        kind="no-codes",
        hint="Scan the sheet again, flat and in focus, or type its text into a .txt file.",
    )


def _not_text(name: str) -> BadInputError:
    return BadInputError(
        f"{name}: typed text must be plain ASCII, as printed on the sheet.", kind="not-text"
    )
