"""Shamir's secret sharing as SPIKE does it: split, combine, and prove a set consistent.

Owns the polynomial view of a set of shards: which polynomial of degree threshold-1 they lie
on, and — when they don't all agree — which shards are outside the largest consistent
subset. Randomness is a parameter; nothing here reads files or prints.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from custody.errors import InconsistentSetError
from custody.field import N, evaluate, interpolate, interpolate_at_zero
from custody.shards import Shard, check_threshold

RandomBelow = Callable[[int], int]

# Locating bad shards tries every threshold-subset of the first threshold+e shards; past this
# many candidate subsets custody says the bad shards cannot be located rather than stall.
MAX_LOCATOR_CANDIDATES = 20_000


@dataclass(frozen=True, slots=True)
class Polynomial:
    """The set's secret polynomial: coefficients[0] is the root key. Never printed."""

    coefficients: tuple[int, ...] = field(repr=False)

    @property
    def threshold(self) -> int:
        return len(self.coefficients)

    @property
    def secret(self) -> int:
        return self.coefficients[0]

    def shard(self, shard_id: int) -> Shard:
        return Shard(id=shard_id, value=evaluate(self.coefficients, shard_id))


def split(
    secret: int, threshold: int, shares: int, *, random_below: RandomBelow = secrets.randbelow
) -> tuple[Polynomial, tuple[Shard, ...]]:
    """A fresh polynomial with constant term `secret`, and its shards at ids 1..shares.

    Every other coefficient is drawn from 1..N-1, so the polynomial has exactly degree
    threshold-1 and no fewer than `threshold` shards rebuild the secret.
    """
    check_threshold(threshold, shares)
    if not 0 < secret < N:
        raise ValueError("a root key must lie in 1..N-1")
    coefficients = (secret, *(1 + random_below(N - 1) for _ in range(threshold - 1)))
    polynomial = Polynomial(coefficients)
    return polynomial, tuple(polynomial.shard(i) for i in range(1, shares + 1))


def combine(shards: Sequence[Shard]) -> int:
    """The secret from exactly `threshold` shards with distinct ids, by Lagrange at zero.

    This checks nothing about the shards' integrity: callers verify them first
    (`fit_polynomial` or the commitments).
    """
    if len({shard.id for shard in shards}) != len(shards):
        raise ValueError("combine needs shards with distinct ids")
    return interpolate_at_zero([shard.point for shard in shards])


def fit_polynomial(shards: Sequence[Shard], threshold: int) -> Polynomial:
    """The one polynomial of degree threshold-1 through every shard, or InconsistentSetError.

    With n shards and e bad ones, the bad ones are named whenever n >= threshold + 2e (two
    different polynomials cannot then both agree with n - e shards); otherwise the error says
    they cannot be located.
    """
    check_threshold(threshold, len(shards))
    candidate = _through(shards[:threshold])
    if _outsiders(candidate, shards):
        candidate = _locate_or_raise(shards, threshold)
    if candidate.coefficients[-1] == 0:
        degree = _degree(candidate)
        raise InconsistentSetError(
            f"the shards lie on a polynomial of degree {degree}, so {degree + 1} of them already "
            f"rebuild the key: this set was not split with threshold {threshold}.",
            kind="threshold-too-high",
            hint=f"Check the threshold SPIKE was configured with; it looks like {degree + 1}.",
        )
    return candidate


def _through(shards: Sequence[Shard]) -> Polynomial:
    return Polynomial(tuple(interpolate([shard.point for shard in shards])))


def _outsiders(polynomial: Polynomial, shards: Sequence[Shard]) -> tuple[int, ...]:
    return tuple(
        shard.id for shard in shards if evaluate(polynomial.coefficients, shard.id) != shard.value
    )


def _degree(polynomial: Polynomial) -> int:
    nonzero = [i for i, c in enumerate(polynomial.coefficients) if c != 0]
    return nonzero[-1] if nonzero else 0


def _locate_or_raise(shards: Sequence[Shard], threshold: int) -> Polynomial:
    # Among the first threshold+e shards at least `threshold` are good when at most e are bad,
    # so one of their threshold-subsets yields the genuine polynomial.
    n = len(shards)
    for errors in range(1, (n - threshold) // 2 + 1):
        if math.comb(threshold + errors, threshold) > MAX_LOCATOR_CANDIDATES:
            break
        for subset in itertools.combinations(shards[: threshold + errors], threshold):
            candidate = _through(subset)
            bad_ids = _outsiders(candidate, shards)
            if len(bad_ids) <= errors:
                raise InconsistentSetError(
                    f"the shards are not one set: {_name_ids(bad_ids)} "
                    f"{'disagrees' if len(bad_ids) == 1 else 'disagree'} with the other "
                    f"{n - len(bad_ids)}, which all lie on one polynomial.",
                    kind="inconsistent-set",
                    bad_ids=bad_ids,
                    hint="Set the named shard(s) aside; they are damaged, stale, "
                    "or from another split.",
                )
    raise InconsistentSetError(
        f"the {n} shards are not one set, and with threshold {threshold} the bad ones cannot be "
        "located: naming e bad shards needs at least threshold + 2e shards.",
        kind="inconsistent-set",
        hint="Check each shard alone against the set's commitments "
        "(custody shards verify --commitments FILE), or bring more shards.",
    )


def _name_ids(ids: Sequence[int]) -> str:
    return ", ".join(f"shard {shard_id}" for shard_id in ids)
