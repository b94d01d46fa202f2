"""The errors of paper: typed text, QR chunks, scans, and the self-test before printing.

Every error names where the problem is (a line number, a page, a file) and never repeats the
payload's bytes. `ExpectedPayload` lives here too because its one check is what raises
`PayloadMismatchError`, for text and QR alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from custody.errors import BadInputError, VerificationError

_SHA256_BYTES = 32


class PaperTextError(BadInputError):
    """Typed or extracted text that does not read back; `line` names the faulty line, if any."""

    def __init__(
        self, message: str, *, kind: str, line: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.line = line


class QrChunkError(BadInputError):
    """QR codes that do not reassemble: malformed, duplicated, missing, or of two sets."""

    def __init__(
        self, message: str, *, kind: str, sources: tuple[str, ...] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.sources = sources


class ScanError(BadInputError):
    """An image or PDF that cannot be read back: unreadable, too large, too many pages."""


class PayloadMismatchError(VerificationError):
    """A payload that reads back well but is not the expected one (another shard or ceremony)."""


class PaperSelfTestError(VerificationError):
    """A rendered sheet whose QR codes or text do not read back to what was rendered."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        path: str,
        page: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.path = path
        self.page = page


@dataclass(frozen=True, slots=True)
class ExpectedPayload:
    """What a read-back payload must be: its SHA-256 (from the log) and words naming it."""

    sha256: bytes
    description: str
    """For messages, e.g. "the packet of shard 3 (custodian Ada, ceremony 2026-12-01-intake)"."""

    def __post_init__(self) -> None:
        if len(self.sha256) != _SHA256_BYTES:
            raise ValueError("an expected payload digest is 32 bytes of SHA-256")
        if not self.description:
            raise ValueError("an expected payload needs a description for messages")


def verify_expected_payload(payload: bytes, expected: ExpectedPayload, *, source: str) -> None:
    """Raise PayloadMismatchError unless SHA-256(payload) is the expected digest."""
    actual = hashlib.sha256(payload).digest()
    if actual != expected.sha256:
        raise PayloadMismatchError(
            f"{source}: this is not {expected.description}: its SHA-256 starts "
            f"{actual[:6].hex()}, the expected one starts {expected.sha256[:6].hex()}.",
            kind="payload-mismatch",
            hint="Check that the page belongs to this shard, custodian and ceremony.",
        )
