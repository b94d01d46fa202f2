"""The custodian packet, version 1 (docs/spec/packet.md): what one custodian holds for one shard.

This module owns the packet's three encodings: the plaintext a custodian's `gpg --decrypt`
prints (§1), the header the appliance signs (§2), and the two outer forms, an armored file (§3)
and a binary form for paper and QR (§4). It seals a packet (encrypt to exactly one custodian
subkey, sign the header) and opens one at restore, checking header, signature, ceremony,
custodian and digest *before* anything is decrypted (§6).

It refuses any second encoding: a parsed packet is re-encoded and must give the same bytes.
Parsing arbitrary bytes raises only `PacketFormatError`; a packet that parses but does not
belong raises `PacketMismatchError`. No error carries plaintext or a shard value.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from custody.custodians import (
    CustodianKey,
    Gpg,
    decrypt,
    encrypt_to_custodian,
    openpgp,
)
from custody.errors import PacketFormatError, PacketMismatchError

VERSION: Final = 1
MAX_PACKET_BYTES: Final = 64 * 1024
RESTORE_LINE: Final = "gpg --decrypt FILE | grep '^spike:' | spike operator restore"
_CONTEXT: Final = b"custody-packet-header\0"
_ARMOR_START: Final = b"-----BEGIN PGP MESSAGE-----\n"
# The custodians boundary lets this module import only custody.errors and custody.custodians,
# so these two copy custody.log.entry.CEREMONY_ID and custody.shards.MAX_SHARD_ID; a test
# (tests/cli/test_packet_cli.py) keeps each equal to its original.
CEREMONY_ID: Final = r"[a-z0-9][a-z0-9._-]{0,63}"
MAX_SHARD_ID: Final = 1000
_FINGERPRINT: Final = r"[0-9A-F]{40}|[0-9A-F]{64}"
_ID: Final = r"[1-9][0-9]{0,3}"  # the range, 1..MAX_SHARD_ID, is checked on the integer
_ROOT_KEY: Final = r"0[23][0-9a-f]{64}"
_SHA256: Final = r"sha256:[0-9a-f]{64}"
_SHARD_LINE: Final = rf"spike:({_ID}):[0-9a-f]{{64}}"
# Each text is one regular language: a full match is the parse, so no second encoding passes.
_CONTENT_RE: Final = re.compile(
    rf"custody-packet: {VERSION}\nceremony: ({CEREMONY_ID})\ncustodian: ({_FINGERPRINT})\n"
    rf"shard: ({_ID})\nthreshold: ({_ID})\nshards: ({_ID})\nroot-key-fingerprint: ({_ROOT_KEY})\n"
    rf"commitments: ({_SHA256})\nrestore: {re.escape(RESTORE_LINE)}\n\n({_SHARD_LINE})\n"
)
_HEADER_RE: Final = re.compile(
    rf"custody-packet-header: {VERSION}\nceremony: ({CEREMONY_ID})\nshard: ({_ID})\n"
    rf"custodian: ({_FINGERPRINT})\nmessage: sha256:([0-9a-f]{{64}})\n"
    rf"signer: ed25519:([0-9a-f]{{64}})\nsignature: ed25519:([0-9a-f]{{128}})\n"
)


class PacketSigner(Protocol):
    """The appliance's Ed25519 key as the packet needs it: a public key and detached signing."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def _check_common(ceremony: str, custodian: str, shard_id: int) -> None:
    if not re.fullmatch(CEREMONY_ID, ceremony):
        raise ValueError("a ceremony id is 1-64 of [a-z0-9._-], starting with a letter or digit")
    if not re.fullmatch(_FINGERPRINT, custodian):
        raise ValueError("the custodian must be a full upper-case fingerprint")
    if not 1 <= shard_id <= MAX_SHARD_ID:
        raise ValueError(f"a shard id is 1..{MAX_SHARD_ID}")


@dataclass(frozen=True, slots=True)
class PacketContent:
    """The plaintext of §1. `shard_line` is secret, so it is left out of `repr`."""

    ceremony: str
    custodian: str
    shard_id: int
    threshold: int
    shards: int
    root_key_fingerprint: str
    commitments_digest: str
    shard_line: str = field(repr=False)

    def __post_init__(self) -> None:
        _check_common(self.ceremony, self.custodian, self.shard_id)
        if not 1 <= self.threshold <= self.shards <= MAX_SHARD_ID or self.shard_id > self.shards:
            raise ValueError(f"need 1 <= shard id, threshold <= shards <= {MAX_SHARD_ID}")
        if not re.fullmatch(_ROOT_KEY, self.root_key_fingerprint):
            raise ValueError("a root-key fingerprint is 66 lower-case hex starting 02 or 03")
        if not re.fullmatch(_SHA256, self.commitments_digest):
            raise ValueError("a commitments digest is 'sha256:' and 64 lower-case hex")
        match = re.fullmatch(_SHARD_LINE, self.shard_line)
        if match is None or int(match.group(1)) != self.shard_id:
            raise ValueError(f"the shard line is not 'spike:{self.shard_id}:<64 lower-case hex>'")


@dataclass(frozen=True, slots=True)
class PacketHeader:
    """The header of §2; `signed_bytes` is what the appliance signs."""

    ceremony: str
    shard_id: int
    custodian: str
    message_digest: bytes
    signer: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_common(self.ceremony, self.custodian, self.shard_id)
        if (len(self.message_digest), len(self.signer), len(self.signature)) != (32, 32, 64):
            raise ValueError("need a 32-byte digest, a 32-byte key and a 64-byte signature")

    def lines(self) -> list[str]:
        return [
            f"custody-packet-header: {VERSION}",
            f"ceremony: {self.ceremony}",
            f"shard: {self.shard_id}",
            f"custodian: {self.custodian}",
            f"message: sha256:{self.message_digest.hex()}",
            f"signer: ed25519:{self.signer.hex()}",
            f"signature: ed25519:{self.signature.hex()}",
        ]

    def signed_bytes(self) -> bytes:
        return _CONTEXT + "".join(f"{line}\n" for line in self.lines()[:-1]).encode("ascii")


@dataclass(frozen=True, slots=True)
class Packet:
    """A sealed packet: its signed header and the binary OpenPGP message the header covers."""

    header: PacketHeader
    message: bytes

    def __post_init__(self) -> None:
        try:
            openpgp.single_recipient(self.message)
        except openpgp.FramingError as e:
            raise ValueError(f"the OpenPGP message is refused: {e}") from e


def encode_packet_content(content: PacketContent) -> bytes:
    """The plaintext of §1, exactly as the custodian's `gpg --decrypt` will print it."""
    return (
        f"custody-packet: {VERSION}\nceremony: {content.ceremony}\n"
        f"custodian: {content.custodian}\nshard: {content.shard_id}\n"
        f"threshold: {content.threshold}\nshards: {content.shards}\n"
        f"root-key-fingerprint: {content.root_key_fingerprint}\n"
        f"commitments: {content.commitments_digest}\nrestore: {RESTORE_LINE}\n\n"
        f"{content.shard_line}\n"
    ).encode("ascii")


def parse_packet_content(data: bytes) -> PacketContent:
    """The plaintext of §1, strictly. Errors never quote it: it holds the shard."""
    match = _CONTENT_RE.fullmatch(_ascii(data, "custody-packet: "))
    if match is None:
        raise _format("packet-content-malformed", "The decrypted text is not a v1 packet text.")
    ceremony, custodian, shard, threshold, shards, root_key, digest, line, _ = match.groups()
    try:
        return PacketContent(
            ceremony, custodian, int(shard), int(threshold), int(shards), root_key, digest, line
        )
    except ValueError as e:
        raise _format("packet-content-malformed", f"The decrypted text is invalid: {e}.") from e


def encode_packet(packet: Packet, *, armor: bool) -> bytes:
    """The file form (§3) when `armor`, else the binary form (§4)."""
    lines = packet.header.lines()
    if armor:
        return openpgp.encode_armor("MESSAGE", packet.message, tuple(("Comment", x) for x in lines))
    return "".join(f"{line}\n" for line in lines).encode("ascii") + b"\n" + packet.message


def parse_packet(data: bytes) -> Packet:
    """Either form, strictly (§5). Anything else raises `PacketFormatError`."""
    if len(data) > MAX_PACKET_BYTES:
        raise _format("packet-too-large", f"The packet is over {MAX_PACKET_BYTES} bytes.")
    armored = data.startswith(_ARMOR_START)
    if armored:
        try:
            armor = openpgp.decode_armor(data)
        except openpgp.FramingError as e:
            raise _format("packet-malformed", f"The packet's armor is damaged: {e}.") from e
        head = "".join(f"{v}\n" for k, v in armor.headers if k == "Comment").encode("ascii")
        message = armor.data
    else:
        head, _, message = data.partition(b"\n\n")
        head += b"\n"
    header = _parse_header(head)
    try:
        packet = Packet(header, message)
    except ValueError as e:
        raise _format("packet-bad-message", f"The packet for shard {header.shard_id}: {e}.") from e
    if encode_packet(packet, armor=armored) != data:
        raise _format("packet-not-canonical", "The packet is not in its one canonical encoding.")
    return packet


def _parse_header(data: bytes) -> PacketHeader:
    match = _HEADER_RE.fullmatch(_ascii(data, "custody-packet-header: "))
    if match is None:
        raise _format("packet-malformed", "This is not a custody packet (file or binary form).")
    ceremony, shard, custodian, *hexes = match.groups()
    try:
        digest, signer, signature = (bytes.fromhex(h) for h in hexes)
        return PacketHeader(ceremony, int(shard), custodian, digest, signer, signature)
    except ValueError as e:
        raise _format("packet-malformed", f"The packet header is invalid: {e}.") from e


def _ascii(data: bytes, version_prefix: str) -> str:
    """The text, or an error saying whether it is another version or not ours at all."""
    text = data.decode("ascii", "replace")
    first = text.partition("\n")[0]
    if first.startswith(version_prefix) and first != f"{version_prefix}{VERSION}":
        raise _format("packet-unknown-version", f"This packet is not version {VERSION}.")
    return text


def _format(kind: str, message: str) -> PacketFormatError:
    return PacketFormatError(message, kind=kind, hint="use the custodian's original packet file")


def seal_packet(
    gpg: Gpg, key: CustodianKey, content: PacketContent, signer: PacketSigner
) -> Packet:
    """Encrypt the content to exactly `key`, then sign the header over the message's digest."""
    if content.custodian != key.fingerprint:
        raise ValueError("the packet content names another custodian than the key")
    message = encrypt_to_custodian(gpg, key, encode_packet_content(content), armor=False)
    digest = hashlib.sha256(message).digest()
    unsigned = PacketHeader(
        content.ceremony, content.shard_id, content.custodian, digest, signer.public_key, bytes(64)
    )
    signature = signer.sign(unsigned.signed_bytes())
    header = replace(unsigned, signature=signature)
    if not _signature_ok(header):
        raise ValueError("the signer's signature does not verify under its own public key")
    return Packet(header, message)


def _signature_ok(header: PacketHeader) -> bool:
    try:
        VerifyKey(header.signer).verify(header.signed_bytes(), header.signature)
    except BadSignatureError:
        return False
    return True


def verify_packet(
    packet: Packet,
    *,
    appliance_key: bytes,
    ceremony: str,
    custodian: str,
    shard_id: int | None = None,
) -> None:
    """Steps 2-5 of §6: raise `PacketMismatchError` unless the packet is this appliance's,
    for this ceremony and custodian (and shard), and its message is the one signed."""
    header = packet.header
    if len(appliance_key) != 32:
        raise ValueError("the appliance key is a 32-byte Ed25519 public key")
    checks = (
        (header.signer == appliance_key, "wrong-appliance", "was sealed by another appliance key"),
        (_signature_ok(header), "bad-signature", "has a header signature that does not verify"),
        (header.ceremony == ceremony, "wrong-ceremony", f"belongs to ceremony {header.ceremony}"),
        (header.custodian == custodian, "wrong-custodian", f"is for custodian {header.custodian}"),
        (shard_id in (None, header.shard_id), "wrong-shard", f"holds shard {header.shard_id}"),
        (hashlib.sha256(packet.message).digest() == header.message_digest,
         "message-digest-mismatch", "has a message that is not the one signed"),
    )  # fmt: skip
    for ok, kind, reason in checks:
        if not ok:
            raise PacketMismatchError(
                f"The packet for shard {header.shard_id} {reason} (expected ceremony {ceremony},"
                f" custodian {custodian}).",
                kind=kind,
                hint="check that this is the custodian's packet from that ceremony; do not use it",
            )


def open_packet(
    gpg: Gpg,
    data: bytes,
    *,
    appliance_key: bytes,
    ceremony: str,
    custodian: str,
    shard_id: int | None = None,
    passphrase: str | None = None,
) -> PacketContent:
    """§6: parse, verify, and only then decrypt with the custodian's key and cross-check."""
    packet = parse_packet(data)  # 1
    # 2-5, all before anything is decrypted
    verify_packet(
        packet,
        appliance_key=appliance_key,
        ceremony=ceremony,
        custodian=custodian,
        shard_id=shard_id,
    )
    plaintext = decrypt(gpg, packet.message, passphrase=passphrase)  # 6
    content = parse_packet_content(plaintext)  # 7
    header = packet.header
    said = (header.ceremony, header.custodian, header.shard_id)
    if (content.ceremony, content.custodian, content.shard_id) != said:
        raise PacketMismatchError(  # 8
            f"The packet for shard {header.shard_id} decrypts to text for another shard,"
            " custodian or ceremony than its signed header says.",
            kind="content-mismatch",
            hint="do not use this packet; report it as tampered",
        )
    return content
