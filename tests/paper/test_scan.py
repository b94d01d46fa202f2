"""Scanning back: render → rasterise → decode, from PDFs and images, damaged and distorted
pages (F09), codes from two sets, and inputs too large to decode safely."""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import struct
import zlib

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter
from reportlab.pdfgen.canvas import Canvas

from custody.paper.errors import ExpectedPayload, PayloadMismatchError, QrChunkError, ScanError
from custody.paper.render import render_custodian_sheet
from custody.paper.scan import MAX_PAGES, read_document, read_image, scan_payload
from tests.paper.helpers import CREATED, custodian_context, encoded, packet, page_images

BINDING = custodian_context().binding


def expected(payload: bytes) -> ExpectedPayload:
    return ExpectedPayload(hashlib.sha256(payload).digest(), "the packet of shard 3")


@pytest.mark.parametrize("dpi", [150, 300])
def test_a_pdf_scans_back_byte_exact(sheet: bytes, dpi: int) -> None:
    payload = scan_payload(
        [("sheet.pdf", sheet)], binding=BINDING, expected=expected(packet(600)), dpi=dpi
    )
    assert payload == packet(600)


@pytest.mark.parametrize(("dpi", "size"), [(150, 2048), (300, 600)])
def test_page_images_scan_back_in_any_order(
    sheet: bytes, long_sheet: bytes, dpi: int, size: int
) -> None:
    pdf = long_sheet if size == 2048 else sheet
    pages = page_images(pdf, dpi)
    images = [(f"page-{i}.png", encoded(image)) for i, image in enumerate(pages)]
    random.Random(dpi).shuffle(images)
    assert len(images) >= 2
    assert scan_payload(images, binding=BINDING) == packet(size)


def _code_boxes(image: Image.Image) -> list[tuple[int, int, int, int]]:
    boxes = []
    for code in zxingcpp.read_barcodes(image):
        p = code.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return sorted(boxes)


def _blank_centre(image: Image.Image, box: tuple[int, int, int, int], share: float) -> Image.Image:
    """`image` with a white square of `share` of the code's area blanked at its centre."""
    damaged = image.copy()
    left, top, right, bottom = box
    half = (right - left) * share**0.5 / 2
    x, y = (left + right) / 2, (top + bottom) / 2
    ImageDraw.Draw(damaged).rectangle([x - half, y - half, x + half, y + half], fill="white")
    return damaged


def test_a_code_damaged_within_level_q_still_decodes(sheet: bytes) -> None:
    (page, *_) = page_images(sheet, 150)
    damaged = _blank_centre(page, _code_boxes(page)[1], 0.16)
    assert scan_payload([("damaged.png", encoded(damaged))], binding=BINDING) == packet(600)


def test_a_code_damaged_beyond_level_q_fails_clearly(sheet: bytes) -> None:
    (page, *_) = page_images(sheet, 150)
    damaged = _blank_centre(page, _code_boxes(page)[1], 0.36)
    with pytest.raises(QrChunkError) as caught:
        scan_payload([("damaged.png", encoded(damaged))], binding=BINDING)
    assert caught.value.kind == "missing-chunk"
    assert "QR 2 of 3" in caught.value.message
    assert "damaged.png" in caught.value.message


def test_a_rotated_noisy_blurred_jpeg_still_decodes(sheet: bytes) -> None:
    (page, *_) = page_images(sheet, 150)
    grey = page.convert("L").rotate(
        4, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC
    )
    blurred = grey.filter(ImageFilter.GaussianBlur(1.2))
    noisy = Image.blend(blurred, Image.effect_noise(blurred.size, 40), 0.25)
    photo = encoded(noisy, "JPEG", quality=60)
    assert scan_payload([("photo.jpg", photo)], binding=BINDING) == packet(600)


def _with_foreign_code(sheet: bytes) -> Image.Image:
    """Page 1 of `sheet` with its first code replaced by shard 4's first code."""
    other = render_custodian_sheet(custodian_context(shard_id=4), packet(600, 2), created=CREATED)
    (page, *_) = page_images(sheet, 150)
    (foreign_page, *_) = page_images(other, 150)
    box = _code_boxes(foreign_page)[0]
    page.paste(foreign_page.crop(box), box[:2])
    return page


def test_two_sets_on_one_page_are_refused_and_a_foreign_code_is_named(sheet: bytes) -> None:
    mixed = [("mixed.png", encoded(_with_foreign_code(sheet)))]
    with pytest.raises(QrChunkError) as caught:
        scan_payload(mixed)
    assert caught.value.kind == "two-sets"
    with pytest.raises(PayloadMismatchError) as mismatch:
        scan_payload(mixed, binding=BINDING)
    assert "mixed.png" in mismatch.value.message


def test_the_same_page_twice_is_a_duplicate(sheet: bytes) -> None:
    with pytest.raises(QrChunkError) as caught:
        scan_payload([("a.pdf", sheet), ("b.pdf", sheet)])
    assert caught.value.kind == "duplicate-chunk"


def _png_claiming(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 64)
    idat = (
        struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    )
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _pdf(pages: int, size: float = 595) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(size, size), invariant=1)
    for _ in range(pages):
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (_png_claiming(100_000, 100_000), "image-too-large"),
        (_png_claiming(10_000, 7_000), "image-too-large"),
        (_pdf(MAX_PAGES + 1), "too-many-pages"),
        (_pdf(1, size=14_400), "image-too-large"),
        (b"%PDF-1.4 not really", "unreadable-pdf"),
        (b"GIF89a" + bytes(40), "unreadable-image"),
        (b"plain text", "unreadable-image"),
        (bytes(64 * 1024 * 1024 + 1), "input-too-large"),
    ],
)
def test_inputs_too_large_or_unreadable_are_refused_before_decoding(data: bytes, kind: str) -> None:
    with pytest.raises(ScanError) as caught:
        read_document(data, source="stick/scan")
    assert caught.value.kind == kind
    assert "stick/scan" in caught.value.message


def test_a_blank_page_has_no_custody_code() -> None:
    with pytest.raises(QrChunkError) as caught:
        scan_payload([("blank.pdf", _pdf(1))])
    assert caught.value.kind == "missing-chunk"


@settings(max_examples=60)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        st.binary(max_size=300).map(lambda b: b"\xff\xd8\xff" + b),
        st.binary(max_size=300).map(lambda b: b"%PDF-1.4\n" + b),
    )
)
def test_arbitrary_bytes_raise_only_the_domain_error(data: bytes) -> None:
    with contextlib.suppress(ScanError):
        read_document(data, source="x")


def test_an_image_reading_names_its_source(sheet: bytes) -> None:
    (page, *_) = page_images(sheet, 150)
    reading = read_image(encoded(page), source="scan-1.png")
    assert {code.source for code in reading.codes} == {"scan-1.png"}
    assert len(reading.codes) == 3 and reading.unreadable == 0
