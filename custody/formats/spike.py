"""SPIKE's shard file, `spike.recovery.<id>.txt`, read strictly and written byte-exact.

The format (docs/spec/spike-shard.md): ASCII `spike:<id>:<value>` where <id> is a plain
decimal 1..1000 and <value> is the 32-byte big-endian share value as 64 hex digits, with no
trailing newline. SPIKE up to v0.4.0 wrote the value as standard base64; that form is read,
never written. One trailing LF or CRLF is tolerated (editors add them) and reported;
anything else after the value is refused.

Python's own parsers are lenient (`int()` takes spaces and underscores, `bytes.fromhex`
takes whitespace, `$` matches before a newline), so every field is matched with
`re.fullmatch` on bytes with explicit ASCII classes before it is converted.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Final, Literal

from custody.errors import ShardFormatError
from custody.field import N
from custody.shards import MAX_SHARD_ID, Shard

PREFIX: Final = b"spike:"
MAX_SHARD_FILE_BYTES: Final = 256
FILE_NAME: Final = re.compile(r"spike\.recovery\.([1-9][0-9]{0,3})\.txt")

_DECIMAL: Final = re.compile(rb"[0-9]+")
_PLAIN_ID: Final = re.compile(rb"[1-9][0-9]{0,3}")
_HEX_64: Final = re.compile(rb"[0-9a-fA-F]{64}")
_HEX_ANY: Final = re.compile(rb"[0-9a-fA-F]*")
_LEGACY_BASE64: Final = re.compile(rb"[A-Za-z0-9+/]{43}=")
_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

Encoding = Literal["hex", "legacy-base64"]


@dataclass(frozen=True, slots=True)
class ParsedShard:
    shard: Shard
    encoding: Encoding
    notes: tuple[str, ...]
    """What was tolerated on the way, e.g. a trailing newline; empty for SPIKE's exact output."""


def shard_file_name(shard_id: int) -> str:
    return f"spike.recovery.{shard_id}.txt"


def id_from_file_name(name: str) -> int | None:
    """The id a `spike.recovery.<id>.txt` name carries, or None for any other name."""
    match = FILE_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def encode_shard_line(shard: Shard) -> bytes:
    """Exactly what SPIKE writes: `spike:<id>:<64 lowercase hex>`, no newline."""
    return PREFIX + str(shard.id).encode("ascii") + b":" + shard.value_bytes().hex().encode()


def parse_shard_text(data: bytes, *, source: str) -> ParsedShard:
    """A shard from the bytes of one shard file; ShardFormatError names `source` and the fault."""
    where = f"{source}: line 1"
    text, notes = _strip_line_ending(_check_encoding(data, source), where)
    if not text.startswith(PREFIX) or text.count(b":") != 2:
        raise _error(where, "is not of the form spike:<id>:<value>", "bad-shard-format")
    raw_id, raw_value = text[len(PREFIX) :].split(b":")
    shard_id = _parse_id(raw_id, where)
    value, encoding, value_notes = _parse_value(raw_value, where)
    _check_value_range(value, shard_id, where)
    shard = Shard(id=shard_id, value=value, source=source)
    return ParsedShard(shard=shard, encoding=encoding, notes=notes + value_notes)


def _check_encoding(data: bytes, source: str) -> bytes:
    if not data:
        raise ShardFormatError(f"{source}: the file is empty.", kind="empty-shard-file")
    if data.startswith(_BOMS) or b"\x00" in data:
        raise ShardFormatError(
            f"{source}: the file starts with a byte-order mark or holds NUL bytes; "
            "a SPIKE shard file is plain ASCII.",
            kind="bad-encoding",
            hint="Save the file as plain ASCII (no BOM, not UTF-16).",
        )
    if not data.isascii():
        raise ShardFormatError(
            f"{source}: the file holds non-ASCII bytes; a SPIKE shard file is plain ASCII.",
            kind="bad-encoding",
        )
    return data


def _strip_line_ending(data: bytes, where: str) -> tuple[bytes, tuple[str, ...]]:
    notes: tuple[str, ...] = ()
    for ending, note in ((b"\r\n", "trailing CRLF ignored"), (b"\n", "trailing newline ignored")):
        if data.endswith(ending):
            data, notes = data[: -len(ending)], (note,)
            break
    if data != data.rstrip() or b"\n" in data or b"\r" in data:
        raise _error(
            where,
            "has more after the value than one line ending (spaces, tabs or further lines)",
            "trailing-garbage",
        )
    return data, notes


def _parse_id(raw_id: bytes, where: str) -> int:
    if _PLAIN_ID.fullmatch(raw_id) and int(raw_id) <= MAX_SHARD_ID:
        return int(raw_id)
    if not _DECIMAL.fullmatch(raw_id):
        # The text is not echoed: with the fields swapped it would be part of the value.
        return _refuse_id(where, "the id is not a plain decimal number (digits 0-9 only)")
    if raw_id.startswith(b"0") and raw_id.strip(b"0"):
        return _refuse_id(where, "the id has leading zeros; SPIKE writes it as a plain decimal")
    return _refuse_id(where, f"the id is outside 1..{MAX_SHARD_ID}")


def _refuse_id(where: str, reason: str) -> int:
    raise _error(where, f"has a bad shard id: {reason}", "invalid-shard-id")


def _parse_value(raw: bytes, where: str) -> tuple[int, Encoding, tuple[str, ...]]:
    if _HEX_64.fullmatch(raw):
        notes = ("upper-case hex read as lower-case",) if raw != raw.lower() else ()
        return int(raw, 16), "hex", notes
    if _LEGACY_BASE64.fullmatch(raw):
        decoded = base64.b64decode(raw, validate=True)
        if len(decoded) == 32 and base64.b64encode(decoded) == raw:
            return int.from_bytes(decoded, "big"), "legacy-base64", ("legacy base64 value",)
    if _HEX_ANY.fullmatch(raw):
        raise _error(
            where, f"has a value of {len(raw)} hex digits; a SPIKE shard has 64", "bad-shard-length"
        )
    raise _error(where, "has a value with characters that are not hex digits", "bad-hex")


def _check_value_range(value: int, shard_id: int, where: str) -> None:
    # Shard checks this too; checking here first lets the message name the file's line.
    if value == 0:
        raise _error(
            where,
            f"gives shard {shard_id} the value zero, which no SPIKE split produces",
            "zero-shard",
        )
    if value >= N:
        raise _error(
            where,
            f"gives shard {shard_id} a value that is not below the P-256 order; "
            "custody never reduces a value silently",
            "non-canonical-scalar",
        )


def _error(where: str, problem: str, kind: str) -> ShardFormatError:
    return ShardFormatError(f"{where} {problem}.", kind=kind)


_ROOT_KEY_HEX: Final = re.compile(rb"[0-9a-f]{64}(?:\r?\n)?")


def parse_root_key_text(data: bytes, *, source: str) -> int:
    """A root key file: 64 lowercase hex digits (SPIKE's key as hex), one line ending allowed."""
    if not _ROOT_KEY_HEX.fullmatch(data):
        raise ShardFormatError(
            f"{source}: a root key file holds exactly 64 lowercase hex digits.", kind="bad-root-key"
        )
    key = int(data.strip(), 16)
    if not 0 < key < N:
        raise ShardFormatError(
            f"{source}: the key is zero or not below the P-256 order; SPIKE makes no such key.",
            kind="bad-root-key",
        )
    return key
