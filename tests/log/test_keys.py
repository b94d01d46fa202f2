"""Ed25519 through custody's one verify path, and the key file encodings.

Known-answer vectors: RFC 8032 §7.1 (TEST 1, TEST 2, TEST 3 and TEST SHA(abc)), copied from
the RFC text. Must-fail cases in the spirit of Wycheproof's `ed25519_test.json`, built here
from those vectors: a non-canonical S (S + L), a small-order (identity) public key with the
identity R and S = 0 (which a naive verifier accepts for every message), an all-zero
signature, flipped bits in R, S and the message, and wrong signature lengths. Every valid
vector is also checked with pyca/cryptography, an independent implementation.
"""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from custody.errors import StateError, VerificationError
from custody.log.keys import (
    VerifierKey,
    encode_signing_key,
    encode_vkey,
    generate_signer,
    parse_signing_key,
    parse_vkey,
    verify_signature,
)

# (secret seed, public key, message, signature), hex, from RFC 8032 §7.1.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
]
L = 2**252 + 27742317777372353535851937790883648493  # the order of the Ed25519 base point


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors_verify_and_reproduce(
    seed: str, public: str, message: str, signature: str
) -> None:
    key = VerifierKey(bytes.fromhex(public))
    verify_signature(key, bytes.fromhex(message), bytes.fromhex(signature))
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(
        bytes.fromhex(signature), bytes.fromhex(message)
    )
    signer = generate_signer(bytes.fromhex(seed))
    assert signer.verifier == key
    assert signer.sign(bytes.fromhex(message)).hex() == signature


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 4]) + data[index + 1 :]


def _must_fail_cases() -> list[tuple[str, bytes, bytes, bytes]]:
    _, public, message, signature = (bytes.fromhex(x) for x in RFC8032[1])
    s = int.from_bytes(signature[32:], "little")
    identity = bytes([1]) + bytes(31)
    return [
        ("S + L, not canonical", public, message, signature[:32] + (s + L).to_bytes(32, "little")),
        ("small-order key, identity R, S = 0", identity, b"any message", identity + bytes(32)),
        ("all-zero signature", public, message, bytes(64)),
        ("bit flipped in R", public, message, bytes([signature[0] ^ 1]) + signature[1:]),
        (
            "bit flipped in S",
            public,
            message,
            signature[:40] + bytes([signature[40] ^ 4]) + signature[41:],
        ),
        ("bit flipped in the message", public, bytes([message[0] ^ 0x80]), signature),
        ("empty message instead", public, b"", signature),
        ("signature cut to 63 bytes", public, message, signature[:63]),
        ("signature with a 65th byte", public, message, signature + b"\x00"),
        ("another vector's signature", public, message, bytes.fromhex(RFC8032[2][3])),
    ]


@pytest.mark.parametrize(
    ("public", "message", "signature"),
    [case[1:] for case in _must_fail_cases()],
    ids=[case[0] for case in _must_fail_cases()],
)
def test_wycheproof_style_invalid_signatures_are_refused(
    public: bytes, message: bytes, signature: bytes
) -> None:
    with pytest.raises(VerificationError) as refused:
        verify_signature(VerifierKey(public), message, signature)
    assert refused.value.kind == "bad-signature"


def test_names_derived_from_the_key_follow_signed_note() -> None:
    key = VerifierKey(bytes.fromhex(RFC8032[0][1]))
    assert key.fingerprint == "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
    assert key.name == "custody-log/" + key.fingerprint[:32]
    line = encode_vkey(key)
    assert line.startswith(f"{key.name}+{key.key_id.hex()}+A")
    assert parse_vkey(line) == key


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s + "\n",
        lambda s: " " + s,
        lambda s: s.replace("+", "-", 1),
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
        lambda s: s.replace("custody-log/", "custody-log/0", 1)[:-1],
        lambda s: s[:12] + ("0" if s[12] != "0" else "1") + s[13:],
    ],
)
def test_verifier_key_lines_must_be_exact(mutate: object) -> None:
    line = encode_vkey(VerifierKey(bytes.fromhex(RFC8032[0][1])))
    with pytest.raises(ValueError):
        parse_vkey(mutate(line))  # type: ignore[operator]


def test_signing_key_file_round_trips_and_hides_its_secret() -> None:
    signer = generate_signer(bytes.fromhex(RFC8032[0][0]))
    encoded = encode_signing_key(signer)
    assert encoded == b"custody-appliance-key/1\n" + RFC8032[0][0].encode() + b"\n"
    assert parse_signing_key(encoded, source="k").verifier == signer.verifier
    assert RFC8032[0][0] not in repr(signer)


@pytest.mark.parametrize(
    "data",
    [b"", b"custody-appliance-key/1\n" + b"A" * 64 + b"\n", b"custody-appliance-key/1\n00\n"],
)
def test_malformed_signing_key_files_are_a_state_error(data: bytes) -> None:
    with pytest.raises(StateError):
        parse_signing_key(data, source="k")


@given(st.text(max_size=120))
def test_parse_vkey_of_any_text_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_vkey(text)
