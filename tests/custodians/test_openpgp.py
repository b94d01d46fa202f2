"""OpenPGP framing read in Python: armor, packet boundaries, and the single-recipient rule."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.custodians import openpgp
from custody.custodians.openpgp import FramingError
from tests.custodians import gpgkeys
from tests.custodians.conftest import Keys

PKESK = bytes([0x84, 10, 3]) + bytes.fromhex("650AA7062D3F8E0B") + bytes([18])
SEIPD = bytes([0xD2, 3, 1, 0xAA, 0xBB])


def test_armor_round_trip_and_crc() -> None:
    data = bytes(range(200))
    text = openpgp.encode_armor("MESSAGE", data, (("Comment", "hello: world"),))
    lines = text.decode().splitlines()
    assert lines[0] == "-----BEGIN PGP MESSAGE-----"
    assert lines[1] == "Comment: hello: world"
    assert all(len(line) == 64 for line in lines[3:6])
    armor = openpgp.decode_armor(text)
    assert (armor.label, armor.headers, armor.data) == (
        "MESSAGE",
        (("Comment", "hello: world"),),
        data,
    )
    assert openpgp.crc24(b"") == 0xB704CE


def test_armor_from_other_tools_is_read() -> None:
    body = base64.b64encode(b"\x01\x02\x03" * 40).decode()
    text = f"\r\n-----BEGIN PGP PUBLIC KEY BLOCK-----\r\nVersion: X 1\r\n\r\n{body}\r\n"
    text += "-----END PGP PUBLIC KEY BLOCK-----\r\n\r\n"
    assert openpgp.decode_armor(text.encode()).data == b"\x01\x02\x03" * 40


@pytest.mark.parametrize(
    "text",
    [
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n=AAAA\n-----END PGP MESSAGE-----\n",  # bad CRC
        b"-----BEGIN PGP MESSAGE-----\n\nAA!A\n-----END PGP MESSAGE-----\n",
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
        b"-----BEGIN PGP MESSAGE-----\nAAAA\n-----END PGP MESSAGE-----\n",  # no empty line
        b"-----BEGIN PGP MESSAGE-----\nno colon\n\nAAAA\n-----END PGP MESSAGE-----\n",
        b"text first\n-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----\n",
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----\ntext after\n",
        b"-----BEGIN PGP MESSAGE-----\n\n\xff\n-----END PGP MESSAGE-----\n",
        b"-----BEGIN PGP MESSAGE-----\n\n-----END PGP MESSAGE-----\n",
    ],
)
def test_damaged_armor_is_refused(text: bytes) -> None:
    with pytest.raises(FramingError):
        openpgp.decode_armor(text)


def test_packet_lengths_of_both_formats() -> None:
    two_byte = bytes([0xC6, 0xC0, 0x08]) + bytes(200)  # new format, 192-8383 form
    four_byte = bytes([0xCB, 0xFF, 0, 0, 0, 3]) + b"abc"
    old_two = bytes([0x99, 0, 4]) + b"\x04abc"
    old_four = bytes([0x9A, 0, 0, 0, 1]) + b"z"
    packets = openpgp.split_packets(two_byte + four_byte + old_two + old_four)
    assert [(p.tag, len(p.body)) for p in packets] == [(6, 200), (11, 3), (6, 4), (6, 1)]


def test_partial_lengths_join_for_data_packets_only() -> None:
    partial = bytes([0xD2, 0xE1]) + b"ab" + bytes([0x02]) + b"cd"  # 2 bytes, then final 2
    assert openpgp.split_packets(partial)[0].body == b"abcd"
    with pytest.raises(FramingError, match="partial"):
        openpgp.split_packets(bytes([0xC6, 0xE1]) + b"ab" + bytes([0x02]) + b"cd")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x7f", bytes([0xC6, 0x05]) + b"abc", bytes([0x9B]), bytes([0xC0, 0])],
)
def test_bad_packets_are_refused(data: bytes) -> None:
    with pytest.raises(FramingError):
        openpgp.split_packets(data)


def test_single_recipient() -> None:
    assert openpgp.single_recipient(PKESK + SEIPD) == (bytes.fromhex("650AA7062D3F8E0B"), 18)


@pytest.mark.parametrize(
    "message",
    [
        PKESK + PKESK + SEIPD,  # two recipients
        PKESK,
        SEIPD,
        PKESK + SEIPD + SEIPD,
        PKESK + bytes([0xD4, 2, 1, 0]),  # AEAD / OCB (D09)
        PKESK + bytes([0xC9, 2, 1, 0]),  # no integrity protection
        bytes([0x84, 10, 3]) + bytes(8) + bytes([18]) + SEIPD,  # wildcard key id
        bytes([0x84, 10, 6]) + bytes(9) + SEIPD,  # not a v3 PKESK
        PKESK + bytes([0xD2, 1, 2]),  # SEIPD v2
    ],
)
def test_anything_but_one_pkesk_and_one_seipd_is_refused(message: bytes) -> None:
    with pytest.raises(FramingError):
        openpgp.single_recipient(message)


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_framing_errors(data: bytes) -> None:
    for parse in (openpgp.split_packets, openpgp.decode_armor, openpgp.single_recipient):
        with contextlib.suppress(FramingError):
            parse(data)


@given(st.binary(max_size=300), st.sampled_from(["MESSAGE", "PUBLIC KEY BLOCK"]))
def test_armor_round_trips(data: bytes, label: str) -> None:
    if data:
        assert openpgp.decode_armor(openpgp.encode_armor(label, data)).data == data


def test_armor_matches_gnupg_byte_for_byte(gpg_root: Path) -> None:
    """GnuPG's own `--enarmor` is an independent implementation of base64 lines and CRC-24."""
    data = bytes(range(256)) * 3
    home = gpgkeys.new_home(gpg_root)
    theirs = gpgkeys.run(home, "--enarmor", stdin=data).stdout
    ours = openpgp.encode_armor(
        "ARMORED FILE", data, (("Comment", 'Use "gpg --dearmor" for unpacking'),)
    )
    assert ours == theirs


def test_v4_fingerprint_matches_gnupg(keys: Keys) -> None:
    packets = openpgp.split_packets(openpgp.decode_armor(keys.alice.public).data)
    assert openpgp.v4_fingerprint(packets[0].body) == keys.alice.fingerprint
    with pytest.raises(FramingError):
        openpgp.v4_fingerprint(b"\x03" + packets[0].body[1:])
