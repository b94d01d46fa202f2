"""`custody paper …`: render, scan, type back and print custodian sheets.

`render` calls the same self-testing renderer the ceremonies call, so a sheet that does not
read back is never written. `scan` and `type` read a packet back from paper and write it
byte for byte; they name a line or a QR code that fails and never correct one. `print`
checks a PDF again before it reaches CUPS (or a folder, with `--to`) and records both
effects in the custody log when there is an appliance home.
"""

from __future__ import annotations

import argparse
import sys

from custody.cli._common import common_options, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, report_error, warn
from custody.errors import BadInputError

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import date
    from pathlib import Path
    from typing import Any

    from custody.formats.packet import Packet
    from custody.log import CustodyLog
    from custody.paper.readback import CheckedSheet, Expectation
    from custody.paper.sheets import CustodianSheetContext

COMMANDS = {"paper": "render, scan, type back and print custodian sheets"}
_MAX_TYPED_BYTES = 128 * 1024


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("paper", help=COMMANDS["paper"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [common_options()]
    _register_render(verbs.add_parser("render", parents=common, help="render a custodian sheet"))
    _register_scan(verbs.add_parser("scan", parents=common, help="read a packet from QR codes"))
    _register_type(verbs.add_parser("type", parents=common, help="type a sheet's text back"))
    _register_print(verbs.add_parser("print", parents=common, help="print a checked sheet"))


def _register_render(render: argparse.ArgumentParser) -> None:
    render.add_argument("packet", type=path_argument, metavar="PACKET", help="a sealed packet")
    render.add_argument("--out", type=path_argument, required=True, metavar="FILE.pdf")
    render.add_argument(
        "--commitments",
        type=path_argument,
        required=True,
        metavar="FILE",
        help="the set's commitments: threshold, shard count, root-key fingerprint",
    )
    render.add_argument("--custodian-name", required=True, metavar="NAME")
    render.add_argument(
        "--date", type=_day, metavar="YYYY-MM-DD", help="the date printed (default: today)"
    )
    json_option(render)
    render.set_defaults(handler=run_render)


def _register_scan(scan: argparse.ArgumentParser) -> None:
    scan.add_argument(
        "inputs", nargs="+", type=path_argument, metavar="IMAGE|PDF", help="PDF, PNG or JPEG"
    )
    _read_back_options(scan)
    scan.set_defaults(handler=run_scan)


def _register_type(typed: argparse.ArgumentParser) -> None:
    typed.add_argument(
        "--from",
        dest="from_file",
        type=path_argument,
        metavar="FILE",
        help="read the whole text from FILE (else stdin; prompts line by line on a terminal)",
    )
    _read_back_options(typed)
    typed.set_defaults(handler=run_type)


def _read_back_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=path_argument, required=True, metavar="FILE")
    form = parser.add_mutually_exclusive_group()
    form.add_argument(
        "--binary", action="store_false", dest="armor", help="the binary form (default)"
    )
    form.add_argument("--armor", action="store_true", help="the armored file form")
    parser.set_defaults(armor=False)
    parser.add_argument("--ceremony", metavar="ID", help="refuse a sheet of another ceremony")
    parser.add_argument(
        "--shard", type=_shard_id, metavar="N", help="refuse a sheet of another shard"
    )
    parser.add_argument(
        "--sha256", type=_sha256, metavar="HEX", help="the packet's SHA-256 as logged"
    )
    json_option(parser)


def _register_print(printing: argparse.ArgumentParser) -> None:
    printing.add_argument("pdf", type=path_argument, metavar="FILE.pdf")
    where = printing.add_mutually_exclusive_group(required=True)
    where.add_argument("--printer", metavar="NAME", help="the CUPS queue")
    where.add_argument(
        "--to", type=path_argument, metavar="DIR", help="write the PDF to a folder instead"
    )
    printing.add_argument(
        "--timeout",
        type=_seconds,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the printer (default 120)",
    )
    json_option(printing)
    printing.set_defaults(handler=run_print)


def _day(text: str) -> date:
    import re
    from datetime import date

    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text, re.ASCII):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-12-01")


def _shard_id(text: str) -> int:
    import re

    # int() would also take "+3", " 3" or "0_3"; a shard id is written one way only.
    if not re.fullmatch(r"[1-9][0-9]{0,3}", text, re.ASCII):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard id such as 3")
    return int(text)


def _sha256(text: str) -> bytes:
    import re

    if not re.fullmatch(r"(sha256:)?[0-9a-f]{64}", text, re.ASCII):
        raise argparse.ArgumentTypeError("a SHA-256 is 64 lower-case hex digits")
    return bytes.fromhex(text.removeprefix("sha256:"))


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError("the timeout is 0 to 3600 seconds")
    return seconds


def _read_input(path: Path, max_bytes: int) -> bytes:
    """A file that may come from media: no links followed, size checked before reading."""
    from custody.media.safe_read import open_folder, read_file, shown

    where = shown(str(path.parent)).rstrip("/")  # read_file names the file "<where>/<name>"
    with open_folder(path.parent) as folder:
        return read_file(folder, path.name, where, max_bytes=max_bytes).data


# --- render ----------------------------------------------------------------------------


def run_render(args: argparse.Namespace) -> int:
    import hashlib
    from datetime import date

    from custody.atomicfile import write_file_atomic
    from custody.formats.packet import encode_packet
    from custody.paper.selftest import render_and_verify_custodian_sheet

    packet = _load_sealed_packet(args.packet)
    binary = encode_packet(packet, armor=False)
    context = _sheet_context(args, packet)
    pdf = render_and_verify_custodian_sheet(context, binary, created=args.date or date.today())
    write_file_atomic(args.out, pdf)
    document = {
        "out": str(args.out),
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "bytes": len(pdf),
        "packet_sha256": hashlib.sha256(binary).hexdigest(),
        **_header_document(packet),
        "self_test": "passed",
    }
    if args.json:
        emit_json(document)
    else:
        emit_lines(
            f"rendered {args.out}: the custodian sheet of shard {context.shard_id} of "
            f"{context.shard_count} (threshold {context.threshold}), "
            f"ceremony {context.ceremony_id}",
            "self-test passed: its QR codes and its typable text both read back to the packet",
            f"sheet sha256: {document['sha256']}",
        )
    return 0


def _load_sealed_packet(path: Path) -> Packet:
    import hashlib

    from custody.errors import PacketMismatchError
    from custody.formats.packet import MAX_PACKET_BYTES, parse_packet

    packet = parse_packet(_read_input(path, MAX_PACKET_BYTES))
    if hashlib.sha256(packet.message).digest() != packet.header.message_digest:
        raise PacketMismatchError(
            f"{path}: the packet's message is not the one its header signs.",
            kind="message-digest-mismatch",
            hint="Do not print this packet; use the custodian's original packet file.",
        )
    return packet


def _sheet_context(args: argparse.Namespace, packet: Packet) -> CustodianSheetContext:
    from custody.errors import PacketMismatchError
    from custody.formats.commitments import MAX_DOCUMENT_BYTES, parse_commitments
    from custody.paper.sheets import MAX_NAME_CHARS, CustodianSheetContext

    commitments = parse_commitments(
        _read_input(args.commitments, MAX_DOCUMENT_BYTES), source=str(args.commitments)
    )
    header = packet.header
    if header.shard_id not in commitments.ids:
        raise PacketMismatchError(
            f"{args.packet} holds shard {header.shard_id}, which is not one of the shards of "
            f"{args.commitments} (ids {', '.join(map(str, commitments.ids))}).",
            kind="shard-not-in-set",
            hint="Give the commitments of the set this packet was sealed from.",
        )
    name = args.custodian_name
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        raise BadInputError(
            f"A custodian name is 1 to {MAX_NAME_CHARS} characters.", kind="bad-custodian-name"
        )
    return CustodianSheetContext(
        ceremony_id=header.ceremony,
        shard_id=header.shard_id,
        custodian_name=name,
        custodian_fingerprint=header.custodian,
        threshold=commitments.threshold,
        shard_count=len(commitments.ids),
        root_fingerprint_short=commitments.fingerprint.short,
    )


def _header_document(packet: Packet) -> dict[str, Any]:
    header = packet.header
    return {"ceremony": header.ceremony, "shard": header.shard_id, "custodian": header.custodian}


# --- scan and type: reading a packet back ----------------------------------------------


def _expectation(args: argparse.Namespace) -> Expectation:
    from custody.paper.readback import Expectation

    return Expectation(ceremony=args.ceremony, shard_id=args.shard, sha256=args.sha256)


def run_scan(args: argparse.Namespace) -> int:
    from custody.paper.readback import packet_from_scans
    from custody.paper.scan import MAX_INPUT_BYTES, read_document

    expectation = _expectation(args)
    pages = [
        page
        for path in args.inputs
        for page in read_document(_read_input(path, MAX_INPUT_BYTES), source=str(path))
    ]
    payload, packet = packet_from_scans(pages, expectation)
    codes = sum(len(page.codes) for page in pages)
    return _write_read_back(args, payload, packet, {"codes": codes, "pages": len(pages)})


def _write_read_back(
    args: argparse.Namespace, payload: bytes, packet: Packet, extra: Mapping[str, int]
) -> int:
    import hashlib

    from custody.atomicfile import write_file_atomic
    from custody.formats.packet import encode_packet

    # The binary form is written exactly as read; the armored one is the same packet re-encoded.
    data = encode_packet(packet, armor=True) if args.armor else payload
    write_file_atomic(args.out, data, mode=0o644)
    document = {
        "out": str(args.out),
        "form": "armor" if args.armor else "binary",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "packet_sha256": hashlib.sha256(payload).hexdigest(),
        **_header_document(packet),
        **extra,
    }
    if args.json:
        emit_json(document)
    else:
        emit_lines(
            f"wrote {args.out}: the packet of shard {packet.header.shard_id} of ceremony "
            f"{packet.header.ceremony} ({document['form']} form, {len(data)} bytes)",
            f"custodian key: {packet.header.custodian}",
            f"packet sha256: {document['packet_sha256']} (as printed on the sheet)",
        )
    return 0


def run_type(args: argparse.Namespace) -> int:
    expectation = _expectation(args)
    if args.from_file is not None:
        source = str(args.from_file)
        text: str | None = _read_input(args.from_file, _MAX_TYPED_BYTES).decode("utf-8", "replace")
    elif not sys.stdin.isatty():
        source = "standard input"
        text = _read_stdin(_MAX_TYPED_BYTES).decode("utf-8", "replace")
    else:
        source, text = "typed text", None
    if text is None:
        typed: tuple[bytes, Packet] | None = _type_interactively(expectation, source)
    else:
        typed = _whole_text(text, source, expectation, as_json=args.json)
    if typed is None:
        return 3
    payload, packet = typed
    return _write_read_back(args, payload, packet, {})


def _read_stdin(max_bytes: int) -> bytes:
    data = sys.stdin.buffer.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadInputError(
            f"standard input: more than {max_bytes} bytes; a sheet's text is far shorter.",
            kind="too-long",
        )
    return data


def _whole_text(
    text: str, source: str, expectation: Expectation, *, as_json: bool
) -> tuple[bytes, Packet] | None:
    """The packet of a whole text, or None after naming every line that fails its check."""
    from custody.paper.readback import find_line_problems, packet_from_text

    problems = find_line_problems(text, source=source)
    if not problems:
        return packet_from_text(text, expectation, source=source)
    if as_json:
        emit_json(
            {
                "written": False,
                "problems": [
                    {"line": p.line, "kind": p.kind, "message": p.message} for p in problems
                ],
            }
        )
    for problem in problems:
        print(f"custody: error: {problem.message}", file=sys.stderr)
    several = f"{len(problems)} line(s) to check against the sheet and type again."
    hint = (problems[0].hint if len(problems) == 1 else None) or several
    print(f"custody: hint: {hint} Nothing was written.", file=sys.stderr)
    return None


def _type_interactively(expectation: Expectation, source: str) -> tuple[bytes, Packet]:
    """Ask for line 1, 2, … until the end line; a line that fails is named and asked again."""
    from custody.paper.errors import PaperTextError
    from custody.paper.readback import TypingSession, packet_read_back

    session = TypingSession(expected=expectation.payload, source=source)
    _say(
        "Type the sheet's text one line at a time, check group included; the line number is "
        "optional, spaces and case do not matter. Each line is checked as you enter it."
    )
    while not session.is_complete:
        line = _ask(f"line {session.next_line:03d}: ")
        if line is None:
            raise BadInputError(
                f"Typing stopped before the end line (at line {session.next_line:03d}); "
                "nothing was written.",
                kind="typing-incomplete",
                hint="Run the command again and type every line, up to the last one.",
            )
        if not line.strip():
            continue
        try:
            session.enter(line)
        except PaperTextError as error:
            report_error(error)
    payload = session.payload()
    _say(f"all {session.next_line - 1} lines check, and together they match the end line.")
    return payload, packet_read_back(payload, expectation, source=source)


def _say(text: str) -> None:
    print(f"custody: {text}", file=sys.stderr)


def _ask(prompt: str) -> str | None:
    """One line typed on the terminal, without its line end; None at end of input."""
    # The prompt goes to stderr: stdout carries only what was asked for (--json).
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return None if not line else line.rstrip("\r\n")


# --- print -------------------------------------------------------------------------------


def run_print(args: argparse.Namespace) -> int:
    from custody.paper.readback import verify_printable_sheet
    from custody.paper.scan import MAX_INPUT_BYTES

    pdf = _read_input(args.pdf, MAX_INPUT_BYTES)
    sheet = verify_printable_sheet(pdf, source=str(args.pdf))
    if args.to is not None:
        effect, detail, act = _write_effect(args, sheet, pdf)
    else:
        effect, detail, act = _print_effect(args, pdf)
    result, logged = _logged(args, sheet, effect, detail, act)
    document = {
        "pdf": str(args.pdf),
        "sha256": sheet.pdf_sha256,
        "packet_sha256": sheet.packet_sha256,
        **_header_document(sheet.packet),
        "effect": effect,
        **detail,
        **result,
        "logged": logged,
    }
    if args.json:
        emit_json(document)
    elif args.to is not None:
        emit_lines(f"wrote {result['file']} (checked sheet, sha256 {sheet.pdf_sha256})")
    else:
        emit_lines(f"printed {args.pdf} on {args.printer} (job {result['job']})")
    return 0


def _print_effect(
    args: argparse.Namespace, pdf: bytes
) -> tuple[str, dict[str, Any], Callable[[], dict[str, Any]]]:
    from custody.paper.printing import print_pdf, verify_printer_ready

    # A printer that cannot take the job is refused before the intent is logged.
    verify_printer_ready(args.printer)

    def act() -> dict[str, Any]:
        job = print_pdf(pdf, args.printer, timeout=args.timeout)
        return {"job": job.job}

    return "paper.print", {"printer": args.printer}, act


def _write_effect(
    args: argparse.Namespace, sheet: CheckedSheet, pdf: bytes
) -> tuple[str, dict[str, Any], Callable[[], dict[str, Any]]]:
    from custody.media.verified_write import write_verified

    # The sheet keeps its file name unless write_verified would refuse it (hidden, not ASCII).
    name = args.pdf.name
    if not (name.isascii() and name.isprintable()) or name.startswith("."):
        header = sheet.packet.header
        name = f"custody-sheet-{header.ceremony}-shard-{header.shard_id}.pdf"

    folder = args.to.absolute()  # the log records where the sheet went, from any directory

    def act() -> dict[str, Any]:
        written = write_verified(folder, name, pdf, mode=0o644)
        return {"file": str(written.path)}

    return "paper.write", {"folder": str(folder), "name": name}, act


def _logged(
    args: argparse.Namespace,
    sheet: CheckedSheet,
    effect: str,
    detail: dict[str, Any],
    act: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Run `act` between an intent and its completion in the log, when there is a home."""
    from custody.errors import CustodyError
    from custody.paper.printing import PrintError

    log = _log_if_home(args)
    if log is None:
        return act(), False
    header = sheet.packet.header
    with log:
        intent = log.intent(
            effect,
            {
                "pdf_sha256": sheet.pdf_sha256,
                "packet_sha256": sheet.packet_sha256,
                "ceremony": header.ceremony,
                "shard": header.shard_id,
                **detail,
            },
            ceremony_id=_log_ceremony(header.ceremony),
        )
        try:
            result = act()
        except CustodyError as error:
            # Abandoned only when the effect surely did not happen; otherwise the intent
            # stays open, which the log reports as an effect of unknown outcome.
            if not isinstance(error, PrintError) or error.job is None or error.cancelled:
                log.abandon(intent, f"{error.kind}: {error.message}")
            raise
        log.complete(intent, result)
    return result, True


def _log_if_home(args: argparse.Namespace) -> CustodyLog | None:
    """The home's log; None, said on stderr, when no home was named and the default is absent."""
    import os

    from custody.appliance import HOME_ENV, load_appliance, resolve_home

    home = resolve_home(args.home)
    if args.home is None and not os.environ.get(HOME_ENV) and not home.exists():
        warn(f"there is no appliance home at {home}: this is not recorded in a custody log.")
        return None
    return load_appliance(home).open_log()


def _log_ceremony(ceremony: str) -> str | None:
    from custody.log.entry import CEREMONY_ID

    # Log ceremony ids are lower case; a packet's may not be, and then the detail carries it.
    return ceremony if CEREMONY_ID.fullmatch(ceremony) else None
