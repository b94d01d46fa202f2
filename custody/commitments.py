"""Feldman commitments to a set's polynomial, and checking shards against them.

C_j = a_j·G for each coefficient a_j. They are public: they reveal nothing usable about the
key, yet a single shard (x, y) can be checked alone, since y·G must equal sum_j x^j·C_j.
C_0 = key·G is the root-key fingerprint. Checking many shards starts with one batched
equation under random weights; only when that fails is each shard checked alone, to name it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from custody import curve
from custody.errors import VerificationError
from custody.field import N
from custody.fingerprint import Fingerprint
from custody.shamir import Polynomial, RandomBelow
from custody.shards import Shard


@dataclass(frozen=True, slots=True)
class Commitments:
    threshold: int
    ids: tuple[int, ...]
    """The shard ids the set was made with; a shard with another id is not of this set."""
    points: tuple[bytes, ...]
    """C_0 … C_{threshold-1}, each a compressed P-256 point."""

    def __post_init__(self) -> None:
        if len(self.points) != self.threshold:
            raise ValueError("one commitment per coefficient")
        if tuple(sorted(set(self.ids))) != self.ids or len(self.ids) < self.threshold:
            raise ValueError("ids must be sorted, distinct and at least threshold many")

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.points[0])


def commit(polynomial: Polynomial, ids: Sequence[int]) -> Commitments:
    if any(coefficient == 0 for coefficient in polynomial.coefficients):
        # A zero coefficient has no point to commit to; SPIKE and custody never draw one.
        raise ValueError("cannot commit to a polynomial with a zero coefficient")
    points = tuple(curve.base_multiply(a) for a in polynomial.coefficients)
    return Commitments(threshold=polynomial.threshold, ids=tuple(sorted(ids)), points=points)


def fingerprint_of(key: int) -> Fingerprint:
    return Fingerprint(curve.base_multiply(key))


def verify_shard(shard: Shard, commitments: Commitments) -> None:
    """Return if the shard is one of the committed set; raise VerificationError naming it."""
    if shard.id not in commitments.ids:
        raise VerificationError(
            f"{shard.label()} has an id the set was not made with "
            f"(its ids are {_id_range(commitments.ids)}).",
            kind="unknown-shard-id",
        )
    if not _holds([(shard, 1)], commitments):
        raise VerificationError(
            f"{shard.label()} does not match the set's commitments: it is damaged, stale, "
            "or from another split.",
            kind="shard-mismatch",
            hint="Set this shard aside and use another custodian's.",
        )


def find_bad_shards(
    shards: Sequence[Shard],
    commitments: Commitments,
    *,
    random_below: RandomBelow = secrets.randbelow,
) -> tuple[int, ...]:
    """The ids of every shard that fails the commitments (empty when all hold)."""
    unknown = tuple(shard.id for shard in shards if shard.id not in commitments.ids)
    known = [shard for shard in shards if shard.id in commitments.ids]
    weighted = [(shard, 1 + random_below(N - 1)) for shard in known]
    if _holds(weighted, commitments):
        return unknown
    mismatched = tuple(shard.id for shard in known if not _holds([(shard, 1)], commitments))
    return tuple(sorted(unknown + mismatched))


def _holds(weighted: Sequence[tuple[Shard, int]], commitments: Commitments) -> bool:
    # sum_i r_i·y_i·G == sum_j (sum_i r_i·x_i^j)·C_j ; with one shard and r = 1 this is the
    # plain Feldman check, with random r_i a batch check that fails for any bad shard
    # except with probability 1/N.
    if not weighted:
        return True
    left = sum(r * shard.value for shard, r in weighted) % N
    right_scalars = [
        sum(r * pow(shard.id, j, N) for shard, r in weighted) % N
        for j in range(commitments.threshold)
    ]
    right = curve.linear_combination(right_scalars, commitments.points)
    if left == 0:
        return right is None
    return right == curve.base_multiply(left)


def _id_range(ids: Sequence[int]) -> str:
    if list(ids) == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(str(i) for i in ids)
