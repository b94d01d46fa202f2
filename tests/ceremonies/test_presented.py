"""Packets presented at a restore as files, scanned sheets (PDF, PNG, JPEG) or typed text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.ceremonies.presented import read_presented, read_presented_file
from custody.errors import CustodyError
from custody.formats.papertext import encode_paper_text
from custody.paper.render import render_custodian_sheet
from tests.ceremonies.conftest import SAMPLE, Appliance, custody, entries, run_intake_to_the_end
from tests.paper.helpers import CREATED, custodian_context, encoded, packet, page_images


def sheet(shard_id: int, payload: bytes) -> bytes:
    return render_custodian_sheet(custodian_context(shard_id), payload, created=CREATED)


def test_files_typed_text_pdfs_and_photos_each_give_the_exact_packet(tmp_path: Path) -> None:
    payloads = {i: packet(700, seed=i) for i in (1, 2, 3, 4)}
    (tmp_path / "a-shard-1.asc").write_bytes(payloads[1])
    (tmp_path / "typed-2.txt").write_text(encode_paper_text(payloads[2]))
    (tmp_path / "sheet-3.pdf").write_bytes(sheet(3, payloads[3]))
    (tmp_path / "photo-4.JPG").write_bytes(
        encoded(page_images(sheet(4, payloads[4]), 200)[0], "JPEG", quality=90)
    )
    (tmp_path / "notes.md").write_text("not a packet: ignored")
    found = read_presented(tmp_path)
    assert [p.error for p in found] == [None] * 4
    assert {p.name: p.data for p in found} == {
        "a-shard-1.asc": payloads[1], "typed-2.txt": payloads[2],
        "sheet-3.pdf": payloads[3], "photo-4.JPG": payloads[4],
    }  # fmt: skip


def test_the_pages_of_one_sheet_photographed_apart_read_back_together(tmp_path: Path) -> None:
    payload = packet(2048, seed=9)
    pages = page_images(sheet(5, payload), 200)
    assert len(pages) > 1, "a 2 KiB packet needs more than one page of codes"
    for number, page in enumerate(pages, 1):
        (tmp_path / f"page-{number}.png").write_bytes(encoded(page))
    found = read_presented(tmp_path)
    assert [(p.data, p.error) for p in found] == [(payload, None)]
    assert found[0].name == "page-1.png + page-2.png", "pages 3 and 4 hold only text"


def test_a_typing_mistake_is_refused_naming_the_line_and_the_rest_still_reads(
    tmp_path: Path,
) -> None:
    text = encode_paper_text(packet(700)).splitlines()
    line = text[2]
    text[2] = line[:-3] + ("X" if line[-3] != "X" else "Y") + line[-2:]
    (tmp_path / "typed.txt").write_text("\n".join(text) + "\n")
    (tmp_path / "good.asc").write_bytes(b"bytes")
    found = {p.name: p for p in read_presented(tmp_path)}
    assert found["good.asc"].data == b"bytes"
    error = found["typed.txt"].error
    assert error is not None and "typed.txt" in error.message and "line 003" in error.message


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("blank.pdf", b"", "unreadable-input"),
        ("latin.txt", "001: caf\xe9".encode("latin-1"), "not-text"),
        ("empty.txt", b"", "missing-end-line"),
    ],
)
def test_unreadable_presentations_are_refused_by_name(
    tmp_path: Path, name: str, content: bytes, kind: str
) -> None:
    (tmp_path / name).write_bytes(content)
    [found] = read_presented(tmp_path)
    assert found.data is None and found.error is not None
    assert name in found.error.message


def test_a_page_without_custody_codes_is_named(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "blank.png").write_bytes(encoded(Image.new("L", (400, 400), 255)))
    [found] = read_presented(tmp_path)
    assert found.error is not None and found.error.kind == "no-codes"
    assert "blank.png" in found.error.message


def test_half_a_sheet_is_refused_as_incomplete(tmp_path: Path) -> None:
    pages = page_images(sheet(5, packet(2048, seed=9)), 200)
    (tmp_path / "page-1.png").write_bytes(encoded(pages[0]))
    [found] = read_presented(tmp_path)
    assert found.error is not None and found.error.kind == "missing-chunk"


def test_a_single_file_is_read_by_its_kind(tmp_path: Path) -> None:
    (tmp_path / "typed.txt").write_text(encode_paper_text(b"packet bytes"))
    assert read_presented_file(tmp_path / "typed.txt").data == b"packet bytes"
    (tmp_path / "packet.doc").write_bytes(b"x")
    with pytest.raises(CustodyError, match=r"packet\.doc: not a packet"):
        read_presented_file(tmp_path / "packet.doc")
    with pytest.raises(CustodyError, match="no such file"):
        read_presented_file(tmp_path / "missing.asc")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_any_typed_bytes_give_a_packet_or_a_named_refusal(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "typed.txt").write_bytes(data)
        [found] = read_presented(Path(folder))
    assert (found.data is None) != (found.error is None)
    if found.error is not None:
        assert "typed.txt" in found.error.message


def test_a_restore_from_a_scanned_sheet_and_a_typed_one_emits_the_spike_files(
    appliance: Appliance,
) -> None:
    ceremony = run_intake_to_the_end(appliance)
    papers, presented = appliance.root / "papers", appliance.root / "presented"
    presented.mkdir()
    (presented / "scan-1.png").write_bytes(
        encoded(page_images((papers / "sheet-shard-1.pdf").read_bytes(), 200)[0])
    )
    (presented / "typed-3.txt").write_text(typed_copy((papers / "sheet-shard-3.pdf").read_bytes()))
    out = appliance.root / "restored"
    result = custody(
        "restore", "--home", str(appliance.home), "--answers", str(appliance.answers),
        "--of", ceremony, "--packets", str(presented), "--keyrings", str(appliance.keyrings),
        "--db", str(SAMPLE / "spike.db"), "--to", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("spike.recovery.1.txt", "spike.recovery.3.txt"):
        assert (out / name).read_bytes() == (SAMPLE / "recover" / name).read_bytes()
    shards = {p["file"]: p["shard"] for ev, _, p in entries(appliance) if ev == "restore.shard"}
    assert shards == {"scan-1.png": 1, "typed-3.txt": 3}


def typed_copy(pdf: bytes) -> str:
    """What a custodian types from their sheet: its numbered lines, as printed."""
    import re

    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if re.fullmatch(r"[0-9]{3}: [0-9A-Z ]+", line)) + "\n"
