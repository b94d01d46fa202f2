"""Paper: render + self-test per custodian sheet, and scanning pages back.

For packets of 300, 700 and 2048 bytes (a cv25519 packet, an RSA-4096 one, the largest
custody expects) it prints the best of three times to: render the sheet; render and
self-test it at 150 and 300 dpi (the goal: at most 0.5 s at 300 dpi); and scan it back per
page, from the PDF and from PNG page images, at 150 and 300 dpi.
Run: .venv/bin/python bench/bench_paper.py
"""

from __future__ import annotations

import functools
import io
import random
import time
from collections.abc import Callable
from datetime import date

import pypdfium2

from custody.fingerprint import Fingerprint
from custody.paper.render import render_custodian_sheet
from custody.paper.scan import scan_payload
from custody.paper.selftest import render_and_verify_custodian_sheet
from custody.paper.sheets import CustodianSheetContext

ROOT = bytes.fromhex("03c26b7926753434d407d6cd14fae1cdd47479ca6e9a77c773d3dc885470df5476")
CONTEXT = CustodianSheetContext(
    ceremony_id="2026-12-01-intake-7F3K",
    shard_id=3,
    custodian_name="Ada Lovelace",
    custodian_fingerprint="0123456789ABCDEF0123456789ABCDEF01234567",
    threshold=3,
    shard_count=5,
    root_fingerprint_short=Fingerprint(ROOT).short,
)
CREATED = date(2026, 12, 1)


def seconds(action: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def png_pages(pdf: bytes, dpi: int) -> list[tuple[str, bytes]]:
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    for index in range(len(document)):
        buffer = io.BytesIO()
        document[index].render(scale=dpi / 72).to_pil().save(buffer, "PNG")
        pages.append((f"page-{index + 1}.png", buffer.getvalue()))
    document.close()
    return pages


def bench(size: int) -> None:
    packet = random.Random(size).randbytes(size)
    pdf = render_custodian_sheet(CONTEXT, packet, created=CREATED)
    pages = len(pypdfium2.PdfDocument(pdf))
    print(f"packet {size} bytes: {pages} page(s), PDF {len(pdf)} bytes")
    render = seconds(lambda: render_custodian_sheet(CONTEXT, packet, created=CREATED))
    print(f"  render                      {render * 1000:7.0f} ms")
    for dpi in (150, 300):
        verify = functools.partial(
            render_and_verify_custodian_sheet, CONTEXT, packet, created=CREATED, dpi=dpi
        )
        print(f"  render + self-test {dpi} dpi  {seconds(verify) * 1000:7.0f} ms")
    for dpi in (150, 300):
        from_pdf = seconds(functools.partial(scan_payload, [("s.pdf", pdf)], dpi=dpi))
        from_png = seconds(functools.partial(scan_payload, png_pages(pdf, dpi)))
        print(
            f"  scan back {dpi} dpi per page:  PDF {from_pdf / pages * 1000:5.0f} ms,"
            f"  PNG {from_png / pages * 1000:5.0f} ms"
        )


def main() -> None:
    render_custodian_sheet(CONTEXT, b"warm-up: fonts, templates", created=CREATED)
    for size in (300, 700, 2048):
        bench(size)


if __name__ == "__main__":
    main()
