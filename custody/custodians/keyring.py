"""Custody's keyring at work: pin a custodian key, encrypt to it, decrypt, challenge.

This module owns the steps that use GnuPG on behalf of custody: `import_custodian_key` (look in
a scratch home first, so a refused key never enters custody's keyring), `load_custodian_keys`
(re-check enrolled keys at a given time), `encrypt_to_custodian` (to exactly one encryption
subkey, then proven so by parsing the message in Python), `decrypt` (the custodian's side,
with their own gpg-agent or smartcard) and the enrolment challenge.

It refuses to encrypt to anything but a `CustodianKey` that passed the policy, to return a
message whose recipients are not exactly that subkey, and to pass a passphrase that holds a
line break or NUL to gpg (D11).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from custody.custodians import openpgp
from custody.custodians.certificate import (
    CustodianKey,
    Fingerprint,
    describe,
    parse_fingerprint,
    refusal,
)
from custody.custodians.gpg import Gpg
from custody.errors import CustodianKeyError, GpgUnavailableError

MAX_CERTIFICATE_BYTES: Final = 256 * 1024
MAX_USER_IDS: Final = 64
DEFAULT_EXPIRY_HORIZON: Final = timedelta(days=730)
CHALLENGE_BYTES: Final = 16
_BAD_PASSPHRASE: Final = 11  # GPG_ERR_BAD_PASSPHRASE, the low 16 bits of gpg's error code


def import_custodian_key(
    gpg: Gpg,
    key_bytes: bytes,
    expected_fingerprint: str,
    *,
    now: datetime | None = None,
    horizon: timedelta = DEFAULT_EXPIRY_HORIZON,
) -> CustodianKey:
    """Pin a custodian's public key into custody's keyring, or refuse it with a reason."""
    fingerprint = parse_fingerprint(expected_fingerprint)  # 1. before gpg ever runs (D01)
    when = now or datetime.now(UTC)
    binary = _check_framing(key_bytes, fingerprint)  # 2. what Python can see without gpg
    with gpg.scratch() as scratch:  # 3. gpg's view, in a home that is thrown away
        if scratch.import_keys(binary) != (fingerprint,):
            raise refusal(fingerprint, "bad-certificate", "GnuPG does not accept it")
        (looked_at,) = describe(scratch.list_keys(), (fingerprint,), when, horizon)
        minimal = scratch.export_minimal(fingerprint)
    if gpg.import_keys(minimal) != (fingerprint,):  # 4. only the minimal copy enters custody
        raise refusal(fingerprint, "bad-certificate", "custody's keyring does not take it")
    enrolled = load_custodian_key(gpg, fingerprint, now=when, horizon=horizon)
    if enrolled.encryption_fingerprint != looked_at.encryption_fingerprint:
        raise refusal(fingerprint, "bad-certificate", "it differs once in custody's keyring")
    return enrolled


def load_custodian_keys(
    gpg: Gpg,
    fingerprints: tuple[str, ...],
    *,
    now: datetime | None = None,
    horizon: timedelta = DEFAULT_EXPIRY_HORIZON,
) -> tuple[CustodianKey, ...]:
    """Enrolled keys, re-checked against the policy at `now`, with one listing of the keyring."""
    pinned = tuple(parse_fingerprint(f) for f in fingerprints)
    records = gpg.list_keys()
    when = now or datetime.now(UTC)
    return describe(records, pinned, when, horizon)


def load_custodian_key(
    gpg: Gpg,
    fingerprint: str,
    *,
    now: datetime | None = None,
    horizon: timedelta = DEFAULT_EXPIRY_HORIZON,
) -> CustodianKey:
    (key,) = load_custodian_keys(gpg, (fingerprint,), now=now, horizon=horizon)
    return key


def _check_framing(key_bytes: bytes, fingerprint: Fingerprint) -> bytes:
    """The binary certificate, after the checks that need no gpg (D10, secret keys, count)."""
    if len(key_bytes) > MAX_CERTIFICATE_BYTES:
        raise refusal(fingerprint, "certificate-too-large", f"over {MAX_CERTIFICATE_BYTES} bytes")
    if key_bytes.count(b"-----BEGIN PGP ") > 1:
        raise refusal(fingerprint, "several-certificates", "it holds several armor blocks")
    try:
        binary = key_bytes
        if openpgp.is_armored(key_bytes):
            armor = openpgp.decode_armor(key_bytes)
            if "PRIVATE" in armor.label or "SECRET" in armor.label:
                raise refusal(fingerprint, "secret-key", f"it is a PGP {armor.label}")
            if armor.label != "PUBLIC KEY BLOCK":
                raise openpgp.FramingError(f"it is a PGP {armor.label}, not a public key")
            binary = armor.data
        packets = openpgp.split_packets(binary)
    except openpgp.FramingError as e:
        raise refusal(fingerprint, "not-openpgp", f"it is not an OpenPGP key: {e}") from e
    tags = [p.tag for p in packets]
    if {5, 7} & set(tags):
        raise refusal(fingerprint, "secret-key", "it contains secret key material")
    if tags.count(6) > 1:
        raise refusal(fingerprint, "several-certificates", f"it holds {tags.count(6)} keys")
    if tags[0] != 6:
        raise refusal(fingerprint, "not-openpgp", "it does not start with a public key")
    if tags.count(13) > MAX_USER_IDS:
        raise refusal(fingerprint, "certificate-too-large", f"over {MAX_USER_IDS} user ids")
    version = packets[0].body[0] if packets[0].body else 0
    if version != 4:
        reason = f"it is a version {version} key (GnuPG 2.2 and custody need v4)"
        raise refusal(fingerprint, "algorithm-policy", reason)
    found = openpgp.v4_fingerprint(packets[0].body)
    if found != fingerprint:
        raise refusal(fingerprint, "fingerprint-mismatch", f"the file holds key {found} instead")
    return binary


def encrypt_to_custodian(gpg: Gpg, key: CustodianKey, plaintext: bytes, *, armor: bool) -> bytes:
    """An OpenPGP message to exactly `key`'s encryption subkey, checked before it is returned."""
    # The `!` makes gpg use this very subkey rather than pick one for the primary key.
    message = gpg.encrypt(plaintext, f"{key.encryption_fingerprint}!")
    verify_recipients(message, key)
    return openpgp.encode_armor("MESSAGE", message) if armor else message


def verify_recipients(message: bytes, key: CustodianKey) -> None:
    """Raise unless the message is encrypted to `key`'s encryption subkey and nobody else."""
    try:
        binary = openpgp.decode_armor(message).data if openpgp.is_armored(message) else message
        key_id, _algorithm = openpgp.single_recipient(binary)
    except openpgp.FramingError as e:
        raise _unexpected(key, str(e)) from e
    if not hmac.compare_digest(key_id, key.encryption_key_id):
        raise _unexpected(key, f"it is encrypted to key id {key_id.hex().upper()}")


def _unexpected(key: CustodianKey, reason: str) -> GpgUnavailableError:
    return GpgUnavailableError(
        f"GnuPG produced a message for {key.fingerprint} that custody refuses: {reason}.",
        kind="unexpected-recipients",
        hint="check that custody's GnuPG home and gpg binary are the appliance's own",
    )


def decrypt(gpg: Gpg, message: bytes, *, passphrase: str | None = None) -> bytes:
    """Decrypt with the keys of `gpg`'s home (agent, smartcard, or a loopback passphrase)."""
    if passphrase is not None and re.search("[\r\n\0]", passphrase):
        raise CustodianKeyError(
            "The passphrase contains a line break or NUL, which GnuPG cannot be given safely.",
            kind="passphrase-refused",
            hint="type the passphrase into gpg's own prompt instead",
        )
    plaintext, status = gpg.decrypt(message, passphrase)
    if plaintext is not None:
        return plaintext
    keywords = {k for k, _ in status}
    errors = [v.split()[-1] for k, v in status if k == "ERROR" and v.strip()]
    codes = {int(code) & 0xFFFF for code in errors if re.fullmatch("[0-9]{1,10}", code)}
    recipients = ", ".join(v.split()[0] for k, v in status if k == "ENC_TO") or "no key id"
    if _BAD_PASSPHRASE in codes:
        kind, reason = "bad-passphrase", "the passphrase is wrong"
    elif "NO_SECKEY" in keywords and "DECRYPTION_KEY" not in keywords:
        kind, reason = "no-secret-key", f"no secret key here for {recipients}"
    else:
        kind, reason = "decryption-failed", f"the message to {recipients} does not decrypt"
    raise CustodianKeyError(
        f"GnuPG could not decrypt with the keys in {gpg.home}: {reason}.",
        kind=kind,
        hint="check that the custodian's own key (or card) is the one in use",
    )


@dataclass(frozen=True, slots=True)
class Challenge:
    """An enrolment challenge: the message for the custodian, and a digest of the answer only."""

    fingerprint: Fingerprint
    message: bytes
    answer_digest: bytes

    def __post_init__(self) -> None:
        if len(self.answer_digest) != 32 or not self.message:
            raise ValueError("a challenge needs a message and a SHA-256 answer digest")


def make_challenge(
    gpg: Gpg, key: CustodianKey, *, random_bytes: Callable[[int], bytes] = secrets.token_bytes
) -> Challenge:
    """Encrypt a fresh random code to `key`; the custodian proves their key by reading it back."""
    raw = random_bytes(CHALLENGE_BYTES)
    if len(raw) != CHALLENGE_BYTES:
        raise ValueError(f"random_bytes returned {len(raw)} bytes, not {CHALLENGE_BYTES}")
    code = base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    grouped = "-".join(code[i : i + 4] for i in range(0, len(code), 4))
    text = f"custody challenge\ncustodian: {key.fingerprint}\nanswer: {grouped}\n"
    message = encrypt_to_custodian(gpg, key, text.encode("ascii"), armor=True)
    return Challenge(key.fingerprint, message, hashlib.sha256(code.encode("ascii")).digest())


def check_challenge_answer(challenge: Challenge, answer: str) -> None:
    """Raise unless `answer` is the challenge's code (spaces, dashes and case do not matter)."""
    typed = re.sub(r"[\s-]", "", answer).lower().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(hashlib.sha256(typed).digest(), challenge.answer_digest):
        raise CustodianKeyError(
            f"The answer to the challenge for {challenge.fingerprint} is wrong.",
            kind="challenge-failed",
            hint="ask the custodian to decrypt the challenge with that key and type the code again",
        )
