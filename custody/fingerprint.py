"""The root-key fingerprint: the public point C0 = key·G, in full and in a short human form.

The full form is the point's compressed encoding in lowercase hex (66 characters). The short
form is what people compare aloud or type: 15 Crockford base32 characters taken from
SHA-256 over a domain tag and the point, then one check character, in four groups of four,
for example `WRTA-72KX-4HS5-G577`. It is never the key and says nothing about it.

The check character is a weighted sum over GF(32), not a hash: a hash-derived check misses
one mistyped character in 32, while distinct non-zero weights in a field catch every single
substitution and every swap of two neighbouring characters.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from custody.curve import POINT_BYTES

_SHORT_TAG: Final = b"custody root-key fingerprint v1\x00"
_RFC4648: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD: Final = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD: Final = bytes.maketrans(_RFC4648, _CROCKFORD)
_GF32_MODULUS: Final = 0b100101
"""x^5 + x^2 + 1, primitive: x has order 31, so x^1 .. x^15 are distinct and non-zero."""
_SHORT_FORM: Final = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}")


def crockford_base32(data: bytes) -> str:
    """Crockford's base32 (no I, L, O, U), unpadded."""
    return base64.b32encode(data).translate(_TO_CROCKFORD).decode("ascii").rstrip("=")


def _check_character(body: str) -> str:
    # sum_i v_i * x^(15-i) in GF(32), by Horner. A substitution adds d * x^k with d != 0;
    # a swap of neighbours adds (a ^ b) * x^k * (1 ^ x); neither product is zero in a field.
    check = 0
    for character in body.encode("ascii"):
        check = _times_x(check ^ _CROCKFORD.index(character))
    return chr(_CROCKFORD[check])


def _times_x(value: int) -> int:
    value <<= 1
    return value ^ _GF32_MODULUS if value & 0b100000 else value


@dataclass(frozen=True, slots=True)
class Fingerprint:
    point: bytes

    def __post_init__(self) -> None:
        if len(self.point) != POINT_BYTES or self.point[0] not in (2, 3):
            raise ValueError("a fingerprint is a compressed P-256 point")

    @property
    def hex(self) -> str:
        return self.point.hex()

    @property
    def short(self) -> str:
        body = crockford_base32(hashlib.sha256(_SHORT_TAG + self.point).digest())[:15]
        text = body + _check_character(body)
        return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def is_short_form_well_typed(text: str) -> bool:
    """True when `text` has the short form's shape and its check character holds."""
    if not _SHORT_FORM.fullmatch(text):
        return False
    body = text.replace("-", "")
    return _check_character(body[:15]) == body[15]
