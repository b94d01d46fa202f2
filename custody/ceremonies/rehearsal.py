"""The ceremonies rehearsed end to end on the bundled sample set, with throwaway custodians.

Three custodians get throwaway keys, each in a keyring of their own that stands in for their
smartcard. They are enrolled by fingerprint and challenged; the sample set (2-of-3, the one
that opens the bundled `spike.db`) is taken in; a sheet is scanned back; a custodian checks
in; a drill proves the quorum; a restore emits the SPIKE shard files, which must equal the
sample files byte for byte; and the log verifies. Everything stays in the output folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from custody.appliance import init_home, load_appliance
from custody.atomicfile import make_private_directory, write_file_atomic
from custody.ceremonies import all_actions
from custody.ceremonies.engine import CeremonyRun, Request, run_ceremony
from custody.ceremonies.restore import keyring_name
from custody.ceremonies.script import Role, Script, Step, load_script
from custody.custodians import decrypt, open_gpg
from custody.custodians.enrolment import answer_challenge, enrol, issue_challenge, open_custody_gpg
from custody.custodians.roster import load_roster
from custody.errors import VerificationError
from custody.log import CustodyLog

CUSTODIANS = ("Alice Example", "Bob Example", "Carol Example")
NAMES: Mapping[str, tuple[str, ...]] = {
    "operator": ("Olivia Operator",),
    "witness": ("Wes Witness", "Wanda Witness"),
    "custodian": CUSTODIANS,
}

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CeremonyRehearsal:
    home: Path
    intake_id: str
    artifacts: tuple[tuple[str, Path], ...]


class RehearsalOperator:
    """Answers for everyone present; signs receipts with the custodians' stand-in keyrings."""

    def __init__(self, keyrings: Path, progress: Progress) -> None:
        self.keyrings = keyrings
        self.progress = progress

    def show(self, step: Step, number: int, total: int) -> None:
        self.progress(f"  step {number}/{total}: {step.title}")

    def acknowledge(self, step: Step, roles: tuple[Role, ...]) -> Mapping[str, tuple[str, ...]]:
        return {role.name: NAMES.get(role.name, ()) for role in roles}

    def notice(self, message: str) -> None:
        self.progress(f"  note: {message}")

    def obtain(self, request: Request) -> None:
        if request.custodian is None or request.document is None:
            raise VerificationError(
                f"the rehearsal cannot provide {request.what}.", kind="rehearsal-failed"
            )
        with open_gpg(self.keyrings / keyring_name(request.custodian)) as theirs:
            signature = theirs.sign_detached(request.document, request.custodian)
        make_private_directory(request.path.parent)
        write_file_atomic(request.path, signature, overwrite=True)


def rehearse_ceremonies(out: Path, sample: Path, progress: Progress) -> CeremonyRehearsal:
    base = _short_base(out)
    home, keyrings = base / "home", base / "keyrings"
    init_home(home)
    progress(f"initialised a fresh appliance home: {home}")
    originals = {p.name: p.read_bytes() for p in (sample / "recover").glob("spike.recovery.*.txt")}
    fingerprints = make_custodians(keyrings)
    operator = RehearsalOperator(keyrings, progress)
    with load_appliance(home).open_log() as log:
        enrol_and_challenge(home, log, keyrings, fingerprints)
        progress(f"enrolled and challenged {len(fingerprints)} custodians by fingerprint")
        intake = _ceremony(home, log, "intake", operator, progress, params={
            "from": str(sample / "recover"), "threshold": "2", "db": str(sample / "spike.db"),
            "assign": " ".join(f"{i}={f}" for i, f in enumerate(fingerprints, start=1)),
            "media_out": str(out / "custodian-media"), "papers_out": str(out / "papers"),
            "receipts": str(out / "receipts"), "spike_version": "sample",
            "checkpoint": "none",  # a fresh appliance has never printed one
            "unsafe_host": "accept",  # throwaway keys and sample data: warn, do not refuse
        })  # fmt: skip
        # Every later ceremony is given the checkpoint the intake printed, as the witnesses'
        # copy of the summary sheet would be brought to it.
        checkpoint = str(out / "papers" / "checkpoint.txt")
        packets = _gather_packets(out, intake.ceremony_id)
        _scan_back_a_sheet(out, packets, progress)
        _ceremony(home, log, "checkin", operator, progress, params={
            "of": intake.ceremony_id, "packet": str(packets[0]), "keyrings": str(keyrings),
            "checkpoint": checkpoint, "unsafe_host": "accept",
        })  # fmt: skip
        _ceremony(home, log, "drill", operator, progress, params={
            "of": intake.ceremony_id, "packets": str(packets[0].parent),
            "keyrings": str(keyrings), "db": str(sample / "spike.db"), "checkpoint": checkpoint,
            "unsafe_host": "accept",
        })  # fmt: skip
        _ceremony(home, log, "restore", operator, progress, params={
            "of": intake.ceremony_id, "packets": str(packets[0].parent),
            "keyrings": str(keyrings), "db": str(sample / "spike.db"), "to": str(out / "restored"),
            "checkpoint": checkpoint, "unsafe_host": "accept",
        })  # fmt: skip
        _compare_restored(out / "restored", originals)
        progress("the restored SPIKE shard files equal the originals byte for byte")
        report = log.verify()
        progress(f"the custody log verifies: {report.size} entries, signed and chained")
    return CeremonyRehearsal(
        home=home,
        intake_id=intake.ceremony_id,
        artifacts=(
            ("appliance home (log, keys)", home),
            ("custodians' stand-in keyrings", keyrings),
            ("custodians' packets", out / "custodian-media"),
            ("sheets, manifest, checkpoint", out / "papers"),
            ("restored SPIKE shard files", out / "restored"),
        ),
    )


def _short_base(out: Path) -> Path:
    """`out`, or a fresh short folder when `out` is too deep for gpg-agent's socket paths."""
    import os
    import tempfile

    from custody.custodians.enrolment import MAX_HOME_BYTES

    if len(os.fsencode(out.absolute() / "keyrings" / ("0" * 16))) <= MAX_HOME_BYTES:
        return out
    return Path(tempfile.mkdtemp(prefix="custody-rh-", dir="/tmp"))


def make_custodians(keyrings: Path, names: tuple[str, ...] = CUSTODIANS) -> list[str]:
    """Throwaway custodian keys, one stand-in keyring each (named by `keyring_name`)."""
    make_private_directory(keyrings)
    fingerprints = []
    for number, name in enumerate(names, start=1):
        staging = keyrings / f"new{number}"
        make_private_directory(staging)
        with open_gpg(staging) as theirs:
            fingerprint = theirs.generate_throwaway_key(f"{name} (custody rehearsal)")
        staging.rename(keyrings / keyring_name(fingerprint))
        fingerprints.append(fingerprint)
    return fingerprints


def enrol_and_challenge(
    home: Path,
    log: CustodyLog,
    keyrings: Path,
    fingerprints: list[str],
    names: tuple[str, ...] = CUSTODIANS,
) -> None:
    with open_custody_gpg(home) as gpg:
        for name, fingerprint in zip(names, fingerprints, strict=True):
            with open_gpg(keyrings / keyring_name(fingerprint)) as theirs:
                public = theirs.export_public(fingerprint)
            enrol(
                log, gpg, load_roster(log.entries()), name=name, key_bytes=public,
                key_sha256=hashlib.sha256(public).hexdigest(), fingerprint=fingerprint,
                horizon=timedelta(days=365),
            )  # fmt: skip
            custodian = load_roster(log.entries()).select(fingerprint)
            challenge, _ = issue_challenge(log, gpg, custodian)
            with open_gpg(keyrings / keyring_name(fingerprint)) as theirs:
                answer = decrypt(theirs, challenge.message).decode("ascii")
            answer_challenge(log, load_roster(log.entries()).select(fingerprint), answer)


def _ceremony(
    home: Path, log: CustodyLog, name: str, operator: RehearsalOperator, progress: Progress,
    *, params: dict[str, str],
) -> CeremonyRun:  # fmt: skip
    script = ceremony_script(name)
    progress(f"{name} ceremony: {script.title}")
    run = run_ceremony(home, log, script, all_actions(), operator, params=params)
    progress(f"{name} ceremony {run.ceremony_id} finished")
    return run


def ceremony_script(name: str) -> Script:
    """The packaged script of that name (`ceremony/<name>.toml`)."""
    from importlib import resources

    path = Path(str(resources.files("custody") / "ceremonies" / "scripts" / f"{name}.toml"))
    return load_script(path, all_actions())


def _gather_packets(out: Path, ceremony_id: str) -> list[Path]:
    """The custodians bring their packets from their sticks (two of three suffice)."""
    brought = out / "presented-packets"
    make_private_directory(brought)
    found = sorted((out / "custodian-media").glob(f"*/{ceremony_id}-shard-*.asc"))
    for packet in found[1:]:
        write_file_atomic(brought / packet.name, packet.read_bytes())
    return [brought / p.name for p in found[1:]]


def _scan_back_a_sheet(out: Path, packets: list[Path], progress: Progress) -> None:
    from custody.formats.packet import encode_packet, parse_packet
    from custody.paper.scan import scan_payload

    shard = packets[0].name.rsplit("-", 1)[1].removesuffix(".asc")
    sheet = out / "papers" / f"sheet-shard-{shard}.pdf"
    scanned = scan_payload([(sheet.name, sheet.read_bytes())])
    if scanned != encode_packet(parse_packet(packets[0].read_bytes()), armor=False):
        raise VerificationError("a sheet did not scan back to its packet.", kind="rehearsal-failed")
    progress(f"scanned {sheet.name} back: the QR codes give the packet byte for byte")


def _compare_restored(restored: Path, originals: Mapping[str, bytes]) -> None:
    emitted = sorted(restored.glob("spike.recovery.*.txt"))
    if not emitted or any(p.read_bytes() != originals.get(p.name) for p in emitted):
        raise VerificationError(
            "the restored shard files differ from the originals.", kind="rehearsal-failed"
        )
