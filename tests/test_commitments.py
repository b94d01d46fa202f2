"""Feldman commitments: every genuine shard verifies alone; every changed one is named."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.commitments import (
    Commitments,
    commit,
    find_bad_shards,
    fingerprint_of,
    verify_shard,
)
from custody.errors import VerificationError
from custody.field import N
from custody.shamir import Polynomial, split
from custody.shards import Shard

# Each example costs a few dozen P-256 multiplications (~0.5 ms each): keep sets small.
small = settings(max_examples=15)


@dataclasses.dataclass(frozen=True)
class Committed:
    polynomial: Polynomial
    shards: tuple[Shard, ...]
    commitments: Commitments
    rng: random.Random


@st.composite
def committed_sets(draw: st.DrawFn, *, most_threshold: int = 5, most_shares: int = 8) -> Committed:
    threshold = draw(st.integers(2, most_threshold))
    shares = draw(st.integers(threshold, max(threshold, most_shares)))
    secret = draw(st.integers(1, N - 1))
    rng = draw(st.randoms(use_true_random=False))
    polynomial, shards = split(secret, threshold, shares, random_below=rng.randrange)
    return Committed(polynomial, shards, commit(polynomial, [s.id for s in shards]), rng)


def altered(shard: Shard, rng: random.Random) -> Shard:
    value = shard.value
    while value in (shard.value, 0):
        value = (shard.value + rng.randrange(1, N)) % N
    return dataclasses.replace(shard, value=value)


@small
@given(committed_sets())
def test_every_genuine_shard_verifies(case: Committed) -> None:
    assert case.commitments.threshold == case.polynomial.threshold
    assert case.commitments.fingerprint == fingerprint_of(case.polynomial.secret)
    for shard in case.shards:
        verify_shard(shard, case.commitments)
    assert find_bad_shards(case.shards, case.commitments, random_below=case.rng.randrange) == ()


@small
@given(committed_sets(), st.data())
def test_changed_values_are_named_exactly(case: Committed, data: st.DataObject) -> None:
    chosen = data.draw(st.sets(st.sampled_from([s.id for s in case.shards]), min_size=1))
    shards = [altered(s, case.rng) if s.id in chosen else s for s in case.shards]
    assert find_bad_shards(shards, case.commitments) == tuple(sorted(chosen))
    for shard in shards:
        if shard.id in chosen:
            with pytest.raises(VerificationError) as caught:
                verify_shard(shard, case.commitments)
            assert caught.value.kind == "shard-mismatch"
            assert f"shard {shard.id}" in caught.value.message


@small
@given(committed_sets(), st.data())
def test_a_changed_id_is_named(case: Committed, data: st.DataObject) -> None:
    # Move one shard to an id of the set that is not otherwise present (its value then lies
    # on the polynomial at the wrong x), or to an id the set was not made with at all.
    present = data.draw(st.permutations(case.shards))[: case.polynomial.threshold]
    moved = present[0]
    free = [i for i in case.commitments.ids if i not in {s.id for s in present}]
    new_id = data.draw(st.sampled_from([*free, len(case.shards) + 1, 1000]))
    shards = [dataclasses.replace(moved, id=new_id), *present[1:]]
    assert find_bad_shards(shards, case.commitments) == (new_id,)
    with pytest.raises(VerificationError) as caught:
        verify_shard(shards[0], case.commitments)
    expected = "shard-mismatch" if new_id in case.commitments.ids else "unknown-shard-id"
    assert caught.value.kind == expected


def test_one_flipped_bit_with_exactly_threshold_shards_is_named() -> None:
    # B05: exactly t shards carry no integrity signal of their own; the commitments do.
    polynomial, shards = split(0x1234, 3, 5, random_below=random.Random(5).randrange)
    commitments = commit(polynomial, [s.id for s in shards])
    quorum = [shards[0], dataclasses.replace(shards[2], value=shards[2].value ^ 1), shards[4]]
    assert find_bad_shards(quorum, commitments) == (3,)


def test_commit_refuses_a_zero_coefficient() -> None:
    with pytest.raises(ValueError, match="zero coefficient"):
        commit(Polynomial((5, 0)), [1, 2])


def test_commitments_sort_the_ids() -> None:
    polynomial, _ = split(0x1234, 2, 3, random_below=random.Random(1).randrange)
    assert commit(polynomial, [3, 1, 2]).ids == (1, 2, 3)


@pytest.mark.parametrize(
    ("threshold", "ids", "points"),
    [
        (2, (1, 2), (b"\x02" + bytes(32),)),  # one point short
        (2, (2, 1), (b"\x02" + bytes(32),) * 2),  # ids not sorted
        (2, (1, 1, 2), (b"\x02" + bytes(32),) * 2),  # ids repeated
        (3, (1, 2), (b"\x02" + bytes(32),) * 3),  # fewer ids than the threshold
    ],
)
def test_impossible_commitments_cannot_be_built(
    threshold: int, ids: tuple[int, ...], points: tuple[bytes, ...]
) -> None:
    with pytest.raises(ValueError):
        Commitments(threshold=threshold, ids=ids, points=points)


def test_unknown_id_message_names_the_set_ids() -> None:
    polynomial, shards = split(0x1234, 2, 3, random_below=random.Random(1).randrange)
    commitments = commit(polynomial, [1, 2, 3])
    with pytest.raises(VerificationError) as caught:
        verify_shard(dataclasses.replace(shards[0], id=9, source="x.txt"), commitments)
    assert caught.value.kind == "unknown-shard-id"
    assert "1..3" in caught.value.message
    assert "x.txt" in caught.value.message
