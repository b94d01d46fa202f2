"""Paper text: a payload as numbered lines a person can type back (docs/spec/papertext.md).

This module owns the text form of a payload: encoding it to lines of Crockford base32 with a
per-line bech32m check that covers the line number, reading one typed line (`parse_line`, so
an interactive typer can ask for a line again), assembling checked lines (`assemble`), and
reading a whole text (`parse_paper_text`). It never corrects a line: a line that fails its
check is named and must be typed again. It refuses non-ASCII text, a label that disagrees
with the line's place, a wrong length, non-zero padding and anything after the end line.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from custody.paper.errors import ExpectedPayload, PaperTextError, verify_expected_payload

MAX_PAYLOAD_BYTES: Final = 8192
BLOCK_BYTES: Final = 25
DATA_SYMBOLS: Final = 40
LINE_SYMBOLS: Final = DATA_SYMBOLS + 6
DIGEST_BYTES: Final = 23
MAX_LINES: Final = -(-MAX_PAYLOAD_BYTES // BLOCK_BYTES) + 1

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD)
_FROM_CROCKFORD: Final = str.maketrans(_CROCKFORD, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_TYPED: Final = str.maketrans({"O": "0", "I": "1", "L": "1", " ": None, "\t": None, "-": None})
_VALUE: Final = {symbol: value for value, symbol in enumerate(_CROCKFORD)}
_LABEL: Final = re.compile(r"[ \t]*([0-9]{1,3})[ \t]*:(.*)", re.ASCII | re.DOTALL)
_MAX_TEXT_CHARS: Final = MAX_LINES * 200

LineKind = Literal["data", "end"]
_DOMAINS: Final[dict[LineKind, str]] = {
    "data": "custody-papertext-v1-data",
    "end": "custody-papertext-v1-end",
}
# BIP-350's bech32m constant and BIP-173's generator of the BCH code over GF(32).
_BECH32M: Final = 0x2BC830A3
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


@dataclass(frozen=True, slots=True)
class LineResult:
    """One line that passed its check: its number, whether it is the end line, its 25 bytes."""

    number: int
    kind: LineKind
    block: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.number <= MAX_LINES or len(self.block) != BLOCK_BYTES:
            raise ValueError("a paper text line has a number 1..329 and a block of 25 bytes")


def encode_paper_lines(payload: bytes) -> tuple[str, ...]:
    """The printed lines of `payload`: data lines, then the end line (spec "Lines")."""
    if not 1 <= len(payload) <= MAX_PAYLOAD_BYTES:
        raise ValueError(f"paper text carries 1..{MAX_PAYLOAD_BYTES} bytes, not {len(payload)}")
    padded = payload + bytes(-len(payload) % BLOCK_BYTES)
    blocks = [padded[i : i + BLOCK_BYTES] for i in range(0, len(padded), BLOCK_BYTES)]
    end = len(payload).to_bytes(2, "big") + hashlib.sha256(payload).digest()[:DIGEST_BYTES]
    lines = [_encode_line(n, "data", block) for n, block in enumerate(blocks, 1)]
    return (*lines, _encode_line(len(blocks) + 1, "end", end))


def encode_paper_text(payload: bytes) -> str:
    return "\n".join(encode_paper_lines(payload)) + "\n"


def parse_line(line_number: int, text: str) -> LineResult:
    """Line `line_number` as typed (spec "Reading", steps 1-5); PaperTextError names it."""
    if not 1 <= line_number <= MAX_LINES:
        raise ValueError(f"line numbers run from 1 to {MAX_LINES}")
    symbols = _symbols(line_number, _unlabelled(line_number, text))
    found = _line_index().get(_run(0, [_VALUE[s] for s in symbols]) ^ _BECH32M)
    if found is None:
        raise _line_error(
            line_number,
            "does not check: a character is wrong, missing, doubled or swapped",
            "line-check-failed",
        )
    number, kind = found
    if number != line_number:
        raise _line_error(line_number, f"holds the text of line {number:03d}", "wrong-line")
    block = base64.b32decode(symbols[:DATA_SYMBOLS].translate(_FROM_CROCKFORD))
    return LineResult(number=line_number, kind=kind, block=block)


def assemble(
    lines: Sequence[LineResult], *, expected: ExpectedPayload | None = None, source: str = "text"
) -> bytes:
    """The payload of checked lines 1..L, L the end line (spec "Assembling lines", 1-5)."""
    for place, line in enumerate(lines, 1):
        if line.number != place:
            raise _line_error(place, "is missing", "missing-line")
        if line.kind == "end" and place != len(lines):
            raise _line_error(place + 1, "comes after the end line", "line-after-end")
    if not lines or lines[-1].kind != "end":
        raise _line_error(len(lines) + 1, "(the end line) is missing", "missing-end-line")
    end = lines[-1]
    length = int.from_bytes(end.block[:2], "big")
    if not 1 <= length <= MAX_PAYLOAD_BYTES or -(-length // BLOCK_BYTES) != len(lines) - 1:
        raise _line_error(
            end.number, f"gives a length of {length} bytes, which does not fit", "length-mismatch"
        )
    joined = b"".join(line.block for line in lines[:-1])
    if joined[length:].strip(b"\x00"):
        raise _line_error(end.number - 1, "has non-zero padding after the payload", "bad-padding")
    payload = joined[:length]
    if hashlib.sha256(payload).digest()[:DIGEST_BYTES] != end.block[2:]:
        raise PaperTextError(
            f"{source}: every line checks, but together they do not match the end line's digest.",
            kind="digest-mismatch",
            hint="Lines from two different sheets were mixed; compare every line with one sheet.",
        )
    if expected is not None:
        verify_expected_payload(payload, expected, source=source)
    return payload


def parse_paper_text(
    text: str, *, expected: ExpectedPayload | None = None, source: str = "text"
) -> bytes:
    """A whole typed or extracted text: labelled lines, blank lines ignored (spec "Reading")."""
    if len(text) > _MAX_TEXT_CHARS:
        raise PaperTextError(
            f"{source}: the text is too long for a custody sheet.", kind="too-long"
        )
    labelled = _labelled_lines(text, source)
    _verify_numbering([number for number, _ in labelled])
    return assemble([parse_line(n, rest) for n, rest in labelled], expected=expected, source=source)


def _encode_line(number: int, kind: LineKind, block: bytes) -> str:
    data = base64.b32encode(block).decode("ascii").translate(_TO_CROCKFORD)
    values = _prefix(kind, number) + [_VALUE[s] for s in data] + [0] * 6
    check = _run(1, values) ^ _BECH32M
    check_symbols = "".join(_CROCKFORD[(check >> 5 * (5 - i)) & 31] for i in range(6))
    groups = " ".join(data[i : i + 5] for i in range(0, DATA_SYMBOLS, 5))
    return f"{number:03d}: {groups}  {check_symbols}"


def _run(state: int, values: Iterable[int]) -> int:
    """BIP-173's polymod, from a given state: linear in (state, values) over GF(2)."""
    for value in values:
        top = state >> 25
        state = (state & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATOR):
            if top >> i & 1:
                state ^= generator
    return state


def _prefix(kind: LineKind, number: int) -> list[int]:
    domain = _DOMAINS[kind].encode("ascii")
    return [c >> 5 for c in domain] + [0] + [c & 31 for c in domain] + [number >> 5, number & 31]


@functools.cache
def _line_index() -> dict[int, tuple[int, LineKind]]:
    # The polymod is linear, so polymod(prefix ‖ typed) = run(prefix, 46 zeros) XOR run(0, typed).
    # Tabulating the first term for every (line, domain) finds the line a typed text checks as
    # with one lookup, which also names a line typed in the wrong place.
    index = {
        _run(1, [*_prefix(kind, n), *[0] * LINE_SYMBOLS]): (n, kind)
        for kind in _DOMAINS
        for n in range(1, MAX_LINES + 1)
    }
    if len(index) != len(_DOMAINS) * MAX_LINES:
        raise RuntimeError("two paper text lines share a check state; the domains are broken")
    return index


def _unlabelled(line_number: int, text: str) -> str:
    if not text.isascii():
        raise _line_error(line_number, "holds a character that is not plain ASCII", "bad-character")
    label = _LABEL.fullmatch(text)
    if label is None:
        return text
    if int(label.group(1)) != line_number:
        raise _line_error(line_number, f"is labelled {label.group(1)}", "line-number-mismatch")
    return label.group(2)


def _symbols(line_number: int, text: str) -> str:
    symbols = text.upper().translate(_TYPED)
    for position, symbol in enumerate(symbols, 1):
        if symbol not in _VALUE:
            raise _line_error(
                line_number,
                f"has {symbol!a} at character {position} (spaces not counted), "
                "which custody never prints",
                "bad-character",
            )
    if len(symbols) != LINE_SYMBOLS:
        raise _line_error(
            line_number,
            f"has {len(symbols)} characters; every line has {LINE_SYMBOLS} (8 groups of 5, then 6)",
            "line-length",
        )
    return symbols


def _labelled_lines(text: str, source: str) -> list[tuple[int, str]]:
    labelled = []
    for row, raw in enumerate(text.split("\n"), 1):
        if not raw.strip(" \t\r"):
            continue
        label = _LABEL.fullmatch(raw.rstrip("\r"))
        if label is None or not 1 <= int(label.group(1)) <= MAX_LINES:
            raise PaperTextError(
                f"{source}: text line {row} does not start with a line number such as 001:.",
                kind="missing-line-number",
            )
        labelled.append((int(label.group(1)), label.group(2)))
    return labelled


def _verify_numbering(numbers: Sequence[int]) -> None:
    seen: set[int] = set()
    highest = 0
    for number in numbers:
        if number in seen:
            raise _line_error(number, "appears twice", "duplicate-line")
        if number < highest:
            raise _line_error(number, f"comes after line {highest:03d}", "line-out-of-order")
        seen.add(number)
        highest = number
    for place, number in enumerate(numbers, 1):
        if number != place:
            raise _line_error(place, "is missing", "missing-line")


def _line_error(line: int, problem: str, kind: str) -> PaperTextError:
    return PaperTextError(
        f"line {line:03d} {problem}.",
        kind=kind,
        line=line,
        hint=f"Compare line {line:03d} with the sheet, character by character, and type it again.",
    )
