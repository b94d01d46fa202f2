"""Rendering sheets: the custodian sheet and the ceremony summary sheet, as A4 PDF bytes.

This module owns what each sheet shows and in what order (docs/paper.md). The words come from
the templates, the layout from `layout` and `blocks`, the QR contents and the typable text
from custody.formats. The date is an argument: rendering never reads a clock, so the same
inputs give the same bytes. Rendering does not prove that a sheet reads back; ceremonies call
custody.paper.selftest, which refuses to return a sheet that does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Final

from custody import __version__
from custody.formats.papertext import encode_paper_lines
from custody.formats.qr import encode_chunks
from custody.paper.blocks import (
    field,
    heading,
    mono_lines,
    numbered,
    paragraph,
    qr_rows,
    signature_lines,
)
from custody.paper.layout import CONTENT_WIDTH, Block, write_sheet
from custody.paper.pdf import Font, text_width
from custody.paper.sheets import CustodianSheetContext, SummarySheetContext, group_hex
from custody.paper.templates import SheetTemplate, load_template

CHECKPOINT_SIZE: Final = 8.0
CONTINUES: Final = "↩"


def render_custodian_sheet(
    context: CustodianSheetContext, packet: bytes, *, created: date
) -> bytes:
    """The custodian sheet of `packet`: QR codes and typable text of the same bytes."""
    return _compose_custodian_sheet(
        context,
        packet,
        qr_contents=encode_chunks(packet, context.binding),
        text_lines=encode_paper_lines(packet),
        created=created,
    )


def render_summary_sheet(context: SummarySheetContext, *, created: date) -> bytes:
    """The ceremony summary: public values, the checkpoint as text and QR, witness lines."""
    sheet = load_template("summary-sheet")
    values = {
        "version": __version__,
        "ceremony_id": context.ceremony_id,
        "threshold": context.threshold,
        "shard_count": context.shard_count,
        "last_index": context.threshold - 1,
    }
    codes = encode_chunks(context.checkpoint.encode("utf-8"), context.binding)
    blocks = [
        *_unwitnessed(sheet, context),
        *_title(sheet, values),
        field(sheet.text("fields.ceremony"), context.ceremony_id),
        field(sheet.text("fields.date"), _day(created)),
        field(sheet.text("fields.threshold"), sheet.text("fields.threshold_value", **values)),
        field(sheet.text("fields.root_key"), context.root_fingerprint_short, font="mono", size=11),
        field(sheet.text("fields.root_key_full"), context.root_fingerprint, font="mono"),
        *_software(sheet, context),
        *_section(sheet, "commitments", values),
        *mono_lines([f"C{i:<3}{c}" for i, c in enumerate(context.commitments)], size=9),
        *_section(sheet, "custodians", values),
        *_custodian_rows(context),
        *_section(sheet, "checkpoint", values),
        *mono_lines(checkpoint_lines(context.checkpoint), size=CHECKPOINT_SIZE),
        *qr_rows(codes, [f"checkpoint QR {i + 1} of {len(codes)}" for i in range(len(codes))]),
        *_section(sheet, "witnesses", values),
        *_acknowledged(sheet, context),
        *signature_lines(_witness_labels(sheet, context.witnesses)),
    ]
    return write_sheet(blocks, title=sheet.text("pdf_title"), footer=sheet.text("footer", **values))


def _software(sheet: SheetTemplate, context: SummarySheetContext) -> list[Block]:
    return [field(sheet.text("fields.software"), context.software)] if context.software else []


def _unwitnessed(sheet: SheetTemplate, context: SummarySheetContext) -> list[Block]:
    """A checkpoint fewer witnesses acknowledged than the ceremony needs says so, first."""
    if context.witnessed:
        return []
    return [
        *heading(sheet.text("unwitnessed.heading"), size=16)[1:],
        paragraph(sheet.text("unwitnessed.note", witnesses=context.witnesses), font="bold"),
    ]


def _acknowledged(sheet: SheetTemplate, context: SummarySheetContext) -> list[Block]:
    if context.acknowledged_by is None:
        return []
    names = ", ".join(context.acknowledged_by) or sheet.text("witnesses.nobody")
    return [field(sheet.text("witnesses.acknowledged"), names)]


def checkpoint_lines(checkpoint: str) -> list[str]:
    """The checkpoint as printed: each line verbatim, cut with ↩ where it is too wide."""
    width = int(CONTENT_WIDTH // text_width("0", "mono", CHECKPOINT_SIZE)) - 1
    printed: list[str] = []
    for line in checkpoint.split("\n"):
        printed += _cut(line, width)
    return printed


def _cut(line: str, width: int) -> list[str]:
    """`line` in pieces of at most `width` characters, each but the last ending in ↩."""
    pieces = []
    rest = line
    while len(rest) > width:
        pieces.append(rest[: width - 1] + CONTINUES)
        rest = rest[width - 1 :]
    return [*pieces, rest]


def _compose_custodian_sheet(
    context: CustodianSheetContext,
    packet: bytes,
    *,
    qr_contents: Sequence[bytes],
    text_lines: Sequence[str],
    created: date,
) -> bytes:
    # The QR contents and the text are parameters only so tests can forge a sheet whose two
    # copies disagree (F10) and see the self-test refuse it; callers use render_custodian_sheet.
    sheet = load_template("custodian-sheet")
    values = {
        "version": __version__,
        "ceremony_id": context.ceremony_id,
        "shard_id": context.shard_id,
        "shard_count": context.shard_count,
        "threshold": context.threshold,
        "packet_bytes": len(packet),
        "qr_count": len(qr_contents),
        "line_count": len(text_lines),
        "last_line": f"{len(text_lines):03d}",
        "root_short": context.root_fingerprint_short,
    }
    count = len(qr_contents)
    blocks = [
        *_title(sheet, values),
        *_custodian_fields(sheet, values, context, packet, created),
        *_section(sheet, "handover", values),
        *signature_lines(sheet.paragraphs("handover.lines"), per_row=4),
        *_section(sheet, "qr", values),
        *qr_rows(qr_contents, [f"QR {i + 1} of {count}" for i in range(count)]),
        *_section(sheet, "text", values),
        *mono_lines(text_lines),
        *heading(sheet.text("restore.heading")),
        *_numbered_section(sheet, "restore.with_custody", values),
        *_numbered_section(sheet, "restore.without_custody", values),
    ]
    return write_sheet(blocks, title=sheet.text("pdf_title"), footer=sheet.text("footer", **values))


def _custodian_fields(
    sheet: SheetTemplate,
    values: dict[str, object],
    context: CustodianSheetContext,
    packet: bytes,
    created: date,
) -> list[Block]:
    rows: list[tuple[str, str, Font]] = [
        ("ceremony", context.ceremony_id, "sans"),
        ("date", _day(created), "sans"),
        ("custodian", context.custodian_name, "sans"),
        ("custodian_key", group_hex(context.custodian_fingerprint), "mono"),
        ("shard", sheet.text("fields.shard_value", **values), "sans"),
        ("packet", sheet.text("fields.packet_value", **values), "sans"),
        ("packet_digest", group_hex(hashlib.sha256(packet).hexdigest(), 16), "mono"),
    ]
    blocks = [field(sheet.text(f"fields.{key}"), value, font=font) for key, value, font in rows]
    root = field(
        sheet.text("fields.root_key"), context.root_fingerprint_short, font="mono", size=11
    )
    return [*blocks[:5], root, *blocks[5:]]


def _title(sheet: SheetTemplate, values: dict[str, object]) -> list[Block]:
    intro = [paragraph(text) for text in sheet.paragraphs("intro", **values)]
    return [
        *heading(sheet.text("heading"), size=16)[1:],
        paragraph(sheet.text("subheading", **values), size=8.5),
        *intro,
    ]


def _section(sheet: SheetTemplate, key: str, values: dict[str, object]) -> list[Block]:
    note = paragraph(sheet.text(f"{key}.note", **values))
    return [*heading(sheet.text(f"{key}.heading")), replace(note, keep_with_next=True)]


def _numbered_section(sheet: SheetTemplate, key: str, values: dict[str, object]) -> list[Block]:
    # A list of steps is kept on one page when it fits: instructions read as a whole.
    title = paragraph(sheet.text(f"{key}_heading"), font="bold")
    *steps, last = numbered(sheet.paragraphs(key, **values))
    return [replace(b, keep_with_next=True) for b in (title, *steps)] + [last]


def _custodian_rows(context: SummarySheetContext) -> list[Block]:
    rows: list[Block] = []
    for custodian in sorted(context.custodians, key=lambda c: c.shard_id):
        name = field(f"shard {custodian.shard_id}", custodian.name)
        rows.append(replace(name, keep_with_next=True))
        rows.append(field("", group_hex(custodian.fingerprint), font="mono", size=8.5))
    return rows


def _witness_labels(sheet: SheetTemplate, witnesses: int) -> list[str]:
    labels: list[str] = []
    for number in range(1, witnesses + 1):
        labels += [sheet.text("witnesses.line", number=number), sheet.text("witnesses.date")]
    return labels


def _day(created: date) -> str:
    return date(created.year, created.month, created.day).isoformat()
