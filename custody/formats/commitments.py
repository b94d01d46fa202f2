"""The commitments document: a set's public Feldman commitments as small, versioned JSON.

Spec: docs/spec/commitments.md. Written with sorted keys and a final newline; read strictly:
exact key set, exact types, lowercase hex, points on the curve, a fingerprint equal to the
first commitment. A document that fails any of these is refused whole.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from custody import curve
from custody.commitments import Commitments
from custody.errors import CommitmentsError
from custody.formats.strictjson import decode_strict
from custody.shards import MAX_SHARD_ID

FORMAT: Final = "custody-commitments"
VERSION: Final = 1
MAX_DOCUMENT_BYTES: Final = 256 * 1024
_KEYS: Final = {"format", "version", "curve", "threshold", "ids", "commitments", "fingerprint"}
_KEYS_WITH_SHORT: Final = _KEYS | {"fingerprint_short"}
_POINT_HEX: Final = re.compile(r"0[23][0-9a-f]{64}")


def encode_commitments(commitments: Commitments) -> bytes:
    fingerprint = commitments.fingerprint
    document = {
        "format": FORMAT,
        "version": VERSION,
        "curve": "P-256",
        "threshold": commitments.threshold,
        "ids": list(commitments.ids),
        "commitments": [point.hex() for point in commitments.points],
        "fingerprint": fingerprint.hex,
        "fingerprint_short": fingerprint.short,
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("ascii")


def parse_commitments(data: bytes, *, source: str) -> Commitments:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _error(source, f"is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = decode_strict(data)
    except ValueError as error:
        raise _error(source, f"is not valid JSON ({error})") from None
    if not isinstance(document, dict) or set(document) not in (_KEYS, _KEYS_WITH_SHORT):
        raise _error(source, f"must be a JSON object with exactly the keys {sorted(_KEYS)}")
    # `1.0 == True == 1` in Python: the version must be the integer itself, not an equal value.
    version = document["version"]
    if document["format"] != FORMAT or not _is_int(version) or version != VERSION:
        raise _error(source, f"is not a {FORMAT} version {VERSION} document")
    if document["curve"] != "P-256":
        raise _error(source, "names a curve other than P-256")
    commitments = _build(document, source)
    _check_fingerprint(document, commitments, source)
    return commitments


def _build(document: dict[str, Any], source: str) -> Commitments:
    threshold, ids, points = document["threshold"], document["ids"], document["commitments"]
    if not _is_int(threshold) or not 2 <= threshold <= MAX_SHARD_ID:
        raise _error(source, "has a threshold that is not an integer in 2..1000")
    if not isinstance(ids, list) or not all(_is_int(i) and 1 <= i <= MAX_SHARD_ID for i in ids):
        raise _error(source, "has ids that are not integers in 1..1000")
    if ids != sorted(set(ids)) or len(ids) < threshold:
        raise _error(source, "has ids that are not sorted, distinct and at least threshold many")
    if not isinstance(points, list) or len(points) != threshold:
        raise _error(source, "must hold exactly one commitment per coefficient (threshold many)")
    return Commitments(
        threshold=threshold,
        ids=tuple(ids),
        points=tuple(_parse_point(p, source) for p in points),
    )


def _check_fingerprint(document: dict[str, Any], commitments: Commitments, source: str) -> None:
    if document["fingerprint"] != commitments.fingerprint.hex:
        raise _error(source, "has a fingerprint that is not its first commitment")
    # Optional means absent: a null is a second spelling of "absent" and is refused.
    if "fingerprint_short" in document and (
        document["fingerprint_short"] != commitments.fingerprint.short
    ):
        raise _error(source, "has a short fingerprint that does not match its fingerprint")


def _parse_point(text: object, source: str) -> bytes:
    if not isinstance(text, str) or not _POINT_HEX.fullmatch(text):
        raise _error(source, "has a commitment that is not a compressed point in lowercase hex")
    encoded = bytes.fromhex(text)
    try:
        curve.decode_point(encoded)
    except ValueError:
        raise _error(source, "has a commitment that is not a point on P-256") from None
    return encoded


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(source: str, problem: str) -> CommitmentsError:
    return CommitmentsError(f"{source} {problem}.", kind="bad-commitments")
