"""Shard and the set rules: an invalid shard cannot exist; duplicates and conflicts."""

from __future__ import annotations

import pytest

from custody.errors import ShardFormatError, ShardSetError
from custody.field import N
from custody.shards import MAX_SHARD_ID, Shard, check_threshold, collect_shards
from tests.conftest import assert_no_secret

VALUE = 0xBF91632AA33F0D9DDCA8C504FF87AF01E546D8528A636227895EE44532561F1E
VALUE_HEX = f"{VALUE:064x}"


@pytest.mark.parametrize("shard_id", [0, -1, MAX_SHARD_ID + 1, 2**64, N, N + 1])
def test_an_id_outside_1_to_1000_cannot_exist(shard_id: int) -> None:
    # B01/B02: id 0 and id = N (which is 0 in the field) are refused when the shard is built,
    # so no forged point can reach interpolation.
    with pytest.raises(ShardFormatError) as caught:
        Shard(id=shard_id, value=VALUE, source="typed")
    assert caught.value.kind == "invalid-shard-id"
    assert "typed" in caught.value.message
    assert_no_secret(VALUE_HEX, caught.value.message)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (0, "zero-shard"),
        (N, "non-canonical-scalar"),
        (N + 5, "non-canonical-scalar"),
        (2**256 - 1, "non-canonical-scalar"),
        (-1, "non-canonical-scalar"),
    ],
)
def test_a_value_outside_1_to_n_minus_1_cannot_exist(value: int, kind: str) -> None:
    with pytest.raises(ShardFormatError) as caught:
        Shard(id=1, value=value)
    assert caught.value.kind == kind


def test_the_value_never_shows_in_repr_or_str() -> None:
    shard = Shard(id=3, value=VALUE, source="spike.recovery.3.txt")
    assert_no_secret(VALUE_HEX, repr(shard), str(shard))
    assert str(VALUE) not in repr(shard)
    assert shard.label() == "shard 3 (spike.recovery.3.txt)"


def test_value_bytes_keep_leading_zeros() -> None:
    shard = Shard(id=1, value=0x00FF)
    assert shard.value_bytes() == bytes(30) + b"\x00\xff"
    assert len(shard.value_bytes()) == 32


def test_source_is_not_part_of_identity() -> None:
    assert Shard(id=1, value=VALUE, source="a") == Shard(id=1, value=VALUE, source="b")


def test_identical_duplicates_are_counted_once_and_noted() -> None:
    # A16 / B04: the same shard twice is one shard; the repeat's source is reported.
    collected = collect_shards(
        [Shard(2, VALUE, "b.txt"), Shard(1, VALUE, "a.txt"), Shard(2, VALUE, "c.txt")]
    )
    assert collected.ids == (1, 2)
    assert collected.duplicate_sources == ("c.txt",)


def test_conflicting_duplicates_are_refused() -> None:
    # A17: same id, different values; custody will not choose.
    with pytest.raises(ShardSetError) as caught:
        collect_shards([Shard(2, VALUE, "b.txt"), Shard(2, VALUE + 1, "c.txt")])
    assert caught.value.kind == "conflicting-shards"
    assert caught.value.ids == (2,)
    assert "b.txt" in caught.value.message
    assert "c.txt" in caught.value.message
    assert_no_secret([VALUE_HEX, f"{VALUE + 1:064x}"], caught.value.message)


@pytest.mark.parametrize("threshold", [-1, 0, 1, MAX_SHARD_ID + 1])
def test_threshold_outside_2_to_1000_is_refused(threshold: int) -> None:
    with pytest.raises(ShardSetError) as caught:
        check_threshold(threshold)
    assert caught.value.kind == "bad-threshold"


def test_fewer_shards_than_the_threshold_are_refused() -> None:
    # B09: NotEnoughShards(have, need).
    with pytest.raises(ShardSetError) as caught:
        check_threshold(3, 2)
    assert caught.value.kind == "not-enough-shards"
    assert "2 shard(s)" in caught.value.message
    assert "threshold is 3" in caught.value.message
    check_threshold(3, 3)
    check_threshold(MAX_SHARD_ID, MAX_SHARD_ID)
