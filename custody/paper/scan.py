"""Reading sheets back: QR codes and text from PDF pages, QR codes from PNG and JPEG images.

This module is the adapter for pypdfium2 (rasterising, text extraction), Pillow (images) and
zxing-cpp (decoding, byte-exact for binary codes). It takes bytes someone else read (from
media, via custody.media.safe_read) and bounds what it does with them: input size, page
count, and pixels per page or image (decompression bombs) are checked before any decoding.
It refuses other image formats and encrypted PDFs. Reassembly and its refusals belong to
custody.formats.qr; `scan_payload` only ties the two together.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pypdfium2
import zxingcpp
from PIL import Image, UnidentifiedImageError

from custody.formats.qr import FoundCode, QrBinding, assemble_chunks
from custody.paper.errors import ExpectedPayload, QrChunkError, ScanError

MAX_INPUT_BYTES: Final = 64 * 1024 * 1024
MAX_PAGES: Final = 16
MAX_PIXELS: Final = 60_000_000
DEFAULT_DPI: Final = 200
_PDF: Final = b"%PDF-"
_IMAGE_FORMATS: Final = ("PNG", "JPEG")
# Pillow reports a malformed file with any of these (a broken PNG chunk is a SyntaxError).
_PILLOW_ERRORS: Final = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
)
_QR_CODES: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


@dataclass(frozen=True, slots=True)
class PageReading:
    """What one page or image held: decoded QR contents, codes seen but not read, its text."""

    source: str
    codes: tuple[FoundCode, ...]
    unreadable: int
    text: str = ""


def read_pdf(data: bytes, *, source: str, dpi: int = DEFAULT_DPI) -> tuple[PageReading, ...]:
    """Every page of a PDF, rasterised at `dpi` in grey and decoded, with its extracted text."""
    _verify_size(data, source)
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise _unreadable(source, "PDF", error) from error
    try:
        if not 1 <= len(document) <= MAX_PAGES:
            raise ScanError(
                f"{source}: {len(document)} pages; custody reads 1..{MAX_PAGES}.",
                kind="too-many-pages",
            )
        return tuple(
            _read_page(document[i], f"{source} page {i + 1}", dpi) for i in range(len(document))
        )
    except pypdfium2.PdfiumError as error:
        raise _unreadable(source, "PDF", error) from error
    finally:
        document.close()


def read_image(data: bytes, *, source: str) -> PageReading:
    """The QR codes of one PNG or JPEG image."""
    _verify_size(data, source)
    try:
        with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as image:
            _verify_pixels(image.width * image.height, source)
            grey = image.convert("L")
    except Image.DecompressionBombError as error:  # Pillow's own, larger bound, met first
        raise _too_large(f"{source}: the image claims more pixels than custody reads.") from error
    except _PILLOW_ERRORS as error:
        raise _unreadable(source, "image", error) from error
    codes, unreadable = _decode(grey, source)
    return PageReading(source=source, codes=codes, unreadable=unreadable)


def read_document(data: bytes, *, source: str, dpi: int = DEFAULT_DPI) -> tuple[PageReading, ...]:
    """A PDF or an image, told apart by its first bytes rather than by its name."""
    if data.startswith(_PDF):
        return read_pdf(data, source=source, dpi=dpi)
    return (read_image(data, source=source),)


def read_pdf_metadata(data: bytes) -> dict[str, str]:
    document = pypdfium2.PdfDocument(data)
    try:
        return {str(key): str(value) for key, value in document.get_metadata_dict().items()}
    finally:
        document.close()


def scan_payload(
    documents: Sequence[tuple[str, bytes]],
    *,
    binding: QrBinding | None = None,
    expected: ExpectedPayload | None = None,
    dpi: int = DEFAULT_DPI,
) -> bytes:
    """The payload of the custody QR codes across (source, bytes) documents, in any order."""
    pages = [
        page for source, data in documents for page in read_document(data, source=source, dpi=dpi)
    ]
    try:
        return assemble_chunks(
            [code for page in pages for code in page.codes], binding=binding, expected=expected
        )
    except QrChunkError as error:
        damaged = [page.source for page in pages if page.unreadable]
        if error.kind != "missing-chunk" or not damaged:
            raise
        raise QrChunkError(
            f"{error.message} A QR code was seen but could not be decoded on {', '.join(damaged)}.",
            kind=error.kind,
            sources=tuple(damaged),
            hint="That code is damaged beyond repair: type the text of the sheet instead.",
        ) from error


def _read_page(page: Any, source: str, dpi: int) -> PageReading:
    try:
        width, height = page.get_size()
        scale = dpi / 72
        _verify_pixels(int(width * scale) * int(height * scale), source)
        image = page.render(scale=scale, grayscale=True).to_pil()
        text_page = page.get_textpage()
        text = str(text_page.get_text_range())
        text_page.close()
    finally:
        page.close()
    codes, unreadable = _decode(image, source)
    return PageReading(source=source, codes=codes, unreadable=unreadable, text=text)


def _decode(image: Image.Image, source: str) -> tuple[tuple[FoundCode, ...], int]:
    # Paper is dark on light: skipping inverted codes halves the work and finds nothing less.
    found = zxingcpp.read_barcodes(image, formats=_QR_CODES, try_invert=False, return_errors=True)
    codes = tuple(FoundCode(content=bytes(b.bytes), source=source) for b in found if b.valid)
    return codes, sum(1 for b in found if not b.valid)


def _verify_size(data: bytes, source: str) -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise ScanError(
            f"{source}: {len(data)} bytes; custody reads scans of at most {MAX_INPUT_BYTES}.",
            kind="input-too-large",
        )


def _verify_pixels(pixels: int, source: str) -> None:
    if pixels > MAX_PIXELS:
        raise _too_large(f"{source}: {pixels} pixels; custody reads at most {MAX_PIXELS} per page.")


def _unreadable(source: str, what: str, error: Exception) -> ScanError:
    readable = "PDF" if what == "PDF" else "PNG or JPEG image"
    return ScanError(
        f"{source}: not a readable {readable} ({type(error).__name__}).",
        kind=f"unreadable-{what.lower()}",
    )


def _too_large(message: str) -> ScanError:
    return ScanError(message, kind="image-too-large", hint="Scan at 150 to 300 dpi.")
