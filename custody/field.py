"""Arithmetic in the scalar field of NIST P-256, on plain ints.

SPIKE's Shamir sharing lives in this field (integers modulo the curve order N). This module
owns the field constant and polynomial evaluation and interpolation; it does no I/O, draws no
randomness and knows nothing of files or shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""The order of P-256's base point: every scalar and shard value lies in 0..N-1."""

SCALAR_BYTES: Final = 32


def inverse(value: int) -> int:
    """The multiplicative inverse of `value` mod N; a zero value is a caller bug."""
    if value % N == 0:
        raise ValueError("zero has no inverse in the scalar field")
    return pow(value, -1, N)


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """f(x) for f = c0 + c1·x + … by Horner's rule."""
    result = 0
    for coefficient in reversed(coefficients):
        result = (result * x + coefficient) % N
    return result


def interpolate_at_zero(points: Sequence[tuple[int, int]]) -> int:
    """f(0) for the unique polynomial of degree < len(points) through `points` (Lagrange).

    The xs must be distinct and non-zero mod N; callers range-check ids before this.
    """
    numerator_product = 1
    for x, _ in points:
        numerator_product = numerator_product * x % N
    total = 0
    for i, (xi, yi) in enumerate(points):
        # l_i(0) = prod_{j != i} x_j / (x_j - x_i) = (prod_j x_j / x_i) / prod_{j != i} (x_j - x_i)
        denominator = xi
        for j, (xj, _) in enumerate(points):
            if j != i:
                denominator = denominator * (xj - xi) % N
        total = (total + yi * numerator_product * inverse(denominator)) % N
    return total


def interpolate(points: Sequence[tuple[int, int]]) -> list[int]:
    """The coefficients [c0, c1, …] of the polynomial of degree < len(points) through `points`.

    Newton's divided differences (quadratic in the number of points), then the Newton form
    is expanded into monomial coefficients.
    """
    xs = [x for x, _ in points]
    divided = [y % N for _, y in points]
    for level in range(1, len(points)):
        for i in range(len(points) - 1, level - 1, -1):
            step = (xs[i] - xs[i - level]) % N
            divided[i] = (divided[i] - divided[i - 1]) * inverse(step) % N
    coefficients = [0] * len(points)
    for i in range(len(points) - 1, -1, -1):
        # coefficients = coefficients · (x - xs[i]) + divided[i]
        shifted = [0, *coefficients[:-1]]
        scaled = [c * xs[i] % N for c in coefficients]
        coefficients = [(s - c) % N for s, c in zip(shifted, scaled, strict=True)]
        coefficients[0] = (coefficients[0] + divided[i]) % N
    return coefficients
