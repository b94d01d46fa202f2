"""Shard: one Shamir point of a SPIKE root key, valid by construction.

A `Shard` can only exist with an id in 1..1000 (SPIKE's own bound, checked as a small
integer before any field arithmetic: an id that is 0 mod N would let one forged shard dictate
the result) and a value in 1..N-1 (SPIKE never reduces, and refuses zero). Its value never
appears in `repr`, so a traceback cannot leak it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from custody.errors import ShardFormatError, ShardSetError
from custody.field import SCALAR_BYTES, N

MIN_SHARD_ID: Final = 1
MAX_SHARD_ID: Final = 1000
MAX_THRESHOLD: Final = MAX_SHARD_ID


@dataclass(frozen=True, slots=True)
class Shard:
    id: int
    value: int = field(repr=False)
    source: str = field(default="", compare=False)
    """Where the shard came from (a file name), for messages; not part of its identity."""

    def __post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        if not MIN_SHARD_ID <= self.id <= MAX_SHARD_ID:
            raise ShardFormatError(
                f"{where}shard id {self.id} is outside {MIN_SHARD_ID}..{MAX_SHARD_ID}.",
                kind="invalid-shard-id",
            )
        if self.value == 0:
            raise ShardFormatError(
                f"{where}shard {self.id} has the value zero, which no SPIKE split produces.",
                kind="zero-shard",
            )
        if not 0 < self.value < N:
            raise ShardFormatError(
                f"{where}shard {self.id} has a value that is not below the P-256 order; "
                "custody never reduces a value silently.",
                kind="non-canonical-scalar",
            )

    @property
    def point(self) -> tuple[int, int]:
        return (self.id, self.value)

    def value_bytes(self) -> bytes:
        """The 32-byte big-endian value, leading zeros kept."""
        return self.value.to_bytes(SCALAR_BYTES, "big")

    def label(self) -> str:
        return f"shard {self.id} ({self.source})" if self.source else f"shard {self.id}"


@dataclass(frozen=True, slots=True)
class CollectedShards:
    """Shards with unique ids, sorted by id, and the sources that repeated one exactly."""

    shards: tuple[Shard, ...]
    duplicate_sources: tuple[str, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(shard.id for shard in self.shards)


def collect_shards(shards: Iterable[Shard]) -> CollectedShards:
    """Merge shards by id: an exact repeat is dropped and noted; a conflicting one is refused."""
    by_id: dict[int, Shard] = {}
    duplicates: list[str] = []
    for shard in shards:
        seen = by_id.get(shard.id)
        if seen is None:
            by_id[shard.id] = shard
        elif seen.value == shard.value:
            duplicates.append(shard.source or f"shard {shard.id}")
        else:
            raise ShardSetError(
                f"{seen.label()} and {shard.label()} carry the same id with different values: "
                "one of them is stale or has been tampered with.",
                kind="conflicting-shards",
                ids=(shard.id,),
                hint="Find out which file is genuine before going on; "
                "custody will not choose between them.",
            )
    ordered = tuple(by_id[shard_id] for shard_id in sorted(by_id))
    return CollectedShards(shards=ordered, duplicate_sources=tuple(duplicates))


def check_threshold(threshold: int, shard_count: int | None = None) -> None:
    """Refuse a threshold below 2, above the id bound, or above the number of shards at hand."""
    if not 2 <= threshold <= MAX_THRESHOLD:
        raise ShardSetError(
            f"threshold {threshold} is outside 2..{MAX_THRESHOLD}: "
            "a threshold of 1 would make every shard a copy of the root key.",
            kind="bad-threshold",
        )
    if shard_count is not None and shard_count < threshold:
        raise ShardSetError(
            f"{shard_count} shard(s) given but the threshold is {threshold}: "
            f"{threshold - shard_count} more needed.",
            kind="not-enough-shards",
            hint="Bring more custodians' shards, or check the --threshold value.",
        )
