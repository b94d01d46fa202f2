"""`custody packet seal|open` through the installed command, with real GnuPG keys.

The custodian's side is plain `gpg --decrypt` in their own home (their "smartcard"). One home
serves the module: Alice passed her challenge (through the library), Bob did not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from custody.appliance import init_home, load_appliance
from custody.commitments import commit
from custody.custodians import (
    DEFAULT_EXPIRY_HORIZON,
    decrypt,
    load_custodian_key,
    open_gpg,
)
from custody.custodians.enrolment import answer_challenge, enrol, issue_challenge, open_custody_gpg
from custody.custodians.roster import load_roster
from custody.formats import packet as packet_format
from custody.formats.commitments import encode_commitments
from custody.formats.packet import (
    PacketContent,
    PacketSigner,
    encode_packet,
    parse_packet,
    seal_packet,
)
from custody.log import Entry
from custody.log.entry import CEREMONY_ID
from custody.log.keys import Signer
from custody.shamir import fit_polynomial
from custody.shardfiles import load_shard_files
from custody.shards import MAX_SHARD_ID
from tests.cli.harness import Run, _compiled_once, custody_env  # noqa: F401 (fixture)
from tests.conftest import assert_no_secret
from tests.custodians import gpgkeys
from tests.custodians.gpgkeys import CardKey

CUSTODY = Path(sys.executable).parent / "custody"
SETS = Path(__file__).resolve().parent.parent / "vectors" / "spike" / "sets"
COUNTING, OTHER = SETS / "main-t2-n3-counting", SETS / "main-t2-n3-random-1"
CEREMONY = "2026-12-01-intake"
SECRETS = [
    (folder / f"spike.recovery.{i}.txt").read_text().split(":")[2]
    for folder in (COUNTING, OTHER)
    for i in (1, 2, 3)
]


def custody(*args: str | Path) -> Run:
    result = subprocess.run(
        [str(CUSTODY), *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=custody_env(),
    )
    assert "Traceback" not in result.stderr
    return Run(result.returncode, result.stdout, result.stderr)


@dataclass(frozen=True)
class World:
    home: Path
    alice: CardKey
    bob: CardKey
    commitments: Path
    other_commitments: Path
    packet: Path
    """Alice's armored packet for shard 2, sealed through the command line."""

    def seal(self, *args: str | Path) -> Run:
        return custody("packet", "seal", "--ceremony", CEREMONY, "--home", self.home, *args)

    def open(self, path: Path, *args: str | Path, key: CardKey | None = None) -> Run:
        owner = key or self.alice
        return custody(
            "packet", "open", path, "--gnupghome", owner.home, "--home", self.home, *args
        )

    def out(self, name: str) -> Path:
        return self.home.parent / name

    def last_event(self) -> tuple[str, dict[str, object]]:
        with load_appliance(self.home).read_log() as reader:
            entry = list(reader.entries())[-1]
        return entry.event, dict(entry.payload)

    def log_text(self) -> str:
        with load_appliance(self.home).read_log() as reader:
            return b"\n".join(record.line for record in reader.records()).decode()


def write_commitments(folder: Path, out: Path) -> Path:
    shards = load_shard_files([folder]).collect()
    out.write_bytes(encode_commitments(commit(fit_polynomial(shards.shards, 2), shards.ids)))
    return out


def enrol_and_challenge(home: Path, name: str, key: CardKey, *, answer: bool) -> None:
    """Setup through the library: the custodian commands are tested elsewhere."""
    with load_appliance(home).open_log() as log, open_custody_gpg(home) as gpg:
        roster = load_roster(log.entries())
        enrol(
            log,
            gpg,
            roster,
            name=name,
            key_bytes=key.public,
            key_sha256="00" * 32,
            fingerprint=key.fingerprint,
            horizon=DEFAULT_EXPIRY_HORIZON,
        )
        if answer:
            roster = load_roster(log.entries())
            challenge, _ = issue_challenge(log, gpg, roster.select(key.fingerprint))
            with open_gpg(key.home) as theirs:
                text = decrypt(theirs, challenge.message).decode()
            answer_challenge(log, load_roster(log.entries()).select(key.fingerprint), text)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = gpgkeys.make_root()
    alice = gpgkeys.generate(root, "Alice <alice@example.org>")
    bob = gpgkeys.generate(root, "Bob <bob@example.org>")
    gpgkeys.kill_agents(root)
    home = init_home(Path(tempfile.mkdtemp(prefix="ch", dir="/tmp")) / "h").home
    enrol_and_challenge(home, "Alice", alice, answer=True)
    enrol_and_challenge(home, "Bob", bob, answer=False)
    commitments = write_commitments(COUNTING, home.parent / "commitments.json")
    other = write_commitments(OTHER, home.parent / "other-commitments.json")
    world = World(home, alice, bob, commitments, other, home.parent / "alice.packet.asc")
    sealed = world.seal(
        "--shard", COUNTING / "spike.recovery.2.txt", "--custodian", "Alice",
        "--commitments", commitments, "--out", world.packet,
    )  # fmt: skip
    assert sealed.code == 0, sealed.err
    yield world
    assert gpgkeys.cleanup(home.parent) == []
    assert gpgkeys.cleanup(root) == []


def test_seal_writes_one_packet_under_an_intent(world: World) -> None:
    assert world.packet.read_bytes().startswith(b"-----BEGIN PGP MESSAGE-----\nComment: ")
    assert world.packet.stat().st_mode & 0o777 == 0o644
    header = parse_packet(world.packet.read_bytes()).header
    message = "sha256:" + header.message_digest.hex()
    with load_appliance(world.home).read_log() as reader:
        entries = list(reader.entries(ceremony_id=CEREMONY))
    begin = next(e for e in entries if detail_of(e).get("output") == str(world.packet))
    complete = next(e for e in entries if e.payload.get("intent") == begin.seq)
    assert begin.event == "intent.begin" and complete.event == "intent.complete"
    assert begin.payload["detail"] == {
        "commitments": "sha256:" + sha256_of(encode_commitments_file(world.commitments)),
        "custodian": world.alice.fingerprint,
        "message": message,
        "output": str(world.packet),
        "shard": 2,
    }
    result = complete.payload["result"]
    assert isinstance(result, dict) and result["message"] == message
    assert result["file_sha256"] == sha256_of(world.packet.read_bytes())
    assert (header.ceremony, header.shard_id, header.custodian) == (
        CEREMONY,
        2,
        world.alice.fingerprint,
    )
    assert_no_secret(SECRETS, world.log_text(), world.packet.read_text())


def detail_of(entry: Entry) -> dict[str, object]:
    detail = entry.payload.get("detail")
    return dict(detail) if isinstance(detail, dict) else {}


def sha256_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def encode_commitments_file(path: Path) -> bytes:
    """The commitments' canonical encoding, which is what the packet's digest covers."""
    from custody.formats.commitments import parse_commitments

    return encode_commitments(parse_commitments(path.read_bytes(), source=str(path)))


def test_plain_gpg_decrypts_to_the_exact_spike_line(world: World) -> None:
    env = {"PATH": os.environ["PATH"], "GNUPGHOME": str(world.alice.home)}
    result = subprocess.run(
        ["gpg", "--decrypt", str(world.packet)], capture_output=True, env=env, check=False
    )
    gpgkeys.kill_agents(world.alice.home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode("ascii").splitlines()
    spike = (COUNTING / "spike.recovery.2.txt").read_text()
    assert [line for line in lines if line.startswith("spike:")] == [spike]
    assert lines[:3] == [
        "custody-packet: 1",
        f"ceremony: {CEREMONY}",
        f"custodian: {world.alice.fingerprint}",
    ]


def test_open_shows_the_context_and_the_shard_only_when_asked(world: World) -> None:
    run = world.open(world.packet, "--commitments", world.commitments)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == f"packet for shard 2 of 3 (threshold 2), ceremony {CEREMONY}"
    assert lines[1] == f"custodian             {world.alice.fingerprint} (Alice)"
    assert lines[3].endswith("(checked, shard verified)")
    assert lines[-1] == "shard                 not shown; add --reveal to print its SPIKE line"
    assert_no_secret(SECRETS, run.out, run.err)
    revealed = json.loads(
        world.open(world.packet, "--reveal", "--json", "--ceremony", CEREMONY).out
    )
    assert revealed["shard_line"] == (COUNTING / "spike.recovery.2.txt").read_text()
    assert (revealed["shard"], revealed["threshold"], revealed["shards"]) == (2, 2, 3)
    event, payload = world.last_event()
    assert event == "packet.open"
    assert payload == {
        "ceremony": CEREMONY,
        "shard": 2,
        "custodian": world.alice.fingerprint,
        "digest": revealed["message"],
    }
    assert_no_secret(SECRETS, world.log_text())


def test_the_binary_form_for_an_unchallenged_custodian(world: World) -> None:
    out = world.out("bob.packet")
    sealed = world.seal(
        "--shard", COUNTING / "spike.recovery.3.txt", "--custodian", world.bob.fingerprint,
        "--commitments", world.commitments, "--out", out, "--binary", "--json",
    )  # fmt: skip
    assert sealed.code == 0, sealed.err
    assert "custody: warning: custodian Bob is not challenged" in sealed.err
    assert json.loads(sealed.out)["form"] == "binary"
    assert out.read_bytes().startswith(b"custody-packet-header: 1\n")
    opened = world.open(out, "--reveal", key=world.bob)
    assert opened.code == 0, opened.err
    assert opened.out.splitlines()[-1] == (COUNTING / "spike.recovery.3.txt").read_text()


def test_another_ceremony_is_refused_before_decryption(world: World) -> None:
    # Bob's home cannot decrypt Alice's packet: a decryption error would show the check came late.
    run = world.open(world.packet, "--ceremony", "2026-12-02-intake", key=world.bob)
    assert run.code == 1 and "belongs to ceremony 2026-12-01-intake" in run.err
    assert world.last_event() == (
        "packet.open_refused",
        {"kind": "wrong-ceremony", "file_sha256": sha256_of(world.packet.read_bytes())},
    )


def test_a_forged_header_is_refused_before_decryption(world: World) -> None:
    forged = world.out("forged.asc")
    text = world.packet.read_text()
    forged.write_text(
        text.replace(f"Comment: ceremony: {CEREMONY}", "Comment: ceremony: 2027-01-01-drill")
    )
    run = world.open(forged, key=world.bob)
    assert run.code == 1 and "header signature that does not verify" in run.err
    assert world.last_event()[1]["kind"] == "bad-signature"


def test_a_packet_from_another_appliance_is_refused(world: World) -> None:
    foreign = world.out("foreign.asc")
    foreign.write_bytes(sealed_in_process(world, OtherSigner(SigningKey(bytes(32)))))
    run = world.open(foreign)
    assert run.code == 1 and "was sealed by another appliance key" in run.err


def test_a_packet_signed_but_never_logged_is_refused(world: World) -> None:
    unlogged = world.out("unlogged.asc")
    signer = load_appliance(world.home).load_signer()
    unlogged.write_bytes(sealed_in_process(world, ApplianceSigner(signer)))
    run = world.open(unlogged)
    assert run.code == 1 and "its log records no such packet" in run.err
    assert world.last_event()[1]["kind"] == "packet-not-logged"


@dataclass(frozen=True)
class OtherSigner:
    key: SigningKey

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message).signature


@dataclass(frozen=True)
class ApplianceSigner:
    signer: Signer

    @property
    def public_key(self) -> bytes:
        return self.signer.verifier.public_key

    def sign(self, message: bytes) -> bytes:
        return self.signer.sign(message)


def sealed_in_process(world: World, signer: PacketSigner) -> bytes:
    """A well-formed packet for Alice that no `custody packet seal` recorded."""
    line = (COUNTING / "spike.recovery.1.txt").read_text()
    content = PacketContent(
        CEREMONY, world.alice.fingerprint, 1, 2, 3, "02" + "5a" * 32, "sha256:" + "0" * 64, line
    )
    with open_custody_gpg(world.home) as gpg:
        key = load_custodian_key(gpg, world.alice.fingerprint)
        return encode_packet(seal_packet(gpg, key, content, signer), armor=True)


def test_a_shard_not_of_the_committed_set_is_not_sealed(world: World) -> None:
    out = world.out("never.asc")
    run = world.seal(
        "--shard", OTHER / "spike.recovery.1.txt", "--custodian", "Alice",
        "--commitments", world.commitments, "--out", out,
    )  # fmt: skip
    assert run.code == 1 and "does not match the set's commitments" in run.err
    assert not out.exists()
    assert world.last_event() == (
        "packet.seal_refused",
        {"kind": "shard-mismatch", "shard": 1, "custodian": world.alice.fingerprint},
    )
    assert_no_secret(SECRETS, run.out, run.err)


def test_open_against_another_set_is_refused(world: World) -> None:
    run = world.open(world.packet, "--commitments", world.other_commitments)
    assert run.code == 1 and "belongs to the set with commitments" in run.err


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--custodian", "Nobody", "No active custodian is named Nobody"),
        ("--ceremony", "Intake-2026", "is not a ceremony id"),
        ("--out", "alice.packet.asc", "already exists"),
    ],
)
def test_seal_refusals(world: World, option: str, value: str, words: str) -> None:
    arguments = {
        "--shard": str(COUNTING / "spike.recovery.1.txt"),
        "--custodian": "Alice",
        "--commitments": str(world.commitments),
        "--out": str(world.out("refused.asc")),
        "--ceremony": CEREMONY,
    }
    arguments[option] = str(world.out(value)) if option == "--out" else value
    words_in_order = [word for pair in arguments.items() for word in pair]
    run = custody("packet", "seal", "--home", world.home, *words_in_order)
    assert run.code == 3 and words in run.err
    assert not world.out("refused.asc").exists()


def test_a_failed_write_closes_its_intent(world: World) -> None:
    out = world.out("no-such-folder") / "alice.asc"
    run = world.seal(
        "--shard", COUNTING / "spike.recovery.1.txt", "--custodian", "Alice",
        "--commitments", world.commitments, "--out", out,
    )  # fmt: skip
    assert run.code == 3
    event, payload = world.last_event()
    assert event == "intent.abandon" and payload["effect"] == "packet.seal"
    with load_appliance(world.home).read_log() as reader:
        assert reader.dangling_intents() == ()


def test_the_log_verifies_after_all_of_it(world: World) -> None:
    run = custody("log", "verify", "--home", world.home)
    assert run.code == 0 and run.out.startswith("the log verifies") and "dangling" not in run.err


def test_packet_ids_follow_the_log_and_the_shards() -> None:
    assert (
        CEREMONY_ID.pattern,
        MAX_SHARD_ID,
    ) == (packet_format.CEREMONY_ID, packet_format.MAX_SHARD_ID)
    line = "spike:1000:" + "5a" * 32
    content = PacketContent(
        CEREMONY, "A" * 40, 1000, 2, 1000, "02" + "5a" * 32, "sha256:" + "0" * 64, line
    )
    assert (
        packet_format.parse_packet_content(packet_format.encode_packet_content(content)) == content
    )
    for bad in ("Upper-Case", "-leading", "x" * 65):
        assert not re.fullmatch(packet_format.CEREMONY_ID, bad)
    with pytest.raises(ValueError, match=r"1\.\.1000"):
        PacketContent(
            CEREMONY, "A" * 40, 1001, 2, 1001, "02" + "5a" * 32, "sha256:" + "0" * 64, "x"
        )
