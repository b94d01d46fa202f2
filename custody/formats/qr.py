"""QR chunks: a payload as the contents of self-describing QR codes (docs/spec/qr.md).

This module owns the bytes inside each code: splitting a payload into chunks whose header
binds them to a ceremony id, a shard id and the payload's digest (`encode_chunks`), reading
one code's content (`parse_chunk`) and reassembling found codes in any order
(`assemble_chunks`). It never guesses: codes of two sets, a duplicate, a missing code or a
code from another ceremony or shard are named, never skipped or mixed in. Drawing codes and
finding them in images belong to custody.paper.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from custody.paper.errors import (
    ExpectedPayload,
    PayloadMismatchError,
    QrChunkError,
    verify_expected_payload,
)
from custody.shards import MAX_SHARD_ID

MAGIC: Final = b"CQ"
VERSION: Final = 1
HEADER_BYTES: Final = 21
MAX_CHUNK_DATA: Final = 220
MAX_CODE_BYTES: Final = HEADER_BYTES + MAX_CHUNK_DATA
MAX_CHUNKS: Final = 64
MAX_PAYLOAD_BYTES: Final = 8192
MAX_CEREMONY_ID_BYTES: Final = 256
_CONTEXT_TAG: Final = b"custody qr context v1\x00"
_TAG_BYTES: Final = 8


@dataclass(frozen=True, slots=True)
class QrBinding:
    """Where a set of codes belongs: a ceremony and a shard (0: a document of the ceremony)."""

    ceremony_id: str
    shard_id: int

    def __post_init__(self) -> None:
        encoded = self.ceremony_id.encode("utf-8")
        if not 1 <= len(encoded) <= MAX_CEREMONY_ID_BYTES or not self.ceremony_id.isprintable():
            raise ValueError("a ceremony id is 1..256 bytes of printable text")
        if not 0 <= self.shard_id <= MAX_SHARD_ID:
            raise ValueError(f"a QR shard id is 0..{MAX_SHARD_ID}")

    @property
    def context_tag(self) -> bytes:
        cid = self.ceremony_id.encode("utf-8")
        framed = len(cid).to_bytes(2, "big") + cid + self.shard_id.to_bytes(2, "big")
        return hashlib.sha256(_CONTEXT_TAG + framed).digest()[:_TAG_BYTES]

    def describe(self) -> str:
        what = f"shard {self.shard_id}" if self.shard_id else "the ceremony document"
        return f"{what} of ceremony {self.ceremony_id}"


@dataclass(frozen=True, slots=True)
class QrChunk:
    context_tag: bytes
    payload_tag: bytes
    index: int
    count: int
    data: bytes = field(repr=False)
    source: str = field(default="", compare=False)
    """Where the code was found (a file and page), for messages."""

    def __post_init__(self) -> None:
        tags = (len(self.context_tag), len(self.payload_tag)) == (_TAG_BYTES, _TAG_BYTES)
        if not tags or not 0 <= self.index < self.count <= MAX_CHUNKS:
            raise ValueError("a QR chunk has two 8-byte tags and an index below its count")
        if not 1 <= len(self.data) <= MAX_CHUNK_DATA:
            raise ValueError(f"a QR chunk carries 1..{MAX_CHUNK_DATA} bytes")

    @property
    def set_id(self) -> bytes:
        return self.context_tag + self.payload_tag


@dataclass(frozen=True, slots=True)
class FoundCode:
    """The raw content of one decoded QR code and where it was found."""

    content: bytes = field(repr=False)
    source: str


def encode_chunks(payload: bytes, binding: QrBinding) -> tuple[bytes, ...]:
    """The content of each QR code for `payload`, in index order (spec "Splitting")."""
    if not 1 <= len(payload) <= MAX_PAYLOAD_BYTES:
        raise ValueError(f"QR chunks carry 1..{MAX_PAYLOAD_BYTES} bytes, not {len(payload)}")
    sizes = _split_sizes(len(payload))
    head = MAGIC + bytes([VERSION]) + binding.context_tag + _payload_tag(payload)
    chunks, start = [], 0
    for index, size in enumerate(sizes):
        chunks.append(head + bytes([index, len(sizes)]) + payload[start : start + size])
        start += size
    return tuple(chunks)


def is_custody_code(content: bytes) -> bool:
    return content.startswith(MAGIC)


def parse_chunk(content: bytes, *, source: str) -> QrChunk:
    """One custody code's content (spec "Reassembly", step 1); QrChunkError names `source`."""
    if not is_custody_code(content) or len(content) <= HEADER_BYTES:
        raise _chunk_error(source, "is not a custody QR code or has no data", "bad-chunk")
    if content[2] != VERSION:
        raise _chunk_error(source, f"is of format version {content[2]}, not 1", "bad-chunk")
    index, count = content[19], content[20]
    if not 1 <= count <= MAX_CHUNKS or index >= count or len(content) > MAX_CODE_BYTES:
        raise _chunk_error(source, "has an impossible chunk index, count or size", "bad-chunk")
    return QrChunk(content[3:11], content[11:19], index, count, content[HEADER_BYTES:], source)


def assemble_chunks(
    codes: Sequence[FoundCode],
    *,
    binding: QrBinding | None = None,
    expected: ExpectedPayload | None = None,
) -> bytes:
    """The payload of the custody codes among `codes`, in any order (spec "Reassembly")."""
    chunks = [parse_chunk(c.content, source=c.source) for c in codes if is_custody_code(c.content)]
    if not chunks:
        raise QrChunkError(
            f"no custody QR code was found ({len(codes)} other code(s)).",
            kind="missing-chunk",
            hint="Scan the sheet again, flat and well lit, with every code fully in view.",
        )
    if binding is not None:
        _verify_binding(chunks, binding)
    ordered = _one_complete_set(chunks)
    payload = b"".join(chunk.data for chunk in ordered)
    sizes = [len(chunk.data) for chunk in ordered]
    if (
        len(payload) > MAX_PAYLOAD_BYTES
        or sizes != _split_sizes(len(payload))
        or _payload_tag(payload) != ordered[0].payload_tag
    ):
        raise _chunk_error(
            ordered[0].source, "and its set do not join to their payload", "bad-chunk"
        )
    if expected is not None:
        verify_expected_payload(payload, expected, source=ordered[0].source)
    return payload


def _verify_binding(chunks: Sequence[QrChunk], binding: QrBinding) -> None:
    for chunk in chunks:
        if chunk.context_tag != binding.context_tag:
            raise PayloadMismatchError(
                f"{chunk.source}: a QR code from another ceremony or shard, "
                f"not {binding.describe()}.",
                kind="payload-mismatch",
                hint="Scan only the sheet of this shard; keep other sheets out of view.",
            )


def _one_complete_set(chunks: Sequence[QrChunk]) -> list[QrChunk]:
    sets: dict[bytes, list[QrChunk]] = defaultdict(list)
    for chunk in chunks:
        sets[chunk.set_id].append(chunk)
    if len(sets) > 1:
        where = tuple(members[0].source for members in sets.values())
        raise QrChunkError(
            f"QR codes of {len(sets)} different sets were found ({'; '.join(where)}); "
            "custody will not guess which one is meant.",
            kind="two-sets",
            sources=where,
            hint="Scan one sheet at a time, with other sheets out of view.",
        )
    by_index: dict[int, QrChunk] = {}
    for chunk in chunks:
        if chunk.count != chunks[0].count:
            raise _chunk_error(chunk.source, "disagrees with its set on the count", "bad-chunk")
        if chunk.index in by_index:
            raise _duplicate(by_index[chunk.index], chunk)
        by_index[chunk.index] = chunk
    count = chunks[0].count
    missing = [i + 1 for i in range(count) if i not in by_index]
    if missing:
        raise QrChunkError(
            f"QR {', '.join(map(str, missing))} of {count} could not be read "
            f"(found {', '.join(str(i + 1) for i in sorted(by_index))}).",
            kind="missing-chunk",
            hint="Scan the missing code again, or type the text of the sheet instead.",
        )
    return [by_index[i] for i in range(count)]


def _duplicate(first: QrChunk, second: QrChunk) -> QrChunkError:
    return QrChunkError(
        f"QR {first.index + 1} of {first.count} was found twice ({first.source}; {second.source}).",
        kind="duplicate-chunk",
        sources=(first.source, second.source),
        hint="Give each page or image once.",
    )


def _split_sizes(length: int) -> list[int]:
    count = -(-length // MAX_CHUNK_DATA)
    size, longer = divmod(length, count)
    return [size + 1 if index < longer else size for index in range(count)]


def _payload_tag(payload: bytes) -> bytes:
    return hashlib.sha256(payload).digest()[:_TAG_BYTES]


def _chunk_error(source: str, problem: str, kind: str) -> QrChunkError:
    return QrChunkError(f"{source}: the QR code {problem}.", kind=kind, sources=(source,))
