"""Rendered sheets: reproducible bytes, embedded fonts, neutral metadata (F11), clean pages."""

from __future__ import annotations

import re
from datetime import date

import pypdfium2
import pytest

from custody.paper.render import checkpoint_lines, render_custodian_sheet, render_summary_sheet
from custody.paper.scan import read_pdf, read_pdf_metadata
from custody.paper.sheets import CustodianSheetContext, SummaryCustodian, SummarySheetContext
from custody.paper.templates import SheetTemplate, load_template
from tests.paper.helpers import CREATED, NAME, ROOT, custodian_context, packet, summary_context


def page_texts(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def test_the_same_inputs_give_the_same_bytes(sheet: bytes) -> None:
    again = render_custodian_sheet(custodian_context(), packet(600), created=CREATED)
    assert again == sheet
    later = render_custodian_sheet(custodian_context(), packet(600), created=date(2026, 12, 2))
    assert later != sheet


def test_the_metadata_names_no_one(sheet: bytes) -> None:
    metadata = read_pdf_metadata(sheet)
    assert metadata["Title"] == "custody sheet"
    assert metadata["Author"] == metadata["Subject"] == metadata["Keywords"] == ""
    assert not any(NAME in value or "Ada" in value for value in metadata.values())
    assert b"Ada" not in sheet  # page content is compressed; the name is in no plain object


def test_every_font_is_embedded(long_sheet: bytes) -> None:
    fonts = re.findall(rb"/BaseFont /([^\s/]+)", long_sheet)
    assert fonts
    assert all(re.fullmatch(rb"[A-Z]{6}\+DejaVuSans(Mono)?(-Bold)?", name) for name in fonts)
    descriptors = long_sheet.count(b"/Type /FontDescriptor")
    assert descriptors == long_sheet.count(b"/FontFile2") > 0
    assert b"Helvetica" not in long_sheet and b"Times" not in long_sheet


def test_a_long_packet_paginates_with_numbered_pages(long_sheet: bytes) -> None:
    texts = page_texts(long_sheet)
    assert len(texts) >= 2
    for number, text in enumerate(texts, 1):
        assert f"page {number} of {len(texts)}" in text
    labels = [
        line[:3] for text in texts for line in text.splitlines() if re.match(r"\d{3}: ", line)
    ]
    assert labels == [f"{n:03d}" for n in range(1, 84)]


def test_the_sheet_shows_what_the_custodian_needs(sheet: bytes) -> None:
    text = " ".join(" ".join(page_texts(sheet)).split())
    context = custodian_context()
    for shown in (
        "2026-12-01-intake-7F3K",
        "2026-12-01",
        NAME,
        "0123 4567 89AB CDEF",
        "shard 3 of 5, 3 needed",
        context.root_fingerprint_short,
        "gpg --decrypt",
        "QR 3 of 3",
        "Bag serial",
        "Witness",
    ):
        assert shown in text


def test_names_print_escaped_never_as_something_else() -> None:
    name = "Eve \u202eevil\u202c 王"
    pdf = render_custodian_sheet(custodian_context(name=name), packet(100), created=CREATED)
    text = " ".join(page_texts(pdf))
    assert "Eve \\u202eevil\\u202c \\u738b" in text
    assert "\u202e" not in text


def test_the_summary_sheet_shows_the_public_values() -> None:
    checkpoint = "custody log v1\n17\n" + "A" * 150 + "\n\n— appliance sig==\n"
    pdf = render_summary_sheet(summary_context(checkpoint), created=CREATED)
    text = " ".join(page_texts(pdf))
    assert ROOT in text and "02" + "ab" * 32 in text
    assert "Custodian 3" in text and "2 of 3 shards needed" in text
    assert "A" * 100 + "↩" in "".join(checkpoint_lines(checkpoint))
    assert read_pdf_metadata(pdf)["Title"] == "custody summary"
    assert not any("Custodian" in v for v in read_pdf_metadata(pdf).values())
    (page, *_) = read_pdf(pdf, source="summary", dpi=150)
    assert page.codes


@pytest.mark.parametrize(
    "change",
    [
        {"shard_id": 0},
        {"threshold": 6},
        {"threshold": 1},
        {"custodian_name": " "},
        {"custodian_fingerprint": "0123456789abcdef0123456789abcdef01234567"},
        {"root_fingerprint_short": "WRTA-72KX-4HS5-G570"},
        {"ceremony_id": "two\nlines"},
    ],
)
def test_a_custodian_context_checks_itself(change: dict[str, object]) -> None:
    fields = {
        "ceremony_id": "c",
        "shard_id": 1,
        "custodian_name": "A",
        "custodian_fingerprint": "0" * 40,
        "threshold": 2,
        "shard_count": 3,
        "root_fingerprint_short": custodian_context().root_fingerprint_short,
    }
    CustodianSheetContext(**fields)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CustodianSheetContext(**(fields | change))  # type: ignore[arg-type]


def test_a_summary_context_checks_itself() -> None:
    good = summary_context()
    custodians = good.custodians
    for change in (
        {"commitments": (ROOT,)},
        {"commitments": ("02" + "ab" * 32, ROOT)},
        {"custodians": custodians[:2]},
        {"custodians": (*custodians[:2], SummaryCustodian(1, "X", "0" * 40))},
        {"checkpoint": "  \n"},
        {"checkpoint": "a↩b"},
    ):
        values = {name: getattr(good, name) for name in SummarySheetContext.__slots__}
        with pytest.raises(ValueError):
            SummarySheetContext(**(values | change))


def test_a_template_missing_a_value_is_a_bug() -> None:
    template = load_template("custodian-sheet")
    with pytest.raises(ValueError):
        template.text("footer")
    with pytest.raises(ValueError):
        template.text("no.such.key")
    with pytest.raises(ValueError):
        template.paragraphs("heading")
    assert isinstance(template, SheetTemplate)
    assert template.text("footer", ceremony_id="{x} $y", shard_id=1).endswith("{x} $y · shard 1")
