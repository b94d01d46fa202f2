"""`custody log …`: show, note, verify, checkpoint and export the custody log."""

from __future__ import annotations

import argparse
import sys

from custody.cli._common import common_options, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, report_error, warn
from custody.errors import BadInputError, LogIntegrityError

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from custody.appliance import Appliance
    from custody.log import Checkpoint, Entry, LogReport

COMMANDS = {"log": "show, note, verify, checkpoint and export the custody log"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("log", help=COMMANDS["log"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [common_options()]

    show = verbs.add_parser("show", parents=common, help="verify the log, then list its entries")
    show.add_argument("--ceremony", metavar="ID", help="only this ceremony's entries")
    json_option(show)
    show.set_defaults(handler=run_show)

    note = verbs.add_parser("note", parents=common, help="record an operator's observation")
    note.add_argument("text", metavar="TEXT", help="the observation, 1-4096 characters")
    note.add_argument("--ceremony", metavar="ID", help="the ceremony it belongs to")
    json_option(note)
    note.set_defaults(handler=run_note)

    verify = verbs.add_parser("verify", parents=common, help="check every entry and checkpoint")
    verify.add_argument(
        "--checkpoint",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="checkpoints the log must extend (- reads one typed on stdin)",
    )
    verify.add_argument(
        "--export", type=path_argument, metavar="DIR", help="verify an export, not the home"
    )
    json_option(verify)
    verify.set_defaults(handler=run_verify)

    checkpoint = verbs.add_parser("checkpoint", parents=common, help="sign the log's state")
    checkpoint.add_argument("--out", type=path_argument, metavar="FILE", help="write it here")
    json_option(checkpoint)
    checkpoint.set_defaults(handler=run_checkpoint)

    export = verbs.add_parser("export", parents=common, help="write the log for an auditor")
    export.add_argument("--out", type=path_argument, required=True, metavar="DIR")
    json_option(export)
    export.set_defaults(handler=run_export)


def _appliance(args: argparse.Namespace) -> Appliance:
    from custody.appliance import load_appliance, resolve_home

    return load_appliance(resolve_home(args.home))


def run_show(args: argparse.Namespace) -> int:
    from custody.log.entry import entry_document

    ceremony = _ceremony_id(args.ceremony)
    with _appliance(args).read_log() as reader:
        reader.verify()
        entries = list(reader.entries(ceremony_id=ceremony))
    if args.json:
        emit_json({"entries": [entry_document(e) for e in entries]})
    else:
        emit_lines(*_table(entries))
    return 0


def _table(entries: list[Entry]) -> list[str]:
    from custody.log.canonical import encode_canonical

    rows = [("SEQ", "TIME", "CEREMONY", "EVENT")]
    rows += [(str(e.seq), e.time, e.ceremony_id or "-", e.event) for e in entries]
    payloads = ["PAYLOAD"] + [encode_canonical(dict(e.payload)).decode() for e in entries]
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=True)), text])
        for row, text in zip(rows, payloads, strict=True)
    ]


def run_note(args: argparse.Namespace) -> int:
    from custody.log.entry import entry_document
    from custody.log.inputs import parse_note_text

    text = parse_note_text(args.text)
    ceremony = _ceremony_id(args.ceremony)
    with _appliance(args).open_log() as log:
        entry = log.append("log.note", {"text": text}, ceremony_id=ceremony)
    if args.json:
        emit_json(entry_document(entry))
    else:
        emit_lines(f"recorded entry {entry.seq} (log.note), hash {entry.hash.hex()}")
    return 0


def _ceremony_id(text: str | None) -> str | None:
    from custody.log.inputs import parse_ceremony_id

    return None if text is None else parse_ceremony_id(text)


def run_verify(args: argparse.Namespace) -> int:
    from custody.log import verify_export

    checkpoints = _checkpoints(args.checkpoint)
    try:
        if args.export is not None:
            report = verify_export(args.export, checkpoints=checkpoints)
        else:
            with _appliance(args).read_log() as reader:
                report = reader.verify(checkpoints)
    except LogIntegrityError as failure:
        if not args.json:
            raise
        report_error(failure)
        emit_json({"ok": False, "kind": failure.kind, "seq": failure.seq, "error": failure.message})
        return failure.exit_code
    _report(report, checkpoints, args)
    return 0


def _checkpoints(sources: list[str]) -> list[tuple[str, Checkpoint]]:
    from pathlib import Path

    from custody.log.checkpoint import (
        MAX_CHECKPOINT_BYTES,
        load_checkpoint,
        parse_typed_checkpoint,
    )

    if sources.count("-") > 1:
        raise BadInputError("Only one checkpoint can be typed on stdin.", kind="bad-arguments")
    loaded = []
    for source in sources:
        if source == "-":
            typed = parse_typed_checkpoint(sys.stdin.buffer.read(MAX_CHECKPOINT_BYTES + 1))
            loaded.append(("the typed checkpoint", typed))
        else:
            loaded.append((source, load_checkpoint(Path(source))))
    return loaded


def _report(
    report: LogReport, checkpoints: list[tuple[str, Checkpoint]], args: argparse.Namespace
) -> None:
    if args.export is not None and not checkpoints:
        warn(
            f"the export names its own key (fingerprint {report.key.fingerprint}); with no "
            "checkpoint from outside, this shows only that the export is consistent with it. "
            "Compare the fingerprint with the one recorded at the appliance."
        )
    for intent in report.dangling:
        warn(f"dangling intent: entry {intent.seq}, {intent.effect}, {intent.time}")
    if args.json:
        emit_json(
            {
                "ok": True,
                "size": report.size,
                "head": report.head.hex(),
                "fingerprint": report.key.fingerprint,
                "checkpoints": [
                    {"source": s, "size": c.size, "time": c.time} for s, c in checkpoints
                ],
                "dangling_intents": [{"seq": i.seq, "effect": i.effect} for i in report.dangling],
            }
        )
        return
    emit_lines(
        f"the log verifies: {report.size} entries, head {report.head.hex()}",
        f"signed by {report.key.name} (fingerprint {report.key.fingerprint})",
        *(
            f"it extends the checkpoint of {c.size} entries signed {c.time} ({s})"
            for s, c in checkpoints
        ),
    )


def run_checkpoint(args: argparse.Namespace) -> int:
    from custody.log import encode_checkpoint
    from custody.log.export import export_checkpoint

    with _appliance(args).open_log() as log:
        if args.out is None:
            log.append("log.checkpoint", {"output": "stdout"})
            checkpoint = log.checkpoint()
        else:
            checkpoint = export_checkpoint(log, args.out)
    text = encode_checkpoint(checkpoint)
    if args.json:
        emit_json(
            {
                "size": checkpoint.size,
                "head": checkpoint.head.hex(),
                "time": checkpoint.time,
                "text": text,
                "file": None if args.out is None else str(args.out),
            }
        )
    elif args.out is None:
        sys.stdout.write(text)
    else:
        emit_lines(f"checkpoint of {checkpoint.size} entries written to {args.out}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from custody.log import export_log

    with _appliance(args).open_log() as log:
        checkpoint = export_log(log, args.out)
    if args.json:
        emit_json({"out": str(args.out), "size": checkpoint.size, "head": checkpoint.head.hex()})
    else:
        emit_lines(
            f"exported {checkpoint.size} entries to {args.out} "
            "(log.jsonl, appliance.pub, checkpoint.txt)",
            f"an auditor checks it with: custody log verify --export {args.out}",
        )
    return 0
