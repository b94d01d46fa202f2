"""`custody paper …` end to end through the installed command, on real sealed packets.

One custodian key made with GnuPG seals the packets of shards 2 and 3 of a vector set; the
sheets are rendered by the command under test. Every read-back path must give the packet's
bytes exactly: a PDF, a 150 dpi PNG, the text typed from a file, from a pipe and on a
terminal. Bad inputs (bad-inputs F01-F11) end with a named error, exit 1 or 3, and no
traceback; printing is tried through `--to` always and through a private CUPS where the
machine allows it (tests/paper/test_printing.py says when it does not).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
import segno
import zxingcpp
from PIL import Image

from custody.custodians import import_custodian_key, open_gpg
from custody.formats.commitments import parse_commitments
from custody.formats.packet import PacketContent, encode_packet, seal_packet
from custody.formats.qr import QrBinding, encode_chunks
from custody.log.keys import Signer, generate_signer
from custody.paper.render import render_summary_sheet
from tests.conftest import CUSTODY, VECTORS, run_custody, run_custody_many
from tests.custodians import gpgkeys
from tests.paper.helpers import CREATED, encoded, page_images, summary_context
from tests.paper.test_printing import PrivateCups, started_cups
from tests.paper.test_scan import _blank_centre, _png_claiming

SET = VECTORS / "sets" / "main-t3-n5-random-1"
CEREMONY = "2026-12-01-intake"
NAME = "Ada Lovelace"


@dataclass(frozen=True)
class ApplianceSigner:
    """The appliance's log key in the shape a packet needs (a public key and `sign`)."""

    signer: Signer

    @property
    def public_key(self) -> bytes:
        return self.signer.verifier.public_key

    def sign(self, message: bytes) -> bytes:
        return self.signer.sign(message)


@dataclass(frozen=True)
class World:
    folder: Path
    commitments: Path
    fingerprint: str
    armored: dict[int, Path]
    binary: dict[int, bytes]
    sheets: dict[int, Path]
    rendered: tuple[tuple[int, str, str], tuple[int, str, str]]
    """The transcripts of rendering shard 3's sheet (armored packet) and shard 2's (binary,
    --json)."""

    def text(self, shard: int) -> list[str]:
        return typable_lines(self.sheets[shard].read_bytes())

    def sha256(self, shard: int) -> str:
        return hashlib.sha256(self.binary[shard]).hexdigest()


def typable_lines(pdf: bytes) -> list[str]:
    """The typable lines of a sheet, as a person reads them off the page."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if re.fullmatch(r"[0-9]{3}: [0-9A-Z ]+", line)]


def _seal(folder: Path, commitments: bytes) -> tuple[str, dict[int, Path], dict[int, bytes]]:
    digest = "sha256:" + hashlib.sha256(commitments).hexdigest()
    root_key = parse_commitments(commitments, source="commitments").fingerprint.hex
    signer = ApplianceSigner(generate_signer(bytes(range(32))))
    keys = gpgkeys.make_root()
    try:
        ada = gpgkeys.generate(keys, f"{NAME} <ada@example.org>")
        gpgkeys.kill_agents(keys)
        armored, binary = {}, {}
        with open_gpg(gpgkeys.new_home(keys)) as gpg:
            key = import_custodian_key(gpg, ada.public, ada.fingerprint)
            for shard in (2, 3):
                line = (SET / f"spike.recovery.{shard}.txt").read_text().strip()
                content = PacketContent(
                    CEREMONY, ada.fingerprint, shard, 3, 5, root_key, digest, line
                )
                packet = seal_packet(gpg, key, content, signer)
                armored[shard] = folder / f"shard{shard}.packet.asc"
                armored[shard].write_bytes(encode_packet(packet, armor=True))
                binary[shard] = encode_packet(packet, armor=False)
    finally:
        assert gpgkeys.cleanup(keys) == []
    return ada.fingerprint, armored, binary


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("paper")
    commitments = folder / "commitments.json"
    code, _, err = run_custody("shards", "commit", SET, "--threshold", "3", "--out", commitments)
    assert code == 0, err
    fingerprint, armored, binary = _seal(folder, commitments.read_bytes())
    sheets = {shard: folder / f"sheet{shard}.pdf" for shard in (2, 3)}
    (folder / "shard2.packet").write_bytes(binary[2])
    common = ["--commitments", commitments, "--custodian-name", NAME, "--date", "2026-12-01"]
    three, two = run_custody_many(
        [
            ["paper", "render", armored[3], "--out", sheets[3], *common],
            ["paper", "render", folder / "shard2.packet", "--out", sheets[2], *common, "--json"],
        ]
    )
    assert three[0] == two[0] == 0, (three, two)
    return World(folder, commitments, fingerprint, armored, binary, sheets, (three, two))


def run_with_input(*args: str | Path, stdin: bytes) -> tuple[int, str, str]:
    result = subprocess.run(
        [str(CUSTODY), *map(str, args)], input=stdin, capture_output=True, timeout=30, check=False
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def assert_refused(result: tuple[int, str, str], code: int, *phrases: str) -> None:
    """Exit `code`, an error on stderr naming every phrase, nothing on stdout, no traceback."""
    exit_code, out, err = result
    assert exit_code == code, err
    assert out == "" and "Traceback" not in err
    assert err.startswith("custody: error: "), err
    for phrase in phrases:
        assert phrase in err, err


# --- render -----------------------------------------------------------------------------


def test_render_writes_a_sheet_that_passed_its_self_test(world: World) -> None:
    (code, out, err), (code_json, out_json, err_json) = world.rendered
    assert (code, err, code_json, err_json) == (0, "", 0, "")
    assert out.splitlines() == [
        f"rendered {world.sheets[3]}: the custodian sheet of shard 3 of 5 (threshold 3), "
        f"ceremony {CEREMONY}",
        "self-test passed: its QR codes and its typable text both read back to the packet",
        f"sheet sha256: {hashlib.sha256(world.sheets[3].read_bytes()).hexdigest()}",
    ]
    assert len(world.text(3)) == 38  # the 913-byte packet: 37 data lines and the end line
    sheet = world.sheets[2].read_bytes()
    assert json.loads(out_json) == {
        "out": str(world.sheets[2]),
        "sha256": hashlib.sha256(sheet).hexdigest(),
        "bytes": len(sheet),
        "packet_sha256": world.sha256(2),
        "ceremony": CEREMONY,
        "shard": 2,
        "custodian": world.fingerprint,
        "self_test": "passed",
    }


def test_render_refuses_inputs_that_do_not_belong_together(world: World, tmp_path: Path) -> None:
    two = tmp_path / "two"
    two.mkdir()
    for shard in (1, 2):
        (two / f"spike.recovery.{shard}.txt").write_bytes(
            (SET / f"spike.recovery.{shard}.txt").read_bytes()
        )
    code, _, err = run_custody("shards", "commit", two, "--threshold", "2", "--out", two / "c")
    assert code == 0, err
    tampered = tmp_path / "tampered.packet"
    tampered.write_bytes(world.binary[3][:-1] + bytes([world.binary[3][-1] ^ 1]))
    base = ["paper", "render", world.armored[3], "--out", tmp_path / "x.pdf"]
    results = run_custody_many(
        [
            [*base, "--commitments", two / "c", "--custodian-name", NAME],
            [*base, "--commitments", world.commitments, "--custodian-name", "  "],
            [*base, "--commitments", world.armored[3], "--custodian-name", NAME],
            [*base, "--commitments", world.commitments, "--custodian-name", NAME,
             "--date", "2026-13-01"],
            ["paper", "render", tampered, "--out", tmp_path / "x.pdf",
             "--commitments", world.commitments, "--custodian-name", NAME],
        ]
    )  # fmt: skip
    assert_refused(results[0], 1, "holds shard 3, which is not one of the shards of", "ids 1, 2")
    assert_refused(results[1], 3, "A custodian name is 1 to 200 characters")
    assert_refused(results[2], 3, "is not valid JSON")
    assert results[3][0] == 2 and "is not a date such as 2026-12-01" in results[3][2]
    assert_refused(results[4], 1, "the packet's message is not the one its header signs")
    assert not (tmp_path / "x.pdf").exists()


# --- scan -------------------------------------------------------------------------------


def test_scan_from_the_pdf_and_from_150_dpi_images_gives_the_packet(
    world: World, tmp_path: Path
) -> None:
    images = []
    for number, page in enumerate(page_images(world.sheets[3].read_bytes(), 150), 1):
        images.append(tmp_path / f"page{number}.png")
        images[-1].write_bytes(encoded(page))
    results = run_custody_many(
        [
            ["paper", "scan", world.sheets[3], "--out", tmp_path / "from-pdf"],
            ["paper", "scan", *reversed(images), "--out", tmp_path / "from-png"],
            ["paper", "scan", images[0], "--armor", "--json", "--out", tmp_path / "p.asc"],
        ]
    )
    assert [code for code, _, _ in results] == [0, 0, 0], results
    assert (tmp_path / "from-pdf").read_bytes() == world.binary[3]
    assert (tmp_path / "from-png").read_bytes() == world.binary[3]
    assert (tmp_path / "p.asc").read_bytes() == world.armored[3].read_bytes()
    assert results[0][1].splitlines() == [
        f"wrote {tmp_path / 'from-pdf'}: the packet of shard 3 of ceremony {CEREMONY} "
        f"(binary form, {len(world.binary[3])} bytes)",
        f"custodian key: {world.fingerprint}",
        f"packet sha256: {world.sha256(3)} (as printed on the sheet)",
    ]
    document = json.loads(results[2][1])
    assert (document["form"], document["shard"], document["codes"]) == ("armor", 3, 5)
    assert document["packet_sha256"] == world.sha256(3)


def _box_of(image: Image.Image, index: int) -> tuple[int, int, int, int]:
    """Where on `image` the custody code with chunk index `index` is."""
    for code in zxingcpp.read_barcodes(image):
        if bytes(code.bytes)[19] == index:
            p = code.position
            xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
            ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
            return min(xs), min(ys), max(xs), max(ys)
    raise AssertionError(f"no code with index {index}")


def _qr_png(content: bytes | str) -> bytes:
    buffer = io.BytesIO()
    segno.make(content, error="q").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def test_scan_names_what_is_wrong_with_the_codes(world: World, tmp_path: Path) -> None:
    page, *_ = page_images(world.sheets[3].read_bytes(), 150)
    missing = tmp_path / "missing.png"
    missing.write_bytes(encoded(_blank_centre(page, _box_of(page, 1), 1.2)))
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(encoded(_blank_centre(page, _box_of(page, 3), 0.36)))
    out = tmp_path / "never"
    results = run_custody_many(
        [
            ["paper", "scan", missing, "--out", out],
            ["paper", "scan", damaged, "--out", out],
            ["paper", "scan", world.sheets[3], missing, "--out", out],
            ["paper", "scan", world.sheets[3], world.sheets[2], "--out", out],
            # F06 / F09: the sheet of shard 2 where shard 3's is expected.
            ["paper", "scan", world.sheets[2], "--ceremony", CEREMONY, "--shard", "3",
             "--out", out],
            ["paper", "scan", world.sheets[2], "--sha256", world.sha256(3), "--out", out],
        ]
    )  # fmt: skip
    assert_refused(results[0], 3, "QR 2 of 5 could not be read (found 1, 3, 4, 5)")
    assert_refused(results[1], 3, "QR 4 of 5 could not be read", "seen but could not be decoded")
    assert_refused(results[2], 3, "was found twice", str(world.sheets[3]), str(missing))
    assert_refused(results[3], 3, "QR codes of 2 different sets were found")
    assert_refused(
        results[4], 1, f"{world.sheets[2]} page 1: a QR code from another ceremony or shard",
        f"not shard 3 of ceremony {CEREMONY}",
    )  # fmt: skip
    assert_refused(results[5], 1, "this is not the packet with the SHA-256 given")
    assert not out.exists()


def test_scan_refuses_bad_inputs_clearly(world: World, tmp_path: Path) -> None:
    files = {
        "text.pdf": b"custody-packet-header: 1\nnot really\n",
        "truncated.pdf": world.sheets[3].read_bytes()[:2000],
        "huge.png": _png_claiming(100_000, 100_000),
        "plain-qr.png": _qr_png("https://example.org/not-custody"),
        "not-a-packet.png": _qr_png(encode_chunks(b"hello", QrBinding(CEREMONY, 3))[0]),
        "empty.png": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with (tmp_path / "large.png").open("wb") as large:
        large.truncate(65 * 1024 * 1024)  # sparse: refused on its size, before any read
    names = [*files, "large.png", "absent.png"]
    results = run_custody_many(
        ["paper", "scan", tmp_path / name, "--out", tmp_path / "out"] for name in names
    )
    outcome = dict(zip(names, results, strict=True))
    assert_refused(outcome["text.pdf"], 3, "text.pdf: not a readable PNG or JPEG image")
    assert_refused(outcome["truncated.pdf"], 3, "truncated.pdf: not a readable PDF")
    assert_refused(outcome["huge.png"], 3, "huge.png", "pixels than custody reads")
    assert_refused(outcome["plain-qr.png"], 3, "no custody QR code was found (1 other code(s))")
    assert_refused(outcome["not-a-packet.png"], 3, "reads back, but not to a custody packet")
    assert_refused(outcome["empty.png"], 3, "empty.png: not a readable PNG or JPEG image")
    assert_refused(outcome["large.png"], 3, "more than the 67108864 allowed")
    assert_refused(outcome["absent.png"], 3, "absent.png: cannot open it")
    assert not (tmp_path / "out").exists()


# --- type -------------------------------------------------------------------------------


def test_type_from_a_file_and_from_a_pipe_gives_the_packet(world: World, tmp_path: Path) -> None:
    typed = tmp_path / "typed.txt"
    typed.write_text("\n".join(world.text(3)) + "\n")
    code, out, err = run_custody("paper", "type", "--from", typed, "--out", tmp_path / "a")
    assert (code, err) == (0, ""), err
    assert (tmp_path / "a").read_bytes() == world.binary[3]
    assert out.startswith(f"wrote {tmp_path / 'a'}: the packet of shard 3 of ceremony {CEREMONY}")
    # Lower case, no spaces and Windows line ends are read the same; the label stays.
    sloppy = "\r\n".join(line.replace(" ", "").lower() for line in world.text(3))
    code, _, err = run_with_input(
        "paper", "type", "--armor", "--out", tmp_path / "b.asc", stdin=sloppy.encode()
    )
    assert code == 0, err
    assert (tmp_path / "b.asc").read_bytes() == world.armored[3].read_bytes()


def _altered(lines: list[str], number: int, change: str) -> list[str]:
    altered = list(lines)
    label, body = altered[number - 1].split(": ", 1)
    if change == "substitute":
        body = ("0" if body[0] != "0" else "1") + body[1:]
    elif change == "transpose":
        swap = next(
            i for i in range(len(body) - 1) if " " not in body[i : i + 2] and body[i] != body[i + 1]
        )
        body = body[:swap] + body[swap + 1] + body[swap] + body[swap + 2 :]
    elif change == "delete":
        body = body[:10] + body[11:]
    altered[number - 1] = f"{label}: {body}"
    return altered


def test_type_names_every_line_that_fails_and_writes_nothing(world: World, tmp_path: Path) -> None:
    lines = world.text(3)
    again = "with the sheet, character by character, and type it again"
    cases = {
        "substituted": (_altered(lines, 7, "substitute"), ["line 007 does not check", again]),
        "transposed": (_altered(lines, 12, "transpose"), ["line 012 does not check", again]),
        "deleted": (_altered(lines, 4, "delete"), ["line 004 has 45 characters", again]),
        "missing": ([*lines[:8], *lines[9:]], ["line 009 is missing", again]),
        "out-of-order": (
            [*lines[:2], lines[3], lines[2], *lines[4:]],
            ["line 003 comes after line 004", again],
        ),
        "several": (
            _altered(_altered(lines, 2, "substitute"), 30, "transpose"),
            ["line 002 does not check", "line 030 does not check", "2 line(s) to check"],
        ),
        "other-sheet-line": (
            [*lines[:5], world.text(2)[5], *lines[6:]],
            ["every line checks, but together they do not match", "from two different sheets"],
        ),
    }
    for name, (text, _) in cases.items():
        (tmp_path / name).write_text("\n".join(text) + "\n")
    results = run_custody_many(
        ["paper", "type", "--from", tmp_path / name, "--out", tmp_path / "out"] for name in cases
    )
    for (_, phrases), result in zip(cases.values(), results, strict=True):
        assert_refused(result, 3, *phrases)
    assert not (tmp_path / "out").exists()


def test_type_refuses_the_text_of_another_shard_f06(world: World, tmp_path: Path) -> None:
    (tmp_path / "t2").write_text("\n".join(world.text(2)) + "\n")
    results = run_custody_many(
        [
            ["paper", "type", "--from", tmp_path / "t2", "--sha256", world.sha256(3),
             "--out", tmp_path / "out"],
            ["paper", "type", "--from", tmp_path / "t2", "--ceremony", CEREMONY, "--shard", "3",
             "--out", tmp_path / "out"],
            ["paper", "type", "--from", tmp_path / "t2", "--shard", "3", "--out", tmp_path / "o"],
        ]
    )  # fmt: skip
    assert_refused(results[0], 1, "this is not the packet with the SHA-256 given")
    assert_refused(
        results[1], 1, f"this is the packet of shard 2 of ceremony {CEREMONY}",
        f"not the packet of shard 3 of ceremony {CEREMONY}",
    )  # fmt: skip
    assert_refused(results[2], 3, "give both or neither")
    assert not (tmp_path / "out").exists()


def _read_until(master: int, pattern: bytes, deadline: float) -> bytes:
    seen = b""
    while not re.search(pattern, seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {pattern!r} in {seen[-300:]!r}"
        ready, _, _ = select.select([master], [], [], remaining)
        if ready:
            seen += os.read(master, 4096)
    return seen


def test_type_on_a_terminal_asks_again_for_a_line_that_fails(world: World, tmp_path: Path) -> None:
    lines = world.text(3)
    typed = [lines[0], _altered(lines, 2, "transpose")[1], lines[1].split(": ", 1)[1], *lines[2:]]
    master, terminal = os.openpty()
    process = subprocess.Popen(
        [str(CUSTODY), "paper", "type", "--out", str(tmp_path / "p")],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    transcript = b""
    deadline = time.monotonic() + 30
    try:
        for line in typed:
            transcript += _read_until(master, rb"line [0-9]{3}: $", deadline)
            os.write(master, line.encode() + b"\n")
        transcript += _read_until(master, rb"match the end line\.", deadline)
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
        os.close(master)
    text = transcript.decode().replace("\r\n", "\n")
    assert process.returncode == 0, text
    assert (tmp_path / "p").read_bytes() == world.binary[3]
    assert "custody: error: line 002 does not check" in text
    assert text.count("line 002: ") == 2 and text.count("line 003: ") == 1
    assert f"all {len(lines)} lines check" in text
    assert out.decode().startswith(f"wrote {tmp_path / 'p'}")


def test_type_on_a_terminal_that_stops_early_writes_nothing(tmp_path: Path) -> None:
    master, terminal = os.openpty()
    process = subprocess.Popen(
        [str(CUSTODY), "paper", "type", "--out", str(tmp_path / "p")],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    os.write(master, b"\x04")  # Ctrl-D at the first prompt: end of input
    _, err = process.communicate(timeout=30)
    os.close(master)
    assert process.returncode == 3
    assert "Typing stopped before the end line (at line 001); nothing was written." in err.decode()
    assert not (tmp_path / "p").exists()


# --- print ------------------------------------------------------------------------------


@pytest.fixture
def no_default_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CUSTODY_HOME and an XDG data folder without a custody home in it."""
    monkeypatch.delenv("CUSTODY_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "custody"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    from custody.appliance import init_home

    return init_home(tmp_path / "home").home


def log_entries(home: Path) -> list[dict[str, Any]]:
    code, out, err = run_custody("log", "show", "--home", home, "--json")
    assert code == 0, err
    entries: list[dict[str, Any]] = json.loads(out)["entries"]
    return entries[1:]  # after log.init


def test_print_to_a_folder_is_logged_when_there_is_a_home(
    world: World, tmp_path: Path, home: Path, no_default_home: Path
) -> None:
    (tmp_path / "stick").mkdir()
    (tmp_path / "other").mkdir()
    code, out, err = run_custody(
        "paper", "print", world.sheets[3], "--to", tmp_path / "stick", "--home", home, "--json"
    )
    assert (code, err) == (0, ""), err
    written = tmp_path / "stick" / "sheet3.pdf"
    assert written.read_bytes() == world.sheets[3].read_bytes()
    pdf_sha256 = hashlib.sha256(written.read_bytes()).hexdigest()
    document = json.loads(out)
    assert (document["effect"], document["logged"], document["file"]) == (
        "paper.write", True, str(written),
    )  # fmt: skip
    begin, complete = log_entries(home)
    assert (begin["event"], begin["ceremony"]) == ("intent.begin", CEREMONY)
    assert begin["payload"] == {
        "effect": "paper.write",
        "detail": {
            "pdf_sha256": pdf_sha256, "packet_sha256": world.sha256(3), "ceremony": CEREMONY,
            "shard": 3, "folder": str(tmp_path / "stick"), "name": "sheet3.pdf",
        },
    }  # fmt: skip
    assert complete["event"] == "intent.complete"
    assert complete["payload"]["result"] == {"file": str(written)}
    # Without a home the sheet is still written, and stderr says it is not logged.
    code, out, err = run_custody("paper", "print", world.sheets[3], "--to", tmp_path / "other")
    other = tmp_path / "other" / "sheet3.pdf"
    assert (code, out) == (0, f"wrote {other} (checked sheet, sha256 {pdf_sha256})\n")
    assert err == (
        f"custody: warning: there is no appliance home at {no_default_home}: "
        "this is not recorded in a custody log.\n"
    )


def test_a_write_that_fails_is_abandoned_in_the_log(
    world: World, tmp_path: Path, home: Path
) -> None:
    (tmp_path / "stick").mkdir()
    (tmp_path / "stick" / "sheet3.pdf").write_bytes(b"already here")
    result = run_custody(
        "paper", "print", world.sheets[3], "--to", tmp_path / "stick", "--home", home
    )
    assert_refused(result, 3, "already exists; custody does not overwrite files on media")
    begin, abandon = log_entries(home)
    assert (begin["event"], abandon["event"]) == ("intent.begin", "intent.abandon")
    assert (tmp_path / "stick" / "sheet3.pdf").read_bytes() == b"already here"


def test_print_refuses_a_pdf_custody_did_not_render_or_whose_copies_disagree(
    world: World, tmp_path: Path, home: Path
) -> None:
    from custody.formats.papertext import encode_paper_lines
    from custody.paper.render import _compose_custodian_sheet
    from custody.paper.sheets import CustodianSheetContext

    context = CustodianSheetContext(
        CEREMONY, 3, NAME, world.fingerprint, 3, 5,
        parse_commitments(world.commitments.read_bytes(), source="c").fingerprint.short,
    )  # fmt: skip
    forged = _compose_custodian_sheet(
        context,
        world.binary[3],
        qr_contents=encode_chunks(world.binary[3], context.binding),
        text_lines=encode_paper_lines(world.binary[2]),
        created=CREATED,
    )
    blank = pypdfium2.PdfDocument.new()
    blank.new_page(595, 842)
    blank.save(str(tmp_path / "blank.pdf"))
    blank.close()
    files = {
        "forged.pdf": forged,
        "summary.pdf": render_summary_sheet(summary_context(), created=CREATED),
        "sheet.png": encoded(page_images(world.sheets[3].read_bytes(), 150)[0]),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    names = [*files, "blank.pdf"]
    results = run_custody_many(
        ["paper", "print", tmp_path / name, "--to", tmp_path, "--home", home] for name in names
    )
    outcome = dict(zip(names, results, strict=True))
    assert_refused(
        outcome["forged.pdf"], 1, "its typable text is another packet than its QR codes",
        "It was not printed.",
    )  # fmt: skip
    assert_refused(outcome["summary.pdf"], 3, "is a ceremony summary sheet")
    assert_refused(outcome["sheet.png"], 3, "is not a custodian sheet custody rendered")
    assert_refused(outcome["blank.pdf"], 3, "its metadata is not that of a custody sheet")
    assert log_entries(home) == []  # refused before anything was announced


@pytest.fixture(scope="module")
def cups_server() -> Iterator[PrivateCups]:
    yield from started_cups()


def test_print_through_cups_is_logged_and_the_page_scans_back(
    world: World, tmp_path: Path, home: Path, cups_server: PrivateCups,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CUPS_SERVER", cups_server.server)
    before = set(cups_server.out.glob("*.pdf"))
    code, out, err = run_custody(
        "paper", "print", world.sheets[3], "--printer", cups_server.queue, "--home", home
    )
    assert (code, err) == (0, ""), err
    job = re.fullmatch(
        rf"printed {re.escape(str(world.sheets[3]))} on custody-pdf \(job (custody-pdf-\d+)\)\n",
        out,
    )
    assert job is not None, out
    [printed] = cups_server.printed(before)
    code, _, err = run_custody("paper", "scan", printed, "--out", tmp_path / "scanned")
    assert code == 0, err
    assert (tmp_path / "scanned").read_bytes() == world.binary[3]
    begin, complete = log_entries(home)
    assert begin["payload"]["detail"]["printer"] == "custody-pdf"
    assert complete["payload"]["result"] == {"job": job.group(1)}
    assert cups_server.spooled() == []
    # A printer that is not there is refused before anything is announced in the log.
    result = run_custody("paper", "print", world.sheets[3], "--printer", "nowhere", "--home", home)
    assert_refused(result, 4, "nowhere")
    assert len(log_entries(home)) == 2
