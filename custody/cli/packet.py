"""`custody packet seal|open`: one shard into one custodian packet, and back (docs/spec/packet.md).

`seal` is a low-level tool for any active custodian: the set's context (threshold, n, root-key
fingerprint, commitments digest) comes from the committed set, and the shard is checked
against the commitments before anything is encrypted. The packet is written under a
`packet.seal` intent, so a crash leaves a dangling intent, never a packet the log lacks.

`open` checks the header, the appliance's signature, the ceremony and that this log recorded
the very packet sealed, all before anything is decrypted; the shard line is printed only with
`--reveal`. The log records `packet.open` with ids and digests, never the shard; refusals are
recorded as `packet.seal_refused` / `packet.open_refused` with their kind.
"""

from __future__ import annotations

import argparse

from custody.cli._common import common_options, harden, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, warn
from custody.errors import BadInputError, PacketMismatchError, VerificationError

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from pathlib import Path

    from custody.appliance import Appliance
    from custody.commitments import Commitments
    from custody.custodians.roster import Custodian
    from custody.formats.packet import Packet, PacketContent
    from custody.log import CustodyLog
    from custody.log.keys import Signer
    from custody.shards import Shard

COMMANDS = {"packet": "seal a shard into a custodian packet, or open one"}
_SEAL = "packet.seal"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("packet", help=COMMANDS["packet"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [common_options()]

    seal = verbs.add_parser("seal", parents=common, help="encrypt one shard to one custodian")
    seal.add_argument("--shard", type=path_argument, required=True, metavar="FILE")
    seal.add_argument("--custodian", required=True, metavar="NAME|FPR")
    seal.add_argument("--ceremony", required=True, metavar="ID")
    seal.add_argument(
        "--commitments", type=path_argument, required=True, metavar="FILE", help="the set's"
    )
    seal.add_argument("--out", type=path_argument, required=True, metavar="FILE")
    seal.add_argument("--binary", action="store_true", help="the binary form (paper/QR)")
    json_option(seal)
    seal.set_defaults(handler=run_seal)

    opening = verbs.add_parser("open", parents=common, help="check, then decrypt a packet")
    opening.add_argument("file", type=path_argument, metavar="FILE")
    opening.add_argument("--ceremony", metavar="ID", help="refuse a packet of any other ceremony")
    opening.add_argument(
        "--commitments", type=path_argument, metavar="FILE", help="also check the shard"
    )
    opening.add_argument(
        "--gnupghome",
        type=path_argument,
        metavar="DIR",
        help="the custodian's GnuPG home (default: custody's own)",
    )
    opening.add_argument("--reveal", action="store_true", help="print the shard's SPIKE line")
    json_option(opening)
    opening.set_defaults(handler=run_open)


class _ApplianceSigner:
    """The appliance's log key in the shape a packet needs (`PacketSigner`)."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    @property
    def public_key(self) -> bytes:
        return self._signer.verifier.public_key

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message)


def run_seal(args: argparse.Namespace) -> int:
    from custody.cli.custodian import load_home, load_verified_roster, read_input
    from custody.formats.spike import MAX_SHARD_FILE_BYTES, parse_shard_text
    from custody.log.inputs import parse_ceremony_id

    ceremony = parse_ceremony_id(args.ceremony)
    commitments, digest = _load_commitments(args.commitments)
    shard_data = read_input(args.shard, MAX_SHARD_FILE_BYTES).data
    shard = parse_shard_text(shard_data, source=str(args.shard)).shard
    _refuse_existing(args.out)
    appliance = load_home(args)
    with appliance.open_log() as log:
        custodian = load_verified_roster(log).select(args.custodian)
        _check_shard(log, shard, commitments, custodian, ceremony)
        content = _content(ceremony, custodian, shard, commitments, digest)
        packet = _seal(appliance, custodian, content)
        written = _write_logged(log, packet, content, args)
    _report_seal(custodian, content, packet, written, args)
    return 0


def _load_commitments(path: Path) -> tuple[Commitments, str]:
    """The committed set, and the digest packets record: SHA-256 of its canonical encoding."""
    import hashlib

    from custody.cli.custodian import read_input
    from custody.errors import CommitmentsError
    from custody.formats.commitments import (
        MAX_DOCUMENT_BYTES,
        encode_commitments,
        parse_commitments,
    )

    commitments = parse_commitments(read_input(path, MAX_DOCUMENT_BYTES).data, source=str(path))
    count = len(commitments.ids)
    if commitments.ids != tuple(range(1, count + 1)):
        raise CommitmentsError(
            f"{path} commits to shard ids {', '.join(map(str, commitments.ids))}, not 1..{count}:"
            " a packet records n, the number of shards made, so it needs the whole set.",
            kind="commitments-incomplete",
            hint="use the commitments written at intake for the whole set",
        )
    return commitments, "sha256:" + hashlib.sha256(encode_commitments(commitments)).hexdigest()


def _refuse_existing(out: Path) -> None:
    from custody.errors import BadInputError

    if out.exists() or out.is_symlink():
        raise BadInputError(
            f"{out}: already exists; custody does not overwrite a packet.",
            kind="output-exists",
            hint="choose another name, or move the existing file away first",
        )


def _check_shard(
    log: CustodyLog, shard: Shard, commitments: Commitments, custodian: Custodian, ceremony: str
) -> None:
    """The shard must be of the committed set, or nothing is sealed (and the refusal logged)."""
    from custody.commitments import verify_shard

    try:
        verify_shard(shard, commitments)
    except VerificationError as refused:
        detail = {"kind": refused.kind, "shard": shard.id, "custodian": custodian.fingerprint}
        log.append("packet.seal_refused", detail, ceremony_id=ceremony)
        raise
    if not custodian.assignable:
        warn(
            f"custodian {custodian.shown_name} is {custodian.status}: ceremonies would not"
            " assign them a shard without a passed challenge or a logged override."
        )


def _content(
    ceremony: str, custodian: Custodian, shard: Shard, commitments: Commitments, digest: str
) -> PacketContent:
    from custody.formats.packet import PacketContent
    from custody.formats.spike import encode_shard_line

    return PacketContent(
        ceremony=ceremony,
        custodian=custodian.fingerprint,
        shard_id=shard.id,
        threshold=commitments.threshold,
        shards=len(commitments.ids),
        root_key_fingerprint=commitments.fingerprint.hex,
        commitments_digest=digest,
        shard_line=encode_shard_line(shard).decode("ascii"),
    )


def _seal(appliance: Appliance, custodian: Custodian, content: PacketContent) -> Packet:
    from datetime import timedelta

    from custody.custodians import load_custodian_key
    from custody.custodians.enrolment import open_custody_gpg
    from custody.formats.packet import seal_packet

    horizon = timedelta(days=custodian.horizon_days)
    signer = _ApplianceSigner(appliance.load_signer())
    with open_custody_gpg(appliance.home) as gpg:
        key = load_custodian_key(gpg, custodian.fingerprint, horizon=horizon)
        return seal_packet(gpg, key, content, signer)


def _write_logged(
    log: CustodyLog, packet: Packet, content: PacketContent, args: argparse.Namespace
) -> tuple[str, int]:
    """Write the packet between an intent and its completion; (file sha256, size)."""
    from custody.errors import CustodyError
    from custody.formats.packet import encode_packet
    from custody.media.verified_write import write_verified

    data = encode_packet(packet, armor=not args.binary)
    context = {
        "custodian": content.custodian,
        "shard": content.shard_id,
        "message": "sha256:" + packet.header.message_digest.hex(),
    }
    detail = context | {"commitments": content.commitments_digest, "output": str(args.out)}
    intent = log.intent(_SEAL, detail, ceremony_id=content.ceremony)
    try:
        out = args.out.absolute()
        written = write_verified(out.parent, out.name, data, mode=0o644)
    except CustodyError as failed:
        log.abandon(intent, f"not written: {failed.kind}")
        raise
    result = context | {"file_sha256": written.sha256, "bytes": written.size}
    log.complete(intent, result | {"form": "binary" if args.binary else "armored"})
    return written.sha256, written.size


def _report_seal(
    custodian: Custodian,
    content: PacketContent,
    packet: Packet,
    written: tuple[str, int],
    args: argparse.Namespace,
) -> None:
    message = "sha256:" + packet.header.message_digest.hex()
    if args.json:
        emit_json(
            {
                "out": str(args.out),
                "ceremony": content.ceremony,
                "shard": content.shard_id,
                "custodian": custodian.fingerprint,
                "name": custodian.name,
                "message": message,
                "file_sha256": written[0],
                "bytes": written[1],
                "form": "binary" if args.binary else "armored",
            }
        )
        return
    emit_lines(
        f"sealed shard {content.shard_id} for {custodian.shown_name} ({custodian.fingerprint})"
        f" in ceremony {content.ceremony}",
        f"wrote {args.out} ({written[1]} bytes, sha256:{written[0]})",
        f"message {message}",
    )


def run_open(args: argparse.Namespace) -> int:
    from custody.cli.custodian import load_home, load_verified_roster, read_input
    from custody.formats.packet import MAX_PACKET_BYTES

    harden()

    packet_file = read_input(args.file, MAX_PACKET_BYTES)
    appliance = load_home(args)
    with appliance.open_log() as log:
        roster = load_verified_roster(log)
        try:
            content, message, sealed = _open(log, appliance, packet_file.data, args)
        except (BadInputError, VerificationError) as refused:
            detail = {"kind": refused.kind, "file_sha256": packet_file.sha256}
            log.append("packet.open_refused", detail)
            raise
        opened = {"shard": content.shard_id, "custodian": content.custodian, "digest": message}
        log.append("packet.open", {"ceremony": content.ceremony, **opened})
    _report_open(content, roster.find(content.custodian), message, sealed, args)
    return 0


def _open(
    log: CustodyLog, appliance: Appliance, data: bytes, args: argparse.Namespace
) -> tuple[PacketContent, str, int]:
    """(content, message digest, seq of the seal's completion)."""
    # spec §6: parse, verify header and signature, find the seal in the log, then decrypt.
    from custody.custodians import open_gpg
    from custody.custodians.enrolment import gnupg_home
    from custody.formats.packet import open_packet, parse_packet, verify_packet
    from custody.log.inputs import parse_ceremony_id

    packet = parse_packet(data)  # 1
    header = packet.header
    ceremony = header.ceremony if args.ceremony is None else parse_ceremony_id(args.ceremony)
    key = appliance.key.public_key
    verify_packet(packet, appliance_key=key, ceremony=ceremony, custodian=header.custodian)  # 2-5
    message = "sha256:" + header.message_digest.hex()
    sealed = _sealed_seq(log, message, header.ceremony, (header.custodian, header.shard_id))
    with open_gpg(args.gnupghome or gnupg_home(appliance.home)) as gpg:
        # 6-8: open_packet repeats 1-5 on the same bytes, then decrypts and cross-checks.
        content = open_packet(
            gpg,
            data,
            appliance_key=key,
            ceremony=ceremony,
            custodian=header.custodian,
            shard_id=header.shard_id,
        )
    if args.commitments is not None:
        _check_opened_shard(content, args.commitments)
    return content, message, sealed


def _sealed_seq(log: CustodyLog, message: str, ceremony: str, owner: tuple[str, int]) -> int:
    """The entry completing this very packet's `packet.seal` in this log, or a refusal: a
    packet this appliance signed but never recorded is not one to decrypt."""
    for entry in log.entries(ceremony_id=ceremony):
        result = entry.payload.get("result")
        if (
            entry.event == "intent.complete"
            and entry.payload.get("effect") == _SEAL
            and isinstance(result, dict)
            and result.get("message") == message
            and (result.get("custodian"), result.get("shard")) == owner
        ):
            return entry.seq
    raise PacketMismatchError(
        f"The packet for shard {owner[1]} (message {message}) is signed by this appliance, but"
        f" its log records no such packet sealed in ceremony {ceremony}.",
        kind="packet-not-logged",
        hint="do not use this packet; keep it as evidence and check the log's history",
    )


def _check_opened_shard(content: PacketContent, path: Path) -> None:
    """With --commitments: the packet is of this set, and its shard lies on it."""
    from custody.commitments import verify_shard
    from custody.formats.spike import parse_shard_text

    commitments, digest = _load_commitments(path)
    if digest != content.commitments_digest:
        raise VerificationError(
            f"The packet for shard {content.shard_id} belongs to the set with commitments"
            f" {content.commitments_digest}, not to {path} ({digest}).",
            kind="commitments-mismatch",
            hint="give the commitments of the packet's own set",
        )
    source = f"the packet for shard {content.shard_id}"
    verify_shard(parse_shard_text(content.shard_line.encode(), source=source).shard, commitments)


def _report_open(
    content: PacketContent,
    custodian: Custodian | None,
    message: str,
    sealed: int,
    args: argparse.Namespace,
) -> None:
    name = custodian.shown_name if custodian else "not on the roster"
    if custodian is not None and custodian.retired:
        warn(f"custodian {name} ({content.custodian}) is retired.")
    if args.json:
        document: dict[str, object] = {
            "ceremony": content.ceremony,
            "shard": content.shard_id,
            "threshold": content.threshold,
            "shards": content.shards,
            "custodian": content.custodian,
            "name": custodian.name if custodian else None,
            "root_key_fingerprint": content.root_key_fingerprint,
            "commitments": content.commitments_digest,
            "message": message,
            "sealed_seq": sealed,
            "commitments_checked": args.commitments is not None,
        }
        if args.reveal:
            document["shard_line"] = content.shard_line
        emit_json(document)
        return
    emit_lines(
        f"packet for shard {content.shard_id} of {content.shards} (threshold"
        f" {content.threshold}), ceremony {content.ceremony}",
        f"custodian             {content.custodian} ({name})",
        f"root-key fingerprint  {content.root_key_fingerprint}",
        f"commitments           {content.commitments_digest}"
        + (" (checked, shard verified)" if args.commitments is not None else ""),
        f"message               {message} (sealed: log entry {sealed})",
    )
    if args.reveal:
        emit_lines(content.shard_line)
    else:
        emit_lines("shard                 not shown; add --reveal to print its SPIKE line")
