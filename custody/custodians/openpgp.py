"""OpenPGP framing, read in Python: ASCII armor and packet boundaries (RFC 9580 §4.2, §6.2).

This module owns what custody checks about OpenPGP bytes *without* GnuPG, so that the checks
do not depend on gpg's messages: how many certificates a file holds, whether it carries secret
key material, a v4 key's fingerprint, and which key ids an encrypted message names.

It refuses to do cryptography: it never verifies a signature or decrypts. GnuPG stays the engine;
this module is the independent second look. Bad bytes raise `FramingError`, which callers turn
into their own domain error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

# Tags whose body may arrive in partial-length chunks (RFC 9580 §4.2.1.4).
_PARTIAL_TAGS: Final = frozenset({8, 9, 11, 18, 20})
_MAX_PACKETS: Final = 4096
_ARMOR_LINE: Final = 64
_HEADER_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9-]*): ([\x20-\x7e]*)")
_BODY_RE: Final = re.compile(r"[A-Za-z0-9+/=]+")
_CRC_RE: Final = re.compile(r"=([A-Za-z0-9+/]{4})")


class FramingError(Exception):
    """The bytes are not well-formed OpenPGP framing; the message says where."""


@dataclass(frozen=True, slots=True)
class Armor:
    """One decoded armor block: its label (`MESSAGE`, `PUBLIC KEY BLOCK`...), headers, data."""

    label: str
    headers: tuple[tuple[str, str], ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class RawPacket:
    """One OpenPGP packet: its tag and its body, partial chunks already joined."""

    tag: int
    body: bytes


def _crc24_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = (crc << 1) ^ (0x1864CFB if crc & 0x800000 else 0)
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE: Final = _crc24_table()


def crc24(data: bytes) -> int:
    """The armor checksum of RFC 9580 §6.1, a byte at a time from a table."""
    crc = 0xB704CE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC24_TABLE[(crc >> 16) ^ byte]
    return crc


def encode_armor(label: str, data: bytes, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The armor custody writes: LF line ends, 64-character lines, a CRC line."""
    lines = [f"-----BEGIN PGP {label}-----"]
    lines += [f"{key}: {value}" for key, value in headers]
    lines.append("")
    body = base64.b64encode(data).decode("ascii")
    lines += [body[i : i + _ARMOR_LINE] for i in range(0, len(body), _ARMOR_LINE)]
    lines.append("=" + base64.b64encode(crc24(data).to_bytes(3, "big")).decode("ascii"))
    lines.append(f"-----END PGP {label}-----")
    return ("\n".join(lines) + "\n").encode("ascii")


def is_armored(data: bytes) -> bool:
    return data.lstrip(b" \t\r\n").startswith(b"-----BEGIN PGP ")


def decode_armor(data: bytes) -> Armor:
    """Read exactly one armor block, tolerating what other tools write (CRLF, headers, wrapping).

    Text around the block is refused, and so is a second block: a key file must hold one thing.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise FramingError("the armored text is not ASCII") from e
    lines = text.replace("\r\n", "\n").strip(" \t\n").split("\n")
    begin = re.fullmatch(r"-----BEGIN PGP ([A-Z ]{1,40})-----", lines[0])
    if begin is None:
        raise FramingError("the text does not start with an armor line")
    label = begin.group(1)
    if lines[-1] != f"-----END PGP {label}-----":
        raise FramingError(f"the armor does not end with its END line ({label})")
    if sum(line.startswith("-----BEGIN PGP ") for line in lines) != 1:
        raise FramingError("the text holds more than one armor block")
    blank = lines.index("") if "" in lines else -1
    if blank < 1:
        raise FramingError("the armor has no empty line after its headers")
    headers = tuple(_armor_header(line) for line in lines[1:blank])
    return Armor(label, headers, _armor_body(lines[blank + 1 : -1]))


def _armor_header(line: str) -> tuple[str, str]:
    match = _HEADER_RE.fullmatch(line)
    if match is None:
        raise FramingError("an armor header line is not of the form 'Key: value'")
    return match.group(1), match.group(2)


def _armor_body(lines: list[str]) -> bytes:
    crc_text = None
    if lines and _CRC_RE.fullmatch(lines[-1]):
        crc_text = lines.pop()[1:]
    if not lines or not all(_BODY_RE.fullmatch(line) for line in lines):
        raise FramingError("the armor body is not base64")
    try:
        data = base64.b64decode("".join(lines), validate=True)
    except binascii.Error as e:
        raise FramingError("the armor body is not base64") from e
    if crc_text is not None and base64.b64decode(crc_text) != crc24(data).to_bytes(3, "big"):
        raise FramingError("the armor checksum does not match its body")
    return data


def split_packets(data: bytes) -> tuple[RawPacket, ...]:
    """Cut binary OpenPGP data into packets; any truncation or bad header is refused."""
    packets: list[RawPacket] = []
    offset = 0
    while offset < len(data):
        if len(packets) >= _MAX_PACKETS:
            raise FramingError(f"more than {_MAX_PACKETS} packets")
        packet, offset = _read_packet(data, offset)
        packets.append(packet)
    if not packets:
        raise FramingError("no OpenPGP packets")
    return tuple(packets)


def _read_packet(data: bytes, offset: int) -> tuple[RawPacket, int]:
    ctb = data[offset]
    if not ctb & 0x80:
        raise FramingError(f"byte {offset} is not an OpenPGP packet header")
    if ctb & 0x40:
        tag = ctb & 0x3F
        body, end = _new_format_body(data, offset + 1, tag)
    else:
        tag = (ctb >> 2) & 0x0F
        body, end = _old_format_body(data, offset + 1, ctb & 0x03)
    if tag == 0:
        raise FramingError(f"packet at byte {offset} has the reserved tag 0")
    return RawPacket(tag, body), end


def _take(data: bytes, start: int, size: int) -> bytes:
    if start + size > len(data):
        raise FramingError("the data ends inside a packet")
    return data[start : start + size]


def _new_format_body(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    chunks: list[bytes] = []
    while True:
        first = _take(data, pos, 1)[0]
        if first < 192:
            size, pos = first, pos + 1
        elif first < 224:
            size, pos = ((first - 192) << 8) + _take(data, pos + 1, 1)[0] + 192, pos + 2
        elif first == 255:
            size, pos = int.from_bytes(_take(data, pos + 1, 4), "big"), pos + 5
        else:
            if tag not in _PARTIAL_TAGS:
                raise FramingError(f"a tag {tag} packet uses a partial length")
            chunks.append(_take(data, pos + 1, 1 << (first & 0x1F)))
            pos += 1 + (1 << (first & 0x1F))
            continue
        chunks.append(_take(data, pos, size))
        return b"".join(chunks), pos + size


def _old_format_body(data: bytes, pos: int, length_type: int) -> tuple[bytes, int]:
    if length_type == 3:
        raise FramingError("an old-format packet has an indeterminate length")
    width = (1, 2, 4)[length_type]
    size = int.from_bytes(_take(data, pos, width), "big")
    return _take(data, pos + width, size), pos + width + size


def v4_fingerprint(key_body: bytes) -> str:
    """The upper-case hex fingerprint of a version 4 key packet body (RFC 4880 §12.2)."""
    if not key_body or key_body[0] != 4:
        raise FramingError("not a version 4 key packet")
    # SHA-1 is what defines a v4 fingerprint; GnuPG computes the same value independently.
    digest = hashlib.sha1(b"\x99" + len(key_body).to_bytes(2, "big") + key_body)  # noqa: S324
    return digest.hexdigest().upper()


def single_recipient(message: bytes) -> tuple[bytes, int]:
    """The (8-byte key id, algorithm) of a message that is exactly one PKESK v3 + one SEIPD v1.

    Anything else is refused: a second recipient, a wildcard key id, AEAD/OCB (tag 20),
    unprotected data (tag 9), a signature or literal packet outside the encryption (D09).
    """
    packets = split_packets(message)
    tags = tuple(p.tag for p in packets)
    if tags != (1, 18):
        raise FramingError(f"the message has packets {tags}, not one PKESK and one SEIPD")
    pkesk, seipd = packets[0].body, packets[1].body
    if len(pkesk) < 10 or pkesk[0] != 3:
        raise FramingError("the session key packet is not version 3")
    if not seipd or seipd[0] != 1:
        raise FramingError("the encrypted data packet is not version 1")
    if pkesk[1:9] == bytes(8):
        raise FramingError("the message hides its recipient (wildcard key id)")
    return pkesk[1:9], pkesk[9]
