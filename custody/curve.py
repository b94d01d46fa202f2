"""P-256 point arithmetic, delegated to pycryptodome; the one module that touches it.

custody writes no point arithmetic itself. Points leave this module only as 33-byte
compressed SEC1 encodings, which is also how they are stored and printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from Crypto.PublicKey import ECC

from custody.field import SCALAR_BYTES, N

POINT_BYTES: Final = 33


def _point_of(scalar: int) -> Any:
    return ECC.construct(curve="P-256", d=scalar).pointQ


def encode_point(point: Any) -> bytes:
    """Compressed SEC1: 0x02/0x03 by the parity of y, then x in 32 big-endian bytes."""
    if point.is_point_at_infinity():
        raise ValueError("the point at infinity has no compressed encoding")
    x, y = (int(coordinate) for coordinate in point.xy)
    return bytes([2 + (y & 1)]) + x.to_bytes(SCALAR_BYTES, "big")


def decode_point(encoded: bytes) -> Any:
    """The point of a compressed SEC1 encoding; ValueError if it is not on the curve."""
    if len(encoded) != POINT_BYTES or encoded[0] not in (2, 3):
        raise ValueError("not a compressed P-256 point")
    return ECC.import_key(encoded, curve_name="P-256").pointQ


def base_multiply(scalar: int) -> bytes:
    """scalar·G, encoded. The scalar must lie in 1..N-1."""
    if not 0 < scalar < N:
        raise ValueError("scalar outside 1..N-1")
    return encode_point(_point_of(scalar))


def linear_combination(scalars: Sequence[int], encoded_points: Sequence[bytes]) -> bytes | None:
    """sum(s_i · P_i), encoded; None when the sum is the point at infinity."""
    total: Any = None
    for scalar, encoded in zip(scalars, encoded_points, strict=True):
        reduced = scalar % N
        if reduced == 0:
            continue
        term = decode_point(encoded) * reduced
        total = term if total is None else total + term
    if total is None or total.is_point_at_infinity():
        return None
    return encode_point(total)
