"""Shamir over the P-256 scalar field: split, combine, and proving a set consistent."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.errors import InconsistentSetError, ShardSetError
from custody.field import N
from custody.shamir import Polynomial, combine, fit_polynomial, split
from custody.shards import Shard

secrets_ = st.integers(min_value=1, max_value=N - 1)


@dataclasses.dataclass(frozen=True)
class Case:
    secret: int
    polynomial: Polynomial
    shards: tuple[Shard, ...]
    rng: random.Random

    @property
    def threshold(self) -> int:
        return self.polynomial.threshold


@st.composite
def cases(
    draw: st.DrawFn, *, thresholds: tuple[int, int] = (2, 10), spare: int = 0, most: int = 255
) -> Case:
    """A fresh split with 2 <= t <= 10 and t + spare <= n <= `most`."""
    threshold = draw(st.integers(*thresholds))
    shares = draw(st.integers(threshold + spare, max(threshold + spare, most)))
    secret = draw(secrets_)
    rng = draw(st.randoms(use_true_random=False))
    polynomial, shards = split(secret, threshold, shares, random_below=rng.randrange)
    return Case(secret, polynomial, shards, rng)


def altered(shard: Shard, rng: random.Random) -> Shard:
    """The same shard with a different value in 1..N-1."""
    value = shard.value
    while value in (shard.value, 0):
        value = (shard.value + rng.randrange(1, N)) % N
    return dataclasses.replace(shard, value=value)


def bad_ids_of(shards: Sequence[Shard], threshold: int) -> tuple[int, ...]:
    with pytest.raises(InconsistentSetError) as caught:
        fit_polynomial(shards, threshold)
    assert caught.value.kind == "inconsistent-set"
    return caught.value.bad_ids


@given(cases())
def test_split_then_combine_round_trips(case: Case) -> None:
    assert case.polynomial.secret == case.secret
    assert [s.id for s in case.shards] == list(range(1, len(case.shards) + 1))
    assert combine(case.shards[: case.threshold]) == case.secret
    assert fit_polynomial(case.shards, case.threshold) == case.polynomial


@given(cases(), st.data())
def test_any_threshold_subset_in_any_order_gives_the_key(case: Case, data: st.DataObject) -> None:
    subset = data.draw(st.permutations(case.shards))[: case.threshold]
    assert combine(subset) == case.secret
    assert fit_polynomial(subset, case.threshold).secret == case.secret


@given(cases())
def test_threshold_minus_one_shards_are_refused(case: Case) -> None:
    with pytest.raises(ShardSetError) as caught:
        fit_polynomial(case.shards[: case.threshold - 1], case.threshold)
    assert caught.value.kind == "not-enough-shards"


@given(cases(spare=1), st.data())
def test_a_changed_value_is_caught_when_there_is_a_spare_shard(
    case: Case, data: st.DataObject
) -> None:
    shards = list(case.shards)
    index = data.draw(st.integers(0, len(shards) - 1))
    shards[index] = altered(shards[index], case.rng)
    bad = bad_ids_of(shards, case.threshold)
    if len(shards) >= case.threshold + 2:
        assert bad == (shards[index].id,)
    else:
        assert bad == ()


@given(cases(spare=1, most=40), st.data())
def test_a_changed_id_is_caught_when_there_is_a_spare_shard(
    case: Case, data: st.DataObject
) -> None:
    shards = list(case.shards)
    index = data.draw(st.integers(0, len(shards) - 1))
    new_id = data.draw(st.integers(len(shards) + 1, 1000))
    shards[index] = dataclasses.replace(shards[index], id=new_id)
    bad = bad_ids_of(shards, case.threshold)
    if len(shards) >= case.threshold + 2:
        assert bad == (new_id,)


@given(cases(spare=2), st.data())
def test_a_single_bad_shard_is_named_whenever_n_is_at_least_t_plus_2(
    case: Case, data: st.DataObject
) -> None:
    # B08: the outlier is the unique shard whose exclusion makes the rest agree.
    order = data.draw(st.permutations(case.shards))
    index = data.draw(st.integers(0, len(order) - 1))
    shards = [*order[:index], altered(order[index], case.rng), *order[index + 1 :]]
    assert bad_ids_of(shards, case.threshold) == (order[index].id,)


@given(cases(thresholds=(2, 5), spare=2, most=30), st.data())
def test_several_bad_shards_are_named_when_n_is_at_least_t_plus_2e(
    case: Case, data: st.DataObject
) -> None:
    most_errors = (len(case.shards) - case.threshold) // 2
    errors = data.draw(st.integers(1, min(most_errors, 3)))
    chosen = data.draw(
        st.lists(st.sampled_from(case.shards), min_size=errors, max_size=errors, unique=True)
    )
    shards = [altered(s, case.rng) if s in chosen else s for s in case.shards]
    assert bad_ids_of(shards, case.threshold) == tuple(sorted(s.id for s in chosen))


@given(cases(spare=1), st.data())
def test_with_exactly_one_spare_the_bad_shard_cannot_be_located(
    case: Case, data: st.DataObject
) -> None:
    # B07: t+1 shards, one altered: the set is refused, and nobody is wrongly accused.
    shards = list(case.shards[: case.threshold + 1])
    index = data.draw(st.integers(0, len(shards) - 1))
    shards[index] = altered(shards[index], case.rng)
    with pytest.raises(InconsistentSetError) as caught:
        fit_polynomial(shards, case.threshold)
    assert caught.value.bad_ids == ()
    assert "cannot be located" in caught.value.message


@given(cases(thresholds=(2, 6), spare=1, most=20), st.data())
def test_a_threshold_higher_than_the_split_is_refused(case: Case, data: st.DataObject) -> None:
    # A t-of-n set checked with a threshold t' > t fits a polynomial whose top coefficients
    # are zero: custody says so instead of calling the set consistent.
    higher = data.draw(st.integers(case.threshold + 1, len(case.shards)))
    with pytest.raises(InconsistentSetError) as caught:
        fit_polynomial(case.shards, higher)
    assert caught.value.kind == "threshold-too-high"
    assert f"looks like {case.threshold}" in (caught.value.hint or "")


def test_a_2_of_n_set_checked_with_threshold_3_is_refused() -> None:
    _, shards = split(12345, 2, 4, random_below=random.Random(1).randrange)
    with pytest.raises(InconsistentSetError) as caught:
        fit_polynomial(shards, 3)
    assert caught.value.kind == "threshold-too-high"


@given(cases(thresholds=(3, 8), spare=1, most=20), st.data())
def test_a_threshold_lower_than_the_split_is_refused(case: Case, data: st.DataObject) -> None:
    # B13: the appliance says 2, SPIKE used 3: the all-n check fails.
    lower = data.draw(st.integers(2, case.threshold - 1))
    with pytest.raises(InconsistentSetError):
        fit_polynomial(case.shards, lower)


def test_split_draws_no_zero_coefficient() -> None:
    # Even a random source stuck at 0 gives a polynomial of full degree.
    polynomial, _ = split(7, 4, 5, random_below=lambda _: 0)
    assert polynomial.coefficients == (7, 1, 1, 1)


@pytest.mark.parametrize("secret", [0, N, N + 1, -1])
def test_split_refuses_a_key_outside_1_to_n_minus_1(secret: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.N-1"):
        split(secret, 2, 3)


def test_split_refuses_a_bad_threshold() -> None:
    with pytest.raises(ShardSetError) as caught:
        split(7, 1, 3)
    assert caught.value.kind == "bad-threshold"
    with pytest.raises(ShardSetError) as caught:
        split(7, 4, 3)
    assert caught.value.kind == "not-enough-shards"


def test_combine_refuses_duplicate_ids() -> None:
    # B04 at the library's lowest level: a caller bug, never silently combined.
    shard = Shard(1, 5)
    with pytest.raises(ValueError, match="distinct"):
        combine([shard, shard])


def test_polynomial_repr_hides_the_coefficients() -> None:
    polynomial, _ = split(0xABCDEF0123456789, 2, 3)
    assert "abcdef0123456789" not in repr(polynomial).lower()
    assert str(0xABCDEF0123456789) not in repr(polynomial)


def test_split_defaults_to_fresh_randomness() -> None:
    first, _ = split(7, 3, 3)
    second, _ = split(7, 3, 3)
    assert first.coefficients[1:] != second.coefficients[1:]
