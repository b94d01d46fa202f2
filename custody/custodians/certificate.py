"""Custodian certificates: full fingerprints, custody's key policy, and the typed description.

This module owns what a custodian key is to custody: a `Fingerprint` (the full primary
fingerprint, the only way a key is ever named: D01, D02), the policy a key must pass, and the
frozen `CustodianKey` the rest of custody uses. It reads gpg's colon listing (doc/DETAILS) but
runs nothing; `keyring` feeds it. User ids are kept for display only, through
`display_user_id`, and never select a key.

It refuses, each with its own `CustodianKeyError.kind`: a revoked key (D06), an expired one
or one expiring within the horizon (D05), no valid encryption subkey (D07), and algorithms
outside the policy (D08): only Ed25519/X25519, NIST P-256/P-384 and RSA of 3072 bits or more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, NewType

from custody.errors import CustodianKeyError

Fingerprint = NewType("Fingerprint", str)

_FINGERPRINT_RE: Final = re.compile(rb"[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}")
_ESCAPE_RE: Final = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_CURVES: Final = {
    "ed25519": "ed25519",
    "cv25519": "cv25519",
    "nistp256": "nistp256",
    "nistp384": "nistp384",
}
_ECC_ALGORITHMS: Final = frozenset({18, 19, 22})  # ECDH, ECDSA, EdDSA (with a curve field)
_NAMED_ALGORITHMS: Final = {25: "cv25519", 27: "ed25519"}  # X25519, Ed25519 (RFC 9580)
_RSA: Final = frozenset({1, 2, 3})
_RSA_MIN_BITS: Final = 3072
_OLD_NAMES: Final = {16: "ElGamal", 17: "DSA", 20: "ElGamal"}


def parse_fingerprint(text: str) -> Fingerprint:
    """A full v4 (40 hex) or v5/v6 (64 hex) fingerprint, upper-cased; nothing else (D01)."""
    raw = text.encode("utf-8", "surrogateescape")
    if _FINGERPRINT_RE.fullmatch(raw) is None:
        raise CustodianKeyError(
            "A custodian key must be named by its full fingerprint (40 or 64 hex digits);"
            " a name, e-mail address or short or long key id is not enough.",
            kind="not-a-fingerprint",
            hint="copy the fingerprint from 'gpg --fingerprint', without spaces",
        )
    return Fingerprint(raw.decode("ascii").upper())


@dataclass(frozen=True, slots=True)
class CustodianKey:
    """A custodian key that passed the policy: what custody encrypts to and what it shows.

    `expires` is the earlier of the primary key's and the encryption subkey's expiry.
    """

    fingerprint: Fingerprint
    encryption_fingerprint: Fingerprint
    algorithm: str
    encryption_algorithm: str
    created: datetime
    expires: datetime | None
    user_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        for value in (self.fingerprint, self.encryption_fingerprint):
            if not re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", value):
                raise ValueError(f"not a full upper-case fingerprint: {value!r}")
        if self.created.tzinfo is None or (self.expires and self.expires.tzinfo is None):
            raise ValueError("key times must be timezone-aware")
        if self.expires is not None and self.expires <= self.created:
            raise ValueError("a key cannot expire before it was created")

    @property
    def encryption_key_id(self) -> bytes:
        """The 8-byte key id a PKESK names: the low bytes for v4, the high bytes for v5/v6."""
        raw = bytes.fromhex(self.encryption_fingerprint)
        return raw[-8:] if len(raw) == 20 else raw[:8]


def display_user_id(user_id: str) -> str:
    """A user id safe to print: backslashes, control and non-printable characters escaped."""
    out = []
    for char in user_id:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


_Key = tuple["_Part", tuple["_Part", ...], tuple[str, ...]]  # primary, subkeys, user ids


def refusal(fingerprint: str, kind: str, reason: str, hint: str | None = None) -> CustodianKeyError:
    return CustodianKeyError(
        f"Custodian key {fingerprint} is refused: {reason}.",
        kind=kind,
        hint=hint or "ask the custodian for their current public key: gpg --export --armor FPR",
    )


@dataclass(frozen=True, slots=True)
class _Part:
    """One `pub` or `sub` record of a colon listing, with its fingerprint."""

    validity: str
    bits: int
    algorithm: int
    created: datetime
    expires: datetime | None
    capabilities: str
    curve: str
    fingerprint: str

    def usable(self, now: datetime) -> bool:
        return self.validity not in {"r", "e", "i"} and not _expired(self.expires, now)


def describe(
    records: tuple[tuple[str, ...], ...],
    fingerprints: tuple[Fingerprint, ...],
    now: datetime,
    horizon: timedelta,
) -> tuple[CustodianKey, ...]:
    """The policy, applied to the key with each primary fingerprint in one colon listing."""
    listed: dict[str, list[_Key]] = {}
    for key in _keys(records):
        listed.setdefault(key[0].fingerprint, []).append(key)
    return tuple(_describe(listed.get(f, []), f, now, horizon) for f in fingerprints)


def _describe(
    matches: list[_Key], fingerprint: Fingerprint, now: datetime, horizon: timedelta
) -> CustodianKey:
    if len(matches) != 1:  # a fresh home cannot hold duplicates (D15); refuse if it does
        reason = f"custody's keyring holds {len(matches)} copies of it, not exactly one"
        raise refusal(
            fingerprint, "key-not-enrolled", reason, hint="enrol the custodian's key first"
        )
    primary, subkeys, uids = matches[0]
    if primary.validity == "r":
        raise refusal(fingerprint, "key-revoked", "it has been revoked")
    if primary.validity == "e" or _expired(primary.expires, now):
        raise refusal(fingerprint, "key-expired", "it has expired")
    if primary.validity == "i":
        raise refusal(fingerprint, "bad-certificate", "GnuPG marks it invalid")
    algorithm = _algorithm(fingerprint, primary)
    encryption = _encryption_part(fingerprint, (primary, *subkeys), now)
    ends = [t for t in (primary.expires, encryption.expires) if t is not None]
    expires = min(ends) if ends else None
    if expires is not None and expires < now + horizon:
        raise refusal(
            fingerprint,
            "key-expires-too-soon",
            f"it expires on {expires:%Y-%m-%d}, within {horizon.days} days",
            hint=f"the custodian can extend it: gpg --quick-set-expire {fingerprint} 5y '*'",
        )
    enc_fpr = Fingerprint(encryption.fingerprint)
    enc_algorithm = _algorithm(fingerprint, encryption)
    return CustodianKey(
        fingerprint, enc_fpr, algorithm, enc_algorithm, primary.created, expires, uids
    )


def _encryption_part(fingerprint: str, parts: tuple[_Part, ...], now: datetime) -> _Part:
    """The newest usable encryption-capable (sub)key; every usable one must pass the policy."""
    usable = [p for p in parts if "e" in p.capabilities and p.usable(now)]
    if not usable or "E" not in parts[0].capabilities:
        raise refusal(
            fingerprint,
            "no-encryption-subkey",
            "it has no valid encryption subkey (sign-only, or the subkey expired or was revoked)",
        )
    for part in usable:
        _algorithm(fingerprint, part)
    return max(usable, key=lambda p: p.created)


def _algorithm(fingerprint: str, part: _Part) -> str:
    if part.algorithm in _RSA and part.bits >= _RSA_MIN_BITS:
        return f"rsa{part.bits}"
    if part.algorithm in _ECC_ALGORITHMS and part.curve in _CURVES:
        return _CURVES[part.curve]
    if part.algorithm in _NAMED_ALGORITHMS:
        return _NAMED_ALGORITHMS[part.algorithm]
    name = _OLD_NAMES.get(part.algorithm, f"algorithm {part.algorithm}")
    name = f"RSA-{part.bits}" if part.algorithm in _RSA else name
    name = f"{name} ({part.curve})" if part.curve else name
    raise refusal(
        fingerprint,
        "algorithm-policy",
        f"it uses {name}; custody accepts Ed25519/X25519, NIST P-256/P-384 and RSA >= 3072",
        hint="the custodian can make a new key: gpg --quick-gen-key 'NAME' future-default",
    )


def _keys(records: tuple[tuple[str, ...], ...]) -> list[_Key]:
    """Group colon records into (primary, subkeys, user ids), one tuple per certificate."""
    keys: list[tuple[_Part, list[_Part], list[str]]] = []
    pending: tuple[str, ...] | None = None
    for record in records:
        kind = record[0]
        if kind in {"pub", "sub"}:
            pending = record
        elif kind == "fpr" and pending is not None:
            part = _part(pending, record[9])
            if pending[0] == "pub":
                keys.append((part, [], []))
            elif keys:
                keys[-1][1].append(part)
            pending = None
        elif kind == "uid" and keys:
            keys[-1][2].append(_user_id(record[9]))
    return [(p, tuple(s), tuple(u)) for p, s, u in keys]


def _part(record: tuple[str, ...], fingerprint: str) -> _Part:
    fields = (*record, *[""] * 20)
    created = _time(fields[5]) or _EPOCH
    bits, algorithm = int(fields[2] or 0), int(fields[3] or 0)
    return _Part(
        fields[1], bits, algorithm, created, _time(fields[6]), fields[11], fields[16], fingerprint
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _time(field: str) -> datetime | None:
    return datetime.fromtimestamp(int(field), UTC) if field.isascii() and field.isdigit() else None


def _expired(expires: datetime | None, now: datetime) -> bool:
    return expires is not None and expires <= now


def _user_id(field: str) -> str:
    """Undo gpg's `\\xHH` escaping, then decode UTF-8, replacing what is not."""
    raw = _ESCAPE_RE.sub(
        lambda m: bytes([int(m.group(1), 16)]), field.encode("utf-8", "surrogateescape")
    )
    return raw.decode("utf-8", "replace")
