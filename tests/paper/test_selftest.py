"""The self-test before release (F10): a sheet whose copies disagree, or do not read back,
is never returned; a good one is returned unchanged."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from custody.formats.papertext import encode_paper_lines
from custody.formats.qr import QrBinding, encode_chunks
from custody.paper import render
from custody.paper.errors import PaperSelfTestError
from custody.paper.render import _compose_custodian_sheet, render_summary_sheet
from custody.paper.selftest import (
    render_and_verify_custodian_sheet,
    render_and_verify_summary_sheet,
    verify_custodian_sheet,
    verify_summary_sheet,
)
from custody.paper.templates import SheetTemplate, load_template
from tests.paper.helpers import CREATED, NAME, ROOT, custodian_context, packet, summary_context

PACKET = packet(300)
OTHER = packet(300, seed=2)


def forged(*, qr_of: bytes, text_of: bytes, binding: QrBinding | None = None) -> bytes:
    context = custodian_context()
    return _compose_custodian_sheet(
        context,
        PACKET,
        qr_contents=encode_chunks(qr_of, binding or context.binding),
        text_lines=encode_paper_lines(text_of),
        created=CREATED,
    )


@pytest.mark.parametrize("dpi", [150, 300])
def test_a_good_sheet_is_returned_unchanged(dpi: int) -> None:
    pdf = render_and_verify_custodian_sheet(custodian_context(), PACKET, created=CREATED, dpi=dpi)
    assert pdf == render.render_custodian_sheet(custodian_context(), PACKET, created=CREATED)


@pytest.mark.parametrize(
    ("qr_of", "text_of", "path"), [(PACKET, OTHER, "text"), (OTHER, PACKET, "qr")]
)
def test_qr_content_other_than_the_printed_text_is_refused(
    qr_of: bytes, text_of: bytes, path: str
) -> None:
    with pytest.raises(PaperSelfTestError) as caught:
        verify_custodian_sheet(forged(qr_of=qr_of, text_of=text_of), custodian_context(), PACKET)
    assert (caught.value.kind, caught.value.path) == ("self-test-failed", path)
    assert "not released" in caught.value.message


def test_a_sheet_with_codes_bound_to_another_shard_is_refused() -> None:
    pdf = forged(qr_of=PACKET, text_of=PACKET, binding=custodian_context(shard_id=4).binding)
    with pytest.raises(PaperSelfTestError) as caught:
        verify_custodian_sheet(pdf, custodian_context(), PACKET)
    assert caught.value.path == "qr"


def test_a_sheet_missing_a_line_of_text_is_refused() -> None:
    lines = list(encode_paper_lines(PACKET))
    del lines[5]
    context = custodian_context()
    pdf = _compose_custodian_sheet(
        context,
        PACKET,
        qr_contents=encode_chunks(PACKET, context.binding),
        text_lines=lines,
        created=CREATED,
    )
    with pytest.raises(PaperSelfTestError) as caught:
        verify_custodian_sheet(pdf, context, PACKET)
    assert caught.value.path == "text"
    assert "line 006" in caught.value.message


def test_metadata_naming_the_custodian_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    sheet = load_template("custodian-sheet")
    leaky = SheetTemplate(sheet.name, MappingProxyType({**sheet.entries, "pdf_title": NAME}))
    monkeypatch.setattr(render, "load_template", lambda name: leaky)
    with pytest.raises(PaperSelfTestError) as caught:
        render_and_verify_custodian_sheet(custodian_context(), PACKET, created=CREATED)
    assert caught.value.path == "metadata"


def test_the_summary_sheet_is_verified_too() -> None:
    pdf = render_and_verify_summary_sheet(summary_context(), created=CREATED)
    assert pdf == render_summary_sheet(summary_context(), created=CREATED)
    with pytest.raises(PaperSelfTestError) as caught:
        verify_summary_sheet(pdf, summary_context("another checkpoint\n"))
    assert caught.value.path == "qr"
    other_commitment = replace(summary_context(), commitments=(ROOT, "02" + "cd" * 32))
    with pytest.raises(PaperSelfTestError) as caught:
        verify_summary_sheet(pdf, other_commitment)
    assert caught.value.path == "text"
