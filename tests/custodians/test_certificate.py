"""Pinning custodian keys: full fingerprints only, and the policy (D01, D02, D04-D08, D10, D15)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from custody.custodians import (
    Fingerprint,
    Gpg,
    display_user_id,
    import_custodian_key,
    load_custodian_key,
    load_custodian_keys,
    parse_fingerprint,
)
from custody.custodians.certificate import describe
from custody.custodians.openpgp import decode_armor
from custody.errors import CustodianKeyError
from tests.custodians import gpgkeys
from tests.custodians.conftest import Keys

FPR = "C32A9DBDCC64B2358B64DD85B429FB4677234301"


def primaries(gpg: Gpg) -> list[str]:
    records = gpg.list_keys()
    return [records[i + 1][9] for i, r in enumerate(records) if r[0] == "pub"]


def refused(gpg: Gpg, data: bytes, fingerprint: str) -> CustodianKeyError:
    with pytest.raises(CustodianKeyError) as caught:
        import_custodian_key(gpg, data, fingerprint)
    assert primaries(gpg) == [], "a refused key must never enter custody's keyring"
    assert fingerprint.upper() in caught.value.message or caught.value.kind == "not-a-fingerprint"
    assert caught.value.hint
    return caught.value


@pytest.mark.parametrize("text", [FPR, FPR.lower(), "ab" * 32])
def test_full_fingerprints_are_accepted_and_upper_cased(text: str) -> None:
    assert parse_fingerprint(text) == text.upper()


@pytest.mark.parametrize(
    "text",
    [
        "Alice",
        "alice@example.org",
        "<alice@example.org>",
        "77234301",  # short id
        "B429FB4677234301",  # long id
        "0x" + FPR,
        FPR[:-1],
        FPR + "0",
        FPR + "\n",
        " " + FPR,
        " ".join(FPR[i : i + 4] for i in range(0, 40, 4)),
        FPR[:-1] + "G",
        FPR[:-1] + "\uff10",  # a full-width digit: a Unicode digit, not ASCII
        FPR[:-1] + "\u0663",
        "",
    ],
)
def test_anything_but_a_full_fingerprint_is_refused_d01(text: str) -> None:
    with pytest.raises(CustodianKeyError) as caught:
        parse_fingerprint(text)
    assert caught.value.kind == "not-a-fingerprint"


def test_a_name_is_refused_before_gpg_runs(custody: Gpg, keys: Keys) -> None:
    error = refused(custody, keys.alice.public, "alice@example.org")
    assert error.kind == "not-a-fingerprint"
    assert list(custody.home.glob("s*")) == []


@pytest.mark.parametrize(
    ("name", "algorithm", "encryption"),
    [
        ("alice", "ed25519", "cv25519"),
        ("nist", "nistp384", "nistp256"),
        ("rsa3072", "rsa3072", "rsa3072"),
        ("bob", "ed25519", "cv25519"),
    ],
)
def test_good_keys_are_pinned(
    custody: Gpg, keys: Keys, name: str, algorithm: str, encryption: str
) -> None:
    key = getattr(keys, name)
    got = import_custodian_key(custody, key.public, key.fingerprint.lower())
    assert got.fingerprint == key.fingerprint
    assert got.encryption_fingerprint in key.subkey_fingerprints()
    assert (got.algorithm, got.encryption_algorithm) == (algorithm, encryption)
    assert got.created <= datetime.now(UTC)
    assert (got.expires is None) == (name in {"bob", "rsa3072"})
    assert primaries(custody) == [key.fingerprint]


def test_binary_certificates_are_accepted(custody: Gpg, keys: Keys) -> None:
    binary = decode_armor(keys.alice.public).data
    assert import_custodian_key(custody, binary, keys.alice.fingerprint).fingerprint


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("expired", "key-expired"),  # D05
        ("soon", "key-expires-too-soon"),  # D05
        ("revoked", "key-revoked"),  # D06
        ("sign_only", "no-encryption-subkey"),  # D07
        ("subkey_expired", "no-encryption-subkey"),  # D07
        ("subkey_revoked", "no-encryption-subkey"),  # D07
        ("rsa2048", "algorithm-policy"),  # D08
        ("dsa", "algorithm-policy"),  # D08
    ],
)
def test_policy_refusals(custody: Gpg, keys: Keys, name: str, kind: str) -> None:
    key = getattr(keys, name)
    assert refused(custody, key.public, key.fingerprint).kind == kind


def test_the_horizon_is_a_parameter(custody: Gpg, keys: Keys) -> None:
    key = import_custodian_key(
        custody, keys.soon.public, keys.soon.fingerprint, horizon=timedelta(days=30)
    )
    assert key.expires is not None
    with pytest.raises(CustodianKeyError) as caught:
        load_custodian_key(custody, key.fingerprint, now=key.expires - timedelta(days=10))
    assert caught.value.kind == "key-expires-too-soon"
    with pytest.raises(CustodianKeyError) as caught:
        load_custodian_key(custody, key.fingerprint, now=key.expires + timedelta(seconds=1))
    assert caught.value.kind == "key-expired"


def test_a_mismatched_fingerprint_is_refused_d04(custody: Gpg, keys: Keys) -> None:
    error = refused(custody, keys.alice.public, keys.bob.fingerprint)
    assert error.kind == "fingerprint-mismatch"
    assert keys.alice.fingerprint in error.message


def test_only_the_pinned_lookalike_gets_in_d02(custody: Gpg, keys: Keys) -> None:
    both = keys.alice.public + keys.lookalike.public
    assert refused(custody, both, keys.alice.fingerprint).kind == "several-certificates"
    error = refused(custody, keys.lookalike.public, keys.alice.fingerprint)
    assert error.kind == "fingerprint-mismatch"
    import_custodian_key(custody, keys.alice.public, keys.alice.fingerprint)
    assert primaries(custody) == [keys.alice.fingerprint]


@pytest.mark.parametrize("armored", [True, False])
def test_several_certificates_are_refused(custody: Gpg, keys: Keys, armored: bool) -> None:
    if armored:
        data = keys.alice.public + keys.bob.public
    else:
        data = decode_armor(keys.alice.public).data + decode_armor(keys.bob.public).data
    assert refused(custody, data, keys.alice.fingerprint).kind == "several-certificates"


def test_secret_keys_are_refused(custody: Gpg, keys: Keys) -> None:
    armored = (gpgkeys.VECTORS / "rsa3072.sec.asc").read_bytes()
    assert refused(custody, armored, keys.rsa3072.fingerprint).kind == "secret-key"
    binary = gpgkeys.run(keys.alice.home, "--export-secret-keys", keys.alice.fingerprint).stdout
    assert refused(custody, binary, keys.alice.fingerprint).kind == "secret-key"
    assert list((custody.home / "private-keys-v1.d").glob("*")) == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n"
        b"-----END PGP PUBLIC KEY BLOCK-----\n",
        bytes(range(256)),
        b"\x99\x01",  # a key packet header that promises more than there is
    ],
)
def test_garbage_is_refused(custody: Gpg, data: bytes) -> None:
    assert refused(custody, data, FPR).kind == "not-openpgp"


def test_oversized_input_is_refused_d10(custody: Gpg, keys: Keys) -> None:
    data = keys.alice.public + b" " * (300 * 1024)
    assert refused(custody, data, keys.alice.fingerprint).kind == "certificate-too-large"


def test_a_flood_of_user_ids_is_refused_d10(custody: Gpg, keys: Keys) -> None:
    uid = b"\xcd\x05Mally"  # an old-format user id packet: tag 13, 5 bytes
    data = decode_armor(keys.alice.public).data + uid * 65
    assert refused(custody, data, keys.alice.fingerprint).kind == "certificate-too-large"


def test_a_v3_key_is_refused_before_gpg_d08(custody: Gpg) -> None:
    v3_body = bytes([3]) + bytes(4) + bytes(2) + bytes([1]) + b"\x00\x08\xff\x00\x08\x03"
    data = bytes([0x99]) + len(v3_body).to_bytes(2, "big") + v3_body
    error = refused(custody, data, FPR)
    assert (error.kind, "version 3" in error.message) == ("algorithm-policy", True)


def test_a_certificate_gpg_rejects_is_refused(custody: Gpg, keys: Keys) -> None:
    """The key packet alone: right fingerprint, but no self-signed user id for gpg to accept."""
    packets = decode_armor(keys.alice.public).data
    size = packets[1] + 2  # old-format header with a one-byte length
    assert refused(custody, packets[:size], keys.alice.fingerprint).kind == "bad-certificate"


def test_user_ids_are_kept_raw_and_shown_escaped(custody: Gpg, keys: Keys) -> None:
    key = import_custodian_key(custody, keys.control_uid.public, keys.control_uid.fingerprint)
    assert key.user_ids == ("Eve\x1b[31m\u202e <eve@example.org>",)
    shown = display_user_id(key.user_ids[0])
    assert shown == "Eve\\x1b[31m\\u202e <eve@example.org>"
    assert shown.isprintable()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Zoë Ñoño <z@example.org>", "Zoë Ñoño <z@example.org>"),
        ("a\\x41", "a\\\\x41"),
        ("tab\there\nnew", "tab\\x09here\\x0anew"),
        ("\x00\x7f\u200b\U000e0001", "\\x00\\x7f\\u200b\\U000e0001"),
    ],
)
def test_display_user_id(raw: str, shown: str) -> None:
    assert display_user_id(raw) == shown


def test_load_rechecks_enrolled_keys_in_one_listing(custody: Gpg, keys: Keys) -> None:
    import_custodian_key(custody, keys.alice.public, keys.alice.fingerprint)
    import_custodian_key(custody, keys.bob.public, keys.bob.fingerprint)
    got = load_custodian_keys(custody, (keys.bob.fingerprint, keys.alice.fingerprint))
    assert [k.fingerprint for k in got] == [keys.bob.fingerprint, keys.alice.fingerprint]
    with pytest.raises(CustodianKeyError) as caught:
        load_custodian_key(custody, keys.lookalike.fingerprint)
    assert caught.value.kind == "key-not-enrolled"


def test_reimporting_a_key_is_idempotent(custody: Gpg, keys: Keys) -> None:
    first = import_custodian_key(custody, keys.alice.public, keys.alice.fingerprint)
    again = import_custodian_key(custody, keys.alice.public, keys.alice.fingerprint)
    assert first == again
    assert primaries(custody) == [keys.alice.fingerprint]


def test_a_key_made_in_the_future_of_now_is_still_described(custody: Gpg, keys: Keys) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    key = import_custodian_key(custody, keys.alice.public, keys.alice.fingerprint, now=later)
    assert base64.b16encode(key.encryption_key_id).decode() == key.encryption_fingerprint[-16:]


def listing(*parts: tuple[str, int, int, str, str], copies: int = 1) -> tuple[tuple[str, ...], ...]:
    """A synthetic colon listing: (caps, algo, bits, curve, fingerprint) per pub/sub record."""
    records: list[tuple[str, ...]] = []
    for index, (caps, algo, bits, curve, fpr) in enumerate(parts * copies):
        kind = "pub" if index % len(parts) == 0 else "sub"
        fields = [
            kind,
            "-",
            str(bits),
            str(algo),
            fpr[-16:],
            "1700000000",
            "",
            "",
            "",
            "",
            "",
            caps,
        ]
        records += [(*fields, "", "", "", "", curve), ("fpr", *[""] * 8, fpr)]
    return tuple(records)


SUB = "D" * 40
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("primary", "sub", "names"),
    [
        ((1, 4096, ""), (1, 4096, ""), ("rsa4096", "rsa4096")),
        ((27, 256, ""), (25, 256, ""), ("ed25519", "cv25519")),  # RFC 9580 Ed25519/X25519
        ((19, 256, "nistp256"), (18, 384, "nistp384"), ("nistp256", "nistp384")),
    ],
)
def test_policy_accepts(
    primary: tuple[int, int, str], sub: tuple[int, int, str], names: tuple[str, str]
) -> None:
    records = listing(("scE", *primary, FPR), ("e", *sub, SUB))
    (key,) = describe(records, (Fingerprint(FPR),), NOW, timedelta(days=730))
    assert (key.algorithm, key.encryption_algorithm, key.encryption_fingerprint) == (*names, SUB)


@pytest.mark.parametrize(
    ("primary", "sub"),
    [
        ((1, 3071, ""), (18, 256, "cv25519")),
        ((22, 456, "ed448"), (18, 448, "cv448")),
        ((19, 256, "brainpoolP256r1"), (18, 256, "cv25519")),
        ((19, 256, "secp256k1"), (18, 256, "cv25519")),
        ((22, 256, "ed25519"), (16, 2048, "")),  # ElGamal encryption subkey
        ((22, 256, "ed25519"), (18, 256, "nistp521")),
    ],
)
def test_policy_refuses_odd_algorithms_d08(
    primary: tuple[int, int, str], sub: tuple[int, int, str]
) -> None:
    records = listing(("scE", *primary, FPR), ("e", *sub, SUB))
    with pytest.raises(CustodianKeyError) as caught:
        describe(records, (Fingerprint(FPR),), NOW, timedelta(days=730))
    assert caught.value.kind == "algorithm-policy"


def test_duplicate_keys_in_a_keyring_are_refused_d15() -> None:
    records = listing(("scE", 22, 256, "ed25519", FPR), ("e", 18, 256, "cv25519", SUB), copies=2)
    with pytest.raises(CustodianKeyError) as caught:
        describe(records, (Fingerprint(FPR),), NOW, timedelta(days=730))
    assert (caught.value.kind, "2 copies" in caught.value.message) == ("key-not-enrolled", True)


def test_a_message_is_not_a_key(custody: Gpg, keys: Keys) -> None:
    message = gpgkeys.run(keys.alice.home, "--passphrase", "p", "--armor", "-c", stdin=b"x").stdout
    assert refused(custody, message, keys.alice.fingerprint).kind == "not-openpgp"
    binary = decode_armor(message).data
    assert refused(custody, binary, keys.alice.fingerprint).kind == "not-openpgp"
