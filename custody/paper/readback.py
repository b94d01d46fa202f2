"""Reading a packet back from paper: scanned QR codes, a whole typed text, or line by line.

This module is the library half of `custody paper scan`, `type` and `print`. It joins
what was read into the payload (docs/spec/qr.md, docs/spec/papertext.md), requires that
payload to be a custody packet, and holds it to what the operator said the sheet must be
(`Expectation`: ceremony and shard, and the packet's SHA-256 as logged, bad-inputs F06).
`TypingSession` keeps the state of someone typing lines in order, so the caller can ask for a
line again; `find_line_problems` names every failing line of a whole text at once.
`verify_printable_sheet` reads a PDF back the way a restore would before it is printed, and
refuses anything that is not a custodian sheet custody rendered whose QR codes and typable
text give the same custody packet (bad-inputs F10). Nothing here corrects a line, guesses
around a QR code, prompts or prints.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from custody.errors import BadInputError, CustodyError
from custody.formats.packet import Packet, parse_packet
from custody.formats.papertext import MAX_LINES, LineResult, assemble, parse_line, parse_paper_text
from custody.formats.qr import QrBinding, assemble_chunks
from custody.paper.errors import (
    ExpectedPayload,
    PaperSelfTestError,
    PaperTextError,
    PayloadMismatchError,
    QrChunkError,
)
from custody.paper.scan import PageReading, read_pdf, read_pdf_metadata
from custody.paper.selftest import SELF_TEST_DPI

# The label rule of docs/spec/papertext.md ("Reading a whole text"); papertext's own copy is
# private to it, and this one only decides which line a text line claims to be.
_LABEL: Final = re.compile(r"[ \t]*([0-9]{1,3})[ \t]*:(.*)", re.ASCII | re.DOTALL)
_SHEET_TITLE: Final = "custody sheet"
_SUMMARY_TITLE: Final = "custody summary"
# Extraction gives the page's text in reading order; only the typable copy's lines look
# like "001: …" (the same rule the self-test reads the page with).
_TEXT_LINE: Final = re.compile(r"[0-9]{3}: [0-9A-Z ]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the sheet must be: a ceremony and shard (both or neither), a packet digest."""

    ceremony: str | None = None
    shard_id: int | None = None
    sha256: bytes | None = None

    def __post_init__(self) -> None:
        if (self.ceremony is None) != (self.shard_id is None):
            raise BadInputError(
                "A ceremony and a shard name a sheet together; give both or neither.",
                kind="bad-expectation",
            )
        if self.sha256 is not None and len(self.sha256) != 32:
            raise ValueError("an expected packet digest is 32 bytes of SHA-256")
        try:
            if self.ceremony is not None and self.shard_id is not None:
                QrBinding(self.ceremony, self.shard_id)
        except ValueError as error:
            raise BadInputError(f"The expected sheet: {error}.", kind="bad-expectation") from None

    @property
    def binding(self) -> QrBinding | None:
        if self.ceremony is None or self.shard_id is None:
            return None
        return QrBinding(self.ceremony, self.shard_id)

    @property
    def payload(self) -> ExpectedPayload | None:
        return None if self.sha256 is None else ExpectedPayload(self.sha256, self.describe())

    def describe(self) -> str:
        if self.ceremony is None:
            return "the packet with the SHA-256 given"
        return f"the packet of shard {self.shard_id} of ceremony {self.ceremony}"


def packet_from_scans(pages: Sequence[PageReading], expected: Expectation) -> tuple[bytes, Packet]:
    """The packet of the custody QR codes on `pages`, in any order, and its exact bytes."""
    codes = [code for page in pages for code in page.codes]
    try:
        payload = assemble_chunks(codes, binding=expected.binding, expected=expected.payload)
    except QrChunkError as error:
        raise _with_damaged_codes(error, pages) from error
    source = pages[0].source if len(pages) == 1 else "the scanned codes"
    packet = packet_read_back(payload, expected, source=source)
    # Each code must also be bound to the ceremony and shard its own packet's header names.
    assemble_chunks(codes, binding=QrBinding(packet.header.ceremony, packet.header.shard_id))
    return payload, packet


def _with_damaged_codes(error: QrChunkError, pages: Sequence[PageReading]) -> QrChunkError:
    # As custody.paper.scan.scan_payload says it: a code seen but not decoded is named.
    damaged = [page.source for page in pages if page.unreadable]
    if error.kind != "missing-chunk" or not damaged:
        return error
    return QrChunkError(
        f"{error.message} A QR code was seen but could not be decoded on {', '.join(damaged)}.",
        kind=error.kind,
        sources=tuple(damaged),
        hint="That code is damaged beyond repair: type the text of the sheet instead.",
    )


def packet_from_text(text: str, expected: Expectation, *, source: str) -> tuple[bytes, Packet]:
    """The packet of a whole text whose every line checks (see `find_line_problems` first)."""
    payload = parse_paper_text(text, expected=expected.payload, source=source)
    return payload, packet_read_back(payload, expected, source=source)


def packet_read_back(payload: bytes, expected: Expectation, *, source: str) -> Packet:
    """`payload` as a custody packet that is the expected one (header checked, not opened)."""
    try:
        packet = parse_packet(payload)
    except CustodyError as error:
        raise BadInputError(
            f"{source}: the sheet reads back, but not to a custody packet ({error.message})",
            kind=error.kind,
            hint="Read back only custodian sheets custody printed.",
        ) from error
    header = packet.header
    if expected.ceremony is not None and (header.ceremony, header.shard_id) != (
        expected.ceremony,
        expected.shard_id,
    ):
        raise PayloadMismatchError(
            f"{source}: this is the packet of shard {header.shard_id} of ceremony "
            f"{header.ceremony}, not {expected.describe()}.",
            kind="payload-mismatch",
            hint="Check that the page belongs to this shard, custodian and ceremony.",
        )
    return packet


class TypingSession:
    """The lines typed so far; `enter` takes the next one, `payload` joins them at the end."""

    def __init__(self, *, expected: ExpectedPayload | None = None, source: str = "typed text"):
        self._lines: list[LineResult] = []
        self._expected = expected
        self._source = source

    @property
    def next_line(self) -> int:
        """The number of the line to type next."""
        return len(self._lines) + 1

    @property
    def is_complete(self) -> bool:
        """True once the end line has been entered and checked."""
        return bool(self._lines) and self._lines[-1].kind == "end"

    def enter(self, text: str) -> LineResult:
        """Check `text` as line `next_line` and keep it; PaperTextError names the line if not."""
        if self.is_complete:
            raise ValueError("the end line has been entered; there is no next line")
        if self.next_line > MAX_LINES:
            raise PaperTextError(
                f"{self._source}: {MAX_LINES} lines were typed without an end line.",
                kind="missing-end-line",
                hint="The last line of the sheet's text is the end line; type it last.",
            )
        line = parse_line(self.next_line, text)
        self._lines.append(line)
        return line

    def payload(self) -> bytes:
        """The payload of the lines entered (spec "Assembling lines"); raises if they don't join."""
        if not self.is_complete:
            raise ValueError("the payload is known only once the end line is entered")
        return assemble(self._lines, expected=self._expected, source=self._source)


def find_line_problems(text: str, *, source: str = "text") -> tuple[PaperTextError, ...]:
    """Every line of a whole text that fails its own check, in text order (empty: none do).

    Each non-blank line must carry its label; it is checked as the line its label names.
    Numbering (gaps, repeats, order) and the payload's digest are not checked here:
    `parse_paper_text` does that once every line checks.
    """
    problems: list[PaperTextError] = []
    for row, raw in enumerate(text.split("\n"), 1):
        if not raw.strip(" \t\r"):
            continue
        label = _LABEL.fullmatch(raw.rstrip("\r"))
        if label is None or not 1 <= int(label.group(1)) <= MAX_LINES:
            problems.append(
                PaperTextError(
                    f"{source}: text line {row} does not start with a line number such as 001:.",
                    kind="missing-line-number",
                    hint="Type each line with its number, as printed on the sheet.",
                )
            )
            continue
        try:
            parse_line(int(label.group(1)), label.group(2))
        except PaperTextError as error:
            problems.append(error)
    return tuple(problems)


@dataclass(frozen=True, slots=True)
class CheckedSheet:
    """A custodian sheet that read back whole: what it carries and its digests."""

    packet: Packet
    packet_sha256: str
    pdf_sha256: str
    pages: int


def verify_printable_sheet(pdf: bytes, *, source: str) -> CheckedSheet:
    """The custodian sheet on `pdf`, or a refusal: both copies must give one custody packet."""
    if not pdf.startswith(b"%PDF-"):
        raise _not_a_sheet(source, "it is not a PDF")
    # Read first: read_pdf bounds the input and refuses a PDF pdfium cannot open, by name.
    pages = read_pdf(pdf, source=source, dpi=SELF_TEST_DPI)
    _verify_custody_metadata(pdf, source)
    from_qr, packet = _qr_packet(pages, source)
    expected = ExpectedPayload(
        hashlib.sha256(from_qr).digest(), "the packet in the sheet's QR codes"
    )
    text = "\n".join(line for page in pages for line in _typable_lines(page.text))
    try:
        from_text = parse_paper_text(text, expected=expected, source=f"{source} (text)")
    except PayloadMismatchError as error:
        raise _disagree(source, "its typable text is another packet than its QR codes") from error
    except CustodyError as error:
        raise _disagree(source, f"its typable text does not read back: {error.message}") from error
    if from_text != from_qr:  # the digest check above makes this a second, plain comparison
        raise _disagree(source, "its typable text is another packet than its QR codes")
    return CheckedSheet(
        packet=packet,
        packet_sha256=hashlib.sha256(from_qr).hexdigest(),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        pages=len(pages),
    )


def _verify_custody_metadata(pdf: bytes, source: str) -> None:
    metadata = read_pdf_metadata(pdf)
    if metadata.get("Title") == _SUMMARY_TITLE and metadata.get("Creator") == "custody":
        raise BadInputError(
            f"{source} is a ceremony summary sheet; `custody paper print` prints custodian "
            "sheets only.",
            kind="not-a-custodian-sheet",
            hint="The ceremony prints its own summary sheet.",
        )
    if metadata.get("Title") != _SHEET_TITLE or metadata.get("Creator") != "custody":
        raise _not_a_sheet(source, "its metadata is not that of a custody sheet")
    if metadata.get("Author"):
        raise _disagree(source, "its metadata names an author")


def _qr_packet(pages: Sequence[PageReading], source: str) -> tuple[bytes, Packet]:
    try:
        return packet_from_scans(pages, Expectation())
    except CustodyError as error:
        raise _disagree(source, f"its QR codes do not read back: {error.message}") from error


def _typable_lines(page_text: str) -> list[str]:
    return [line.strip() for line in page_text.splitlines() if _TEXT_LINE.fullmatch(line.strip())]


def _not_a_sheet(source: str, why: str) -> BadInputError:
    return BadInputError(
        f"{source} is not a custodian sheet custody rendered: {why}.",
        kind="not-a-custody-sheet",
        hint="Print only sheets made by `custody paper render` or a ceremony.",
    )


def _disagree(source: str, why: str) -> PaperSelfTestError:
    return PaperSelfTestError(
        f"{source} fails the check before printing: {why}. It was not printed.",
        kind="sheet-check-failed",
        path="pdf",
        hint="Do not use this file; render the sheet again from the packet.",
    )
