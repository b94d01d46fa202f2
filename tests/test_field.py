"""The scalar field of P-256: evaluation and interpolation agree, on plain ints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.field import N, evaluate, interpolate, interpolate_at_zero, inverse

scalars = st.integers(min_value=0, max_value=N - 1)
nonzero = st.integers(min_value=1, max_value=N - 1)


def test_n_is_the_p256_order() -> None:
    assert N == 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    assert pow(2, N - 1, N) == 1  # a Fermat witness: N is (very probably) prime


@given(nonzero)
def test_inverse(value: int) -> None:
    assert value * inverse(value) % N == 1


@pytest.mark.parametrize("value", [0, N, 2 * N])
def test_zero_has_no_inverse(value: int) -> None:
    with pytest.raises(ValueError, match="no inverse"):
        inverse(value)


def test_evaluate_by_hand() -> None:
    assert evaluate([5, 3, 2], 0) == 5
    assert evaluate([5, 3, 2], 2) == 5 + 6 + 8
    assert evaluate([N - 1, 1], 1) == 0
    assert evaluate([], 7) == 0


@st.composite
def polynomial_and_xs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    coefficients = draw(st.lists(scalars, min_size=1, max_size=12))
    xs = draw(
        st.lists(
            st.integers(min_value=1, max_value=1000),
            min_size=len(coefficients),
            max_size=len(coefficients),
            unique=True,
        )
    )
    return coefficients, xs


@given(polynomial_and_xs())
def test_interpolate_recovers_the_coefficients(case: tuple[list[int], list[int]]) -> None:
    coefficients, xs = case
    points = [(x, evaluate(coefficients, x)) for x in xs]
    assert interpolate(points) == coefficients
    assert interpolate_at_zero(points) == coefficients[0]


@given(st.lists(st.tuples(st.integers(1, 1000), scalars), min_size=1, max_size=12))
def test_evaluate_passes_through_interpolated_points(points: list[tuple[int, int]]) -> None:
    unique = list(dict(points).items())
    coefficients = interpolate(unique)
    assert len(coefficients) == len(unique)
    assert all(evaluate(coefficients, x) == y for x, y in unique)
    assert interpolate_at_zero(unique) == coefficients[0]


@given(polynomial_and_xs())
def test_order_of_points_does_not_matter(case: tuple[list[int], list[int]]) -> None:
    coefficients, xs = case
    points = [(x, evaluate(coefficients, x)) for x in xs]
    assert interpolate_at_zero(points[::-1]) == interpolate_at_zero(points)
    assert interpolate(points[::-1]) == interpolate(points)


def test_duplicate_xs_are_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        interpolate([(1, 5), (1, 6)])
    with pytest.raises(ValueError):
        interpolate_at_zero([(1, 5), (1, 6)])


def test_x_that_is_zero_mod_n_is_a_caller_bug() -> None:
    # The reason ids are range-checked before any arithmetic: x = N is x = 0 in the field.
    with pytest.raises(ValueError):
        interpolate_at_zero([(N, 5), (1, 6)])
