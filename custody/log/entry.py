"""The log entry: its body, hash, signature and line encodings (log.md §3).

This module owns the byte formats and nothing else: it builds and signs new entries from
checked values and reads stored lines back. It does not decide whether an entry belongs where
it was found; that is `verify`. A stored line that does not parse raises LogIntegrityError
(`log-modified`); a bad argument when building one raises ValueError.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from custody.errors import LogIntegrityError, VerificationError
from custody.log.canonical import JSON, check_payload, encode_canonical, parse_canonical
from custody.log.keys import Signer, VerifierKey, verify_signature
from custody.log.times import TIME, is_log_time

ENTRY_VERSION: Final = 1
HASH_DOMAIN: Final = b"custody-log-entry-hash/1\x00"
SIG_DOMAIN: Final = b"custody-log-entry-sig/1\x00"
ZERO_HASH: Final = bytes(32)
MAX_LINE_BYTES: Final = 524_288
BODY_KEYS: Final = frozenset({"ceremony", "event", "payload", "prev", "seq", "time", "v"})

EVENT_TYPE: Final = re.compile(r"(?=.{3,64}\Z)[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+", re.ASCII)
CEREMONY_ID: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
_HASH_HEX: Final = re.compile(r"[0-9a-f]{64}", re.ASCII)
LINE_HEAD: Final = b'{"entry":'
_TAIL: Final = re.compile(
    rb',"hash":"([0-9a-f]{64})","kid":"([0-9a-f]{8})","sig":"([0-9a-f]{128})"}'
)
TAIL_BYTES: Final = len(b',"hash":"","kid":"","sig":""}') + 64 + 8 + 128


@dataclass(frozen=True, slots=True)
class Entry:
    """One signed entry, as read back from its line."""

    seq: int
    time: str
    ceremony_id: str | None
    event: str
    payload: Mapping[str, JSON]
    prev: bytes
    hash: bytes
    key_id: bytes
    signature: bytes
    line: bytes

    def __post_init__(self) -> None:
        if self.seq < 1 or len(self.prev) != 32 or len(self.hash) != 32:
            raise ValueError("an entry has seq >= 1 and 32-byte hashes")
        if len(self.key_id) != 4 or len(self.signature) != 64:
            raise ValueError("an entry has a 4-byte key id and a 64-byte signature")


def encode_body(
    *, seq: int, time: str, ceremony_id: str | None, event: str, payload: JSON, prev: bytes
) -> bytes:
    body: dict[str, JSON] = {
        "ceremony": ceremony_id,
        "event": event,
        "payload": payload,
        "prev": prev.hex(),
        "seq": seq,
        "time": time,
        "v": ENTRY_VERSION,
    }
    return encode_canonical(body)


def entry_hash(body: bytes) -> bytes:
    return hashlib.sha256(HASH_DOMAIN + body).digest()


def signed_message(digest: bytes) -> bytes:
    return SIG_DOMAIN + digest


def seal_entry(
    signer: Signer,
    *,
    seq: int,
    time: str,
    ceremony_id: str | None,
    event: str,
    payload: Mapping[str, object],
    prev: bytes,
) -> Entry:
    """Check the values, then build, hash and sign the entry that follows `prev`."""
    if not EVENT_TYPE.fullmatch(event):
        raise ValueError(f"event type {event!r} is not a lower-case dotted name")
    if ceremony_id is not None and not CEREMONY_ID.fullmatch(ceremony_id):
        raise ValueError(f"ceremony id {ceremony_id!r} is not [a-z0-9][a-z0-9._-]{{0,63}}")
    if not is_log_time(time):
        raise ValueError(f"time {time!r} is not YYYY-MM-DDTHH:MM:SSZ")
    checked = check_payload(payload)
    body = encode_body(
        seq=seq, time=time, ceremony_id=ceremony_id, event=event, payload=checked, prev=prev
    )
    digest = entry_hash(body)
    signature = signer.sign(signed_message(digest))
    key_id = signer.verifier.key_id
    line = b'%s%s,"hash":"%s","kid":"%s","sig":"%s"}' % (
        LINE_HEAD,
        body,
        digest.hex().encode(),
        key_id.hex().encode(),
        signature.hex().encode(),
    )
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"the entry line would be {len(line)} bytes; at most {MAX_LINE_BYTES}")
    return Entry(seq, time, ceremony_id, event, checked, prev, digest, key_id, signature, line)


def split_line(line: bytes) -> tuple[bytes, bytes, bytes, bytes] | None:
    """(body, hash hex, key id hex, signature hex) found by position, or None for a bad shape.

    The three hex fields are returned as the line spells them, checked to be lower-case hex.
    """
    cut = len(line) - TAIL_BYTES
    if cut <= len(LINE_HEAD) or len(line) > MAX_LINE_BYTES or not line.startswith(LINE_HEAD):
        return None
    tail = _TAIL.fullmatch(line, cut)
    if tail is None:
        return None
    return line[len(LINE_HEAD) : cut], tail[1], tail[2], tail[3]


def parse_entry_line(line: bytes, *, position: int) -> Entry:
    """Read a stored line strictly (shape, hash, body fields); the signature is not checked."""
    parts = split_line(line)
    if parts is None:
        raise _modified(position, "is not an entry line")
    body, digest = parts[0], bytes.fromhex(parts[1].decode())
    if entry_hash(body) != digest:
        raise _modified(position, "does not match its hash")
    try:
        fields = parse_canonical(body)
    except ValueError as error:
        raise _modified(position, f"has a body that does not parse ({error})") from None
    if not isinstance(fields, dict) or fields.keys() != BODY_KEYS:
        raise _modified(position, "has a body with the wrong fields")
    return _entry_from_fields(fields, digest, parts, line, position)


def _entry_from_fields(
    fields: dict[str, JSON],
    digest: bytes,
    parts: tuple[bytes, bytes, bytes, bytes],
    line: bytes,
    position: int,
) -> Entry:
    key_id, signature = bytes.fromhex(parts[2].decode()), bytes.fromhex(parts[3].decode())
    seq, payload, ceremony = fields["seq"], fields["payload"], fields["ceremony"]
    if fields["v"] != ENTRY_VERSION or type(seq) is not int or seq < 1:
        raise _modified(position, "has a wrong version or sequence number field")
    if not isinstance(payload, dict):
        raise _modified(position, "has a payload that is not an object")
    time = _text(fields["time"], TIME, position, "time")
    if not is_log_time(time):
        raise _modified(position, "has a time that is not a real instant")
    return Entry(
        seq=seq,
        time=time,
        ceremony_id=None
        if ceremony is None
        else _text(ceremony, CEREMONY_ID, position, "ceremony"),
        event=_text(fields["event"], EVENT_TYPE, position, "event type"),
        payload=payload,
        prev=bytes.fromhex(_text(fields["prev"], _HASH_HEX, position, "previous hash")),
        hash=digest,
        key_id=key_id,
        signature=signature,
        line=line,
    )


def _text(value: JSON, pattern: re.Pattern[str], position: int, name: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _modified(position, f"has a malformed {name}")
    return value


def entry_document(entry: Entry) -> dict[str, object]:
    """An entry as one flat JSON object for people and tools (not the signed encoding)."""
    return {
        "seq": entry.seq,
        "time": entry.time,
        "ceremony": entry.ceremony_id,
        "event": entry.event,
        "payload": entry.payload,
        "prev": entry.prev.hex(),
        "hash": entry.hash.hex(),
        "kid": entry.key_id.hex(),
        "sig": entry.signature.hex(),
    }


def verify_entry_signature(entry: Entry, key: VerifierKey) -> None:
    """Raise LogIntegrityError unless `entry` was signed by `key`."""
    if entry.key_id != key.key_id:
        raise LogIntegrityError(
            f"Entry {entry.seq} of the log is signed by an unknown key (id {entry.key_id.hex()}).",
            kind="log-unknown-signer",
            seq=entry.seq,
        )
    try:
        verify_signature(key, signed_message(entry.hash), entry.signature)
    except VerificationError:
        raise _modified(entry.seq, "has a signature that does not verify") from None


def _modified(position: int, what: str) -> LogIntegrityError:
    return LogIntegrityError(
        f"Entry {position} of the log {what}: it was modified.",
        kind="log-modified",
        seq=position,
        hint="Compare with an export or a checkpoint kept outside the appliance.",
    )
