"""Contexts, packets and page images shared by the paper tests.

Packets are random bytes of realistic sizes (a cv25519 packet is a few hundred bytes, an
RSA-4096 one under 1 KiB, 2 KiB the largest custody expects); the paper layer treats them
as opaque.
"""

from __future__ import annotations

import io
import random
from datetime import date

import pypdfium2
from PIL import Image

from custody.fingerprint import Fingerprint
from custody.paper.sheets import CustodianSheetContext, SummaryCustodian, SummarySheetContext

ROOT = "03c26b7926753434d407d6cd14fae1cdd47479ca6e9a77c773d3dc885470df5476"
CREATED = date(2026, 12, 1)
NAME = "Ada Lovelace"


def custodian_context(shard_id: int = 3, name: str = NAME) -> CustodianSheetContext:
    return CustodianSheetContext(
        ceremony_id="2026-12-01-intake-7F3K",
        shard_id=shard_id,
        custodian_name=name,
        custodian_fingerprint="0123456789ABCDEF0123456789ABCDEF01234567",
        threshold=3,
        shard_count=5,
        root_fingerprint_short=Fingerprint(bytes.fromhex(ROOT)).short,
    )


def summary_context(checkpoint: str = "custody log\n42\nAbCd+/=\n") -> SummarySheetContext:
    return SummarySheetContext(
        ceremony_id="2026-12-01-intake-7F3K",
        threshold=2,
        shard_count=3,
        root_fingerprint=ROOT,
        root_fingerprint_short=Fingerprint(bytes.fromhex(ROOT)).short,
        commitments=(ROOT, "02" + "ab" * 32),
        custodians=tuple(SummaryCustodian(i, f"Custodian {i}", f"{i:040X}") for i in (1, 2, 3)),
        checkpoint=checkpoint,
    )


def packet(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def page_images(pdf: bytes, dpi: int) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].render(scale=dpi / 72).to_pil() for i in range(len(document))]
    finally:
        document.close()


def encoded(image: Image.Image, kind: str = "PNG", **options: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()
