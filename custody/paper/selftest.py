"""The self-test before release: a sheet is only handed out if it reads back (F10).

Every page is rasterised and decoded, and its text extracted, exactly as a restore would read
it: the QR codes must reassemble, bound to the sheet's ceremony and shard, to the payload
that was rendered, and the typable text must parse, line checks and digest included, to the
same payload. The PDF's metadata must not name the custodian. Anything else raises
PaperSelfTestError, and `render_and_verify_*` never return a PDF that failed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Final, TypeVar

from custody.errors import CustodyError
from custody.formats.papertext import parse_paper_text
from custody.formats.qr import QrBinding, assemble_chunks
from custody.paper.errors import ExpectedPayload, PaperSelfTestError
from custody.paper.pdf import printable
from custody.paper.render import checkpoint_lines, render_custodian_sheet, render_summary_sheet
from custody.paper.scan import PageReading, read_pdf, read_pdf_metadata
from custody.paper.sheets import CustodianSheetContext, SummarySheetContext

SELF_TEST_DPI: Final = 150
"""The coarsest resolution custody promises a sheet scans at: passing here leaves margin."""
_TEXT_LINE: Final = re.compile(r"[0-9]{3}: [0-9A-Z ]+", re.ASCII)
_SOURCE: Final = "the rendered sheet"
_T = TypeVar("_T")


def render_and_verify_custodian_sheet(
    context: CustodianSheetContext, packet: bytes, *, created: date, dpi: int = SELF_TEST_DPI
) -> bytes:
    pdf = render_custodian_sheet(context, packet, created=created)
    verify_custodian_sheet(pdf, context, packet, dpi=dpi)
    return pdf


def render_and_verify_custodian_sheets(
    sheets: Sequence[tuple[CustodianSheetContext, bytes]], *, created: date
) -> list[bytes]:
    """Each (context, packet) rendered and self-tested, on every processor the machine has.

    Rendering (QR mask selection) and the self-test are CPU-bound Python, so an intake for
    many custodians spreads them over worker processes; each returns its PDF or its error.
    The workers are forked: they share the parent's memory copy-on-write and write nothing.
    """
    if not sheets:
        return []
    # The first sheet is done here: fonts, pdfium and the decoder are then loaded once, in
    # this process, and every worker forked after it starts warm.
    first = _render_and_verify(sheets[0], created)
    rest = sheets[1:]
    workers = min(len(rest), len(os.sched_getaffinity(0)))
    if workers <= 1:
        return [first, *(_render_and_verify(item, created) for item in rest)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [first, *pool.map(partial(_render_and_verify, created=created), rest)]


def _render_and_verify(sheet: tuple[CustodianSheetContext, bytes], created: date) -> bytes:
    return render_and_verify_custodian_sheet(sheet[0], sheet[1], created=created)


def render_and_verify_summary_sheet(
    context: SummarySheetContext, *, created: date, dpi: int = SELF_TEST_DPI
) -> bytes:
    pdf = render_summary_sheet(context, created=created)
    verify_summary_sheet(pdf, context, dpi=dpi)
    return pdf


def verify_custodian_sheet(
    pdf: bytes, context: CustodianSheetContext, packet: bytes, *, dpi: int = SELF_TEST_DPI
) -> None:
    """Raise PaperSelfTestError unless both copies on `pdf` read back to exactly `packet`."""
    pages = _read(pdf, dpi)
    expected = ExpectedPayload(hashlib.sha256(packet).digest(), "the packet that was rendered")
    from_qr = _attempt("qr", lambda: _qr_payload(pages, context.binding, expected))
    text = "\n".join(line for page in pages for line in _typable_lines(page.text))
    from_text = _attempt("text", lambda: parse_paper_text(text, expected=expected, source=_SOURCE))
    for path, payload in (("qr", from_qr), ("text", from_text)):
        if payload != packet:  # the digest check above makes this a second, plain comparison
            raise _failure(path, "it reads back to other bytes than it was rendered from")
    _verify_metadata(pdf, (context.custodian_name,))


def verify_summary_sheet(
    pdf: bytes, context: SummarySheetContext, *, dpi: int = SELF_TEST_DPI
) -> None:
    """Raise PaperSelfTestError unless the summary's checkpoint and values read back."""
    pages = _read(pdf, dpi)
    checkpoint = context.checkpoint.encode("utf-8")
    expected = ExpectedPayload(
        hashlib.sha256(checkpoint).digest(), "the checkpoint that was rendered"
    )
    if _attempt("qr", lambda: _qr_payload(pages, context.binding, expected)) != checkpoint:
        raise _failure("qr", "the checkpoint's QR codes read back to other bytes")
    lines = [printable(line, "mono") for line in checkpoint_lines(context.checkpoint)]
    printed = [*context.commitments, *lines]
    _verify_text_in_order(" ".join(page.text for page in pages), printed)
    _verify_metadata(pdf, tuple(custodian.name for custodian in context.custodians))


def _read(pdf: bytes, dpi: int) -> tuple[PageReading, ...]:
    return _attempt("qr", lambda: read_pdf(pdf, source=_SOURCE, dpi=dpi))


def _qr_payload(
    pages: Sequence[PageReading], binding: QrBinding, expected: ExpectedPayload
) -> bytes:
    codes = [code for page in pages for code in page.codes]
    return assemble_chunks(codes, binding=binding, expected=expected)


def _typable_lines(page_text: str) -> list[str]:
    # Extraction gives the page's text in reading order, CRLF between lines; only the lines
    # of the typable copy look like "001: …" (the templates never start a line that way).
    return [line for line in page_text.splitlines() if _TEXT_LINE.fullmatch(line.strip())]


def _verify_text_in_order(extracted: str, printed: Sequence[str]) -> None:
    # PDF text extraction turns runs of spaces into one, and a line break into a space: compare
    # with whitespace normalised, each printed line after the one before it.
    haystack = " ".join(extracted.split())
    position = 0
    for line in printed:
        needle = " ".join(line.split())
        found = haystack.find(needle, position)
        if found < 0:
            raise _failure("text", "a printed value does not read back from the page's text")
        position = found + len(needle)


def _verify_metadata(pdf: bytes, names: Sequence[str]) -> None:
    metadata = read_pdf_metadata(pdf)
    if metadata.get("Author") or any(n in value for n in names for value in metadata.values()):
        raise _failure("metadata", "the PDF's metadata names a person")


def _attempt(path: str, read: Callable[[], _T]) -> _T:
    try:
        return read()
    except CustodyError as error:
        raise _failure(path, f"{error.message} ({error.kind})") from error


def _failure(path: str, problem: str) -> PaperSelfTestError:
    return PaperSelfTestError(
        f"Self-test of the sheet failed on its {path} copy: {problem}. It was not released.",
        kind="self-test-failed",
        path=path,
        hint="This is a fault in custody or this appliance, not in your input; report it.",
    )
