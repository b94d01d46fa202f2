"""The custodian packet (docs/spec/packet.md), sealed and opened with real GnuPG."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from custody.custodians import CustodianKey, Gpg, import_custodian_key, open_gpg
from custody.errors import PacketFormatError, PacketMismatchError
from custody.formats.packet import (
    CEREMONY_ID,
    MAX_SHARD_ID,
    Packet,
    PacketContent,
    PacketHeader,
    encode_packet,
    encode_packet_content,
    open_packet,
    parse_packet,
    parse_packet_content,
    seal_packet,
    verify_packet,
)
from tests.custodians import gpgkeys
from tests.custodians.gpgkeys import CardKey

SPIKE = Path(__file__).resolve().parent.parent / "vectors" / "spike" / "sets"
SHARD_FILE = SPIKE / "main-t2-n3-counting" / "spike.recovery.2.txt"
SHARD_LINE = SHARD_FILE.read_text()  # exactly as SPIKE wrote it: no trailing newline
SECRET_HEX = SHARD_LINE.split(":")[2]
CEREMONY = "2026-12-01-intake"
ROOT_KEY = "03" + "5a" * 32
COMMITMENTS = "sha256:" + hashlib.sha256(b"commitments").hexdigest()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class NaclSigner:
    """The appliance key's shape as the packet needs it, backed by pynacl."""

    key: SigningKey

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message).signature


@dataclass(frozen=True)
class World:
    gpg: Gpg
    alice: CardKey
    bob: CardKey
    alice_key: CustodianKey
    bob_key: CustodianKey
    signer: NaclSigner
    content: PacketContent
    packet: Packet


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = gpgkeys.make_root()
    alice = gpgkeys.generate(root, "Alice <alice@example.org>")
    bob = gpgkeys.generate(root, "Bob <bob@example.org>")
    gpgkeys.kill_agents(root)
    signer = NaclSigner(SigningKey(bytes(range(32))))
    with open_gpg(gpgkeys.new_home(root)) as gpg:
        alice_key = import_custodian_key(gpg, alice.public, alice.fingerprint)
        bob_key = import_custodian_key(gpg, bob.public, bob.fingerprint)
        content = make_content(alice.fingerprint)
        packet = seal_packet(gpg, alice_key, content, signer)
        yield World(gpg, alice, bob, alice_key, bob_key, signer, content, packet)
    assert gpgkeys.cleanup(root) == []


def make_content(custodian: str, shard_id: int = 2, line: str = SHARD_LINE) -> PacketContent:
    return PacketContent(CEREMONY, custodian, shard_id, 2, 3, ROOT_KEY, COMMITMENTS, line)


class Expected(TypedDict):
    appliance_key: bytes
    ceremony: str
    custodian: str
    shard_id: int | None


def expect(world: World, **changes: Any) -> Expected:
    """What a restore expects of Alice's packet, with some values changed."""
    return Expected(
        appliance_key=changes.get("appliance_key", world.signer.public_key),
        ceremony=changes.get("ceremony", CEREMONY),
        custodian=changes.get("custodian", world.alice.fingerprint),
        shard_id=changes.get("shard_id", 2),
    )


def test_plain_gpg_decrypt_prints_the_spike_line(world: World, tmp_path: Path) -> None:
    """The custodian's own gpg, no custody code, no options: the exact SPIKE line comes out."""
    path = tmp_path / "alice.packet.asc"
    path.write_bytes(encode_packet(world.packet, armor=True))
    env = {"PATH": os.environ["PATH"], "GNUPGHOME": str(world.alice.home)}
    result = subprocess.run(
        ["gpg", "--decrypt", str(path)], capture_output=True, env=env, check=False
    )
    gpgkeys.kill_agents(world.alice.home)
    assert result.returncode == 0, result.stderr
    assert b"WARNING" not in result.stderr and b"armor header" not in result.stderr
    lines = result.stdout.decode("ascii").split("\n")
    assert [line for line in lines if line.startswith("spike:")] == [SHARD_LINE]
    assert result.stdout == encode_packet_content(world.content)
    assert result.stdout.decode().startswith(f"custody-packet: 1\nceremony: {CEREMONY}\n")


def test_the_file_is_one_armor_block_with_the_header_as_comments(world: World) -> None:
    text = encode_packet(world.packet, armor=True).decode("ascii")
    lines = text.split("\n")
    assert lines[0] == "-----BEGIN PGP MESSAGE-----"
    assert lines[1:8] == [f"Comment: {line}" for line in world.packet.header.lines()]
    assert lines[8] == "" and lines[-2:] == ["-----END PGP MESSAGE-----", ""]
    assert SECRET_HEX not in text


@pytest.mark.parametrize("armor", [True, False])
def test_encode_parse_round_trip(world: World, armor: bool) -> None:
    data = encode_packet(world.packet, armor=armor)
    assert parse_packet(data) == world.packet
    assert encode_packet(parse_packet(data), armor=armor) == data


def test_the_binary_form_is_header_blank_line_message(world: World) -> None:
    data = encode_packet(world.packet, armor=False)
    head, message = data.split(b"\n\n", 1)
    assert head.decode().split("\n") == world.packet.header.lines()
    assert message == world.packet.message
    plain = gpgkeys.run(world.alice.home, "--decrypt", stdin=message).stdout
    gpgkeys.kill_agents(world.alice.home)
    assert plain == encode_packet_content(world.content)


@pytest.mark.parametrize("armor", [True, False])
def test_open_packet(world: World, armor: bool) -> None:
    data = encode_packet(world.packet, armor=armor)
    with open_gpg(world.alice.home) as theirs:
        content = open_packet(theirs, data, **expect(world))
    assert content == world.content
    assert content.shard_line == SHARD_LINE


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"appliance_key": bytes(SigningKey(bytes(32)).verify_key)}, "wrong-appliance"),
        ({"ceremony": "2026-12-02-intake"}, "wrong-ceremony"),
        ({"custodian": "B" * 40}, "wrong-custodian"),
        ({"shard_id": 3}, "wrong-shard"),
    ],
)
def test_a_packet_that_does_not_belong_is_refused_before_decrypting(
    world: World, changes: dict[str, object], kind: str
) -> None:
    data = encode_packet(world.packet, armor=True)
    # The custody home holds no secret key: reaching decryption would fail differently.
    with pytest.raises(PacketMismatchError) as caught:
        open_packet(world.gpg, data, **expect(world, **changes))
    assert caught.value.kind == kind
    assert caught.value.exit_code == 1
    assert SECRET_HEX not in caught.value.message


def test_a_forged_signature_is_refused(world: World) -> None:
    signature = bytes([world.packet.header.signature[0] ^ 1]) + world.packet.header.signature[1:]
    forged = replace(world.packet, header=replace(world.packet.header, signature=signature))
    data = encode_packet(forged, armor=True)
    with pytest.raises(PacketMismatchError) as caught:
        open_packet(world.gpg, data, **expect(world))
    assert caught.value.kind == "bad-signature"


def test_a_message_from_another_packet_is_refused(world: World) -> None:
    other = seal_packet(world.gpg, world.alice_key, world.content, world.signer)
    swapped = Packet(world.packet.header, other.message)
    with pytest.raises(PacketMismatchError) as caught:
        verify_packet(swapped, **expect(world))
    assert caught.value.kind == "message-digest-mismatch"


def test_a_header_that_lies_about_the_content_is_caught_after_decrypting(world: World) -> None:
    """Even the appliance's own key cannot make shard 3's text pass as shard 2."""
    shard3 = (SPIKE / "main-t2-n3-counting" / "spike.recovery.3.txt").read_text()
    sealed = seal_packet(
        world.gpg, world.alice_key, make_content(world.alice.fingerprint, 3, shard3), world.signer
    )
    lying = replace(sealed.header, shard_id=2, signature=bytes(64))
    lying = replace(lying, signature=world.signer.sign(lying.signed_bytes()))
    data = encode_packet(Packet(lying, sealed.message), armor=True)
    with open_gpg(world.alice.home) as theirs, pytest.raises(PacketMismatchError) as caught:
        open_packet(theirs, data, **expect(world))
    assert caught.value.kind == "content-mismatch"
    assert shard3.split(":")[2] not in caught.value.message


def test_sealing_checks_the_custodian_and_the_signer(world: World) -> None:
    with pytest.raises(ValueError, match="another custodian"):
        seal_packet(world.gpg, world.bob_key, world.content, world.signer)

    class Liar(NaclSigner):
        def sign(self, message: bytes) -> bytes:
            return bytes(64)

    with pytest.raises(ValueError, match="does not verify"):
        seal_packet(world.gpg, world.alice_key, world.content, Liar(world.signer.key))


def armored(world: World) -> bytes:
    return encode_packet(world.packet, armor=True)


@pytest.mark.parametrize(
    ("mutate", "kind"),
    [
        (lambda d: d.replace(b"header: 1", b"header: 2"), "packet-unknown-version"),
        (lambda d: d + b"\n", "packet-not-canonical"),
        (lambda d: d + b"trailing", "packet-malformed"),
        (lambda d: d.replace(b"\n", b"\r\n"), "packet-malformed"),
        (
            lambda d: d.replace(b"Comment: shard", b"Version: x\nComment: shard"),
            "packet-not-canonical",
        ),
        (
            lambda d: d.replace(b"Comment: ceremony", b"Comment: x\nComment: ceremony"),
            "packet-malformed",
        ),
        (
            lambda d: b"\n".join(x for x in d.split(b"\n") if not x.startswith(b"=")),
            "packet-not-canonical",
        ),
        (lambda d: d.replace(b"shard: 2", b"shard: 02"), "packet-malformed"),
        (lambda d: d.replace(b"custodian: ", b"custodian: 0x"), "packet-malformed"),
        (lambda d: d.replace(b"ed25519:", b"ED25519:", 1), "packet-malformed"),
        (lambda d: b" " + d, "packet-malformed"),
        (lambda d: d[:100], "packet-malformed"),
        (lambda d: d + b"x" * 70000, "packet-too-large"),
        (lambda d: b"", "packet-malformed"),
    ],
)
def test_strict_parsing(world: World, mutate: Callable[[bytes], bytes], kind: str) -> None:
    with pytest.raises(PacketFormatError) as caught:
        parse_packet(mutate(armored(world)))
    assert caught.value.kind == kind


def test_binary_form_with_trailing_bytes_is_refused(world: World) -> None:
    data = encode_packet(world.packet, armor=False)
    with pytest.raises(PacketFormatError) as caught:
        parse_packet(data + b"\x00")
    assert caught.value.kind == "packet-bad-message"
    with pytest.raises(PacketFormatError):
        parse_packet(data.replace(b"custody-packet-header: 1", b"custody-packet-header: 9"))


def test_content_hides_the_shard_in_repr_and_checks_itself(world: World) -> None:
    assert SECRET_HEX not in repr(world.content)
    bad: list[Callable[[PacketContent], PacketContent]] = [
        lambda c: replace(c, ceremony="-bad"),
        lambda c: replace(c, custodian=c.custodian.lower()),
        lambda c: replace(c, shard_id=4),
        lambda c: replace(c, threshold=0),
        lambda c: replace(c, root_key_fingerprint="04" + "5a" * 32),
        lambda c: replace(c, commitments_digest=COMMITMENTS.upper()),
        lambda c: replace(c, shard_line=SHARD_LINE.replace("spike:2", "spike:3")),
    ]
    for change in bad:
        with pytest.raises(ValueError) as caught:
            change(world.content)
        assert SECRET_HEX not in str(caught.value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace(SECRET_HEX, SECRET_HEX.upper()),
        lambda t: t.replace("spike:2:", "spike:3:"),
        lambda t: t.replace("shard: 2", "shard: 02"),
        lambda t: t.replace("restore: gpg", "restore: gpg2"),
        lambda t: t.rstrip("\n"),
        lambda t: t + "\n",
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t.replace("custody-packet: 1", "custody-packet: 2"),
        lambda t: t.replace("\n\nspike", "\nspike"),
        lambda t: t.replace("threshold: 2", "threshold: 4"),
    ],
)
def test_content_parsing_is_strict_and_quiet(world: World, mutate: Callable[[str], str]) -> None:
    text = encode_packet_content(world.content).decode()
    with pytest.raises(PacketFormatError) as caught:
        parse_packet_content(mutate(text).encode())
    assert SECRET_HEX not in caught.value.message
    assert SECRET_HEX.upper() not in caught.value.message


@FAST
@given(st.binary(max_size=2000))
def test_parse_of_arbitrary_bytes_raises_only_packet_format_error(data: bytes) -> None:
    for prefix in (b"", b"-----BEGIN PGP MESSAGE-----\n", b"custody-packet-header: 1\n"):
        with contextlib.suppress(PacketFormatError):
            parse_packet(prefix + data)
    with contextlib.suppress(PacketFormatError):
        parse_packet_content(data)


@FAST
@given(data=st.data())
def test_no_single_byte_change_survives_parse_and_verify(world: World, data: st.DataObject) -> None:
    armor = data.draw(st.booleans())
    good = encode_packet(world.packet, armor=armor)
    index = data.draw(st.integers(0, len(good) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != good[index]))
    bad = good[:index] + bytes([value]) + good[index + 1 :]
    try:
        packet = parse_packet(bad)
    except PacketFormatError:
        return
    with pytest.raises(PacketMismatchError):
        verify_packet(packet, **expect(world))


ceremonies = st.from_regex(CEREMONY_ID, fullmatch=True)
fingerprints = st.from_regex(r"[0-9A-F]{40}|[0-9A-F]{64}", fullmatch=True)


@FAST
@given(
    names=st.tuples(ceremonies, fingerprints, st.integers(1, MAX_SHARD_ID)),
    blobs=st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64)),
    armor=st.booleans(),
)
def test_header_round_trip(
    world: World, names: tuple[str, str, int], blobs: tuple[bytes, bytes], armor: bool
) -> None:
    ceremony, custodian, shard_id = names
    header = PacketHeader(ceremony, shard_id, custodian, blobs[0], blobs[0], blobs[1])
    packet = Packet(header, world.packet.message)
    assert parse_packet(encode_packet(packet, armor=armor)) == packet


@FAST
@given(
    ceremony=ceremonies,
    custodian=fingerprints,
    sizes=st.integers(1, MAX_SHARD_ID).flatmap(
        lambda n: st.tuples(st.integers(1, n), st.integers(1, n), st.just(n))
    ),
    value=st.binary(min_size=32, max_size=32),
    prefix=st.sampled_from(["02", "03"]),
)
def test_content_round_trip(
    ceremony: str, custodian: str, sizes: tuple[int, int, int], value: bytes, prefix: str
) -> None:
    shard_id, threshold, shards = sizes
    line = f"spike:{shard_id}:{value.hex()}"
    content = PacketContent(
        ceremony, custodian, shard_id, threshold, shards, prefix + value.hex(), COMMITMENTS, line
    )
    assert parse_packet_content(encode_packet_content(content)) == content


def test_no_log_record_carries_the_shard(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """python-gnupg logs at DEBUG what it runs and reads: never the plaintext."""
    caplog.set_level(logging.DEBUG)
    packet = seal_packet(world.gpg, world.alice_key, world.content, world.signer)
    data = encode_packet(packet, armor=True)
    with open_gpg(world.alice.home) as theirs:
        assert open_packet(theirs, data, **expect(world)).shard_line == SHARD_LINE
    assert caplog.records
    assert SECRET_HEX not in caplog.text
