"""The appliance's Ed25519 keys: signing, verifying, and their file encodings.

This is the only module that touches pynacl. It owns the key fingerprint, key name and key id
(log.md §1), the `appliance.key` and `appliance.pub` encodings, and the one Ed25519 verify
that every entry and checkpoint goes through (`verify_signature`). A signing key never
appears in a repr, a message or an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Final

import nacl.exceptions
import nacl.signing

from custody.errors import StateError, VerificationError

KEY_NAME_PREFIX: Final = "custody-log/"
_ALGORITHM_ED25519: Final = b"\x01"
_KEY_FILE_HEADER: Final = b"custody-appliance-key/1\n"
_KEY_FILE: Final = re.compile(rb"custody-appliance-key/1\n([0-9a-f]{64})\n")
_VKEY: Final = re.compile(r"(custody-log/[0-9a-f]{32})\+([0-9a-f]{8})\+([A-Za-z0-9+/]{44})")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """An appliance public key, with the names derived from it."""

    public_key: bytes
    fingerprint: str = field(init=False)
    name: str = field(init=False)
    key_id: bytes = field(init=False)
    _nacl: nacl.signing.VerifyKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.public_key) is not bytes or len(self.public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        fingerprint = hashlib.sha256(self.public_key).hexdigest()
        name = KEY_NAME_PREFIX + fingerprint[:32]
        key_id = hashlib.sha256(
            name.encode("ascii") + b"\n" + _ALGORITHM_ED25519 + self.public_key
        ).digest()[:4]
        object.__setattr__(self, "fingerprint", fingerprint)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "key_id", key_id)
        object.__setattr__(self, "_nacl", nacl.signing.VerifyKey(self.public_key))


def verify_signature(key: VerifierKey, message: bytes, signature: bytes) -> None:
    """Raise VerificationError unless `signature` is `key`'s Ed25519 signature of `message`."""
    # libsodium refuses non-canonical S, small-order keys and small-order R (RFC 8032 §5.1.7
    # plus the usual strictness); a 64-byte length check keeps pynacl from reading a
    # signature-with-message.
    if len(signature) != 64:
        raise VerificationError("an Ed25519 signature is 64 bytes", kind="bad-signature")
    try:
        key._nacl.verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        raise VerificationError("the signature does not verify", kind="bad-signature") from None


@dataclass(frozen=True, slots=True, repr=False)
class Signer:
    """The appliance's signing key. Build it with `generate_signer` or `parse_signing_key`."""

    _key: nacl.signing.SigningKey
    verifier: VerifierKey = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verifier", VerifierKey(bytes(self._key.verify_key)))

    def __repr__(self) -> str:
        return f"Signer(fingerprint={self.verifier.fingerprint})"

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)


def generate_signer(seed: bytes | None = None) -> Signer:
    """A new signing key from `seed` (32 bytes, for reproducible tests) or from the OS RNG."""
    if seed is None:
        return Signer(nacl.signing.SigningKey.generate())
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    return Signer(nacl.signing.SigningKey(seed))


def encode_signing_key(signer: Signer) -> bytes:
    return _KEY_FILE_HEADER + bytes(signer._key).hex().encode("ascii") + b"\n"


def parse_signing_key(data: bytes, *, source: str) -> Signer:
    match = _KEY_FILE.fullmatch(data)
    if match is None:
        raise StateError(
            f"{source} is not a custody appliance key file.",
            kind="home-incomplete",
            hint="Restore the home from its backup; custody never rewrites a key.",
        )
    return Signer(nacl.signing.SigningKey(bytes.fromhex(match[1].decode("ascii"))))


def encode_vkey(key: VerifierKey) -> str:
    """The signed-note verifier key line (checkpoint.md §3), without its LF."""
    encoded = base64.b64encode(_ALGORITHM_ED25519 + key.public_key).decode("ascii")
    return f"{key.name}+{key.key_id.hex()}+{encoded}"


def parse_vkey(text: str) -> VerifierKey:
    """A verifier key line; ValueError unless its name and id are the ones its key implies."""
    match = _VKEY.fullmatch(text)
    if match is None:
        raise ValueError("not a custody verifier key line")
    try:
        raw = base64.b64decode(match[3], validate=True)
    except binascii.Error:
        raise ValueError("the verifier key is not base64") from None
    if len(raw) != 33 or raw[:1] != _ALGORITHM_ED25519:
        raise ValueError("the verifier key is not an Ed25519 key")
    key = VerifierKey(raw[1:])
    if encode_vkey(key) != text:
        raise ValueError("the verifier key's name or id does not match its key")
    return key
