"""What a sheet says: the contexts of the custodian sheet and the ceremony summary sheet.

Plain frozen dataclasses that check themselves, so a sheet cannot be rendered from impossible
values (a threshold above the shard count, a fingerprint that is not hex, a short root-key
fingerprint whose check character fails). A bad value is a caller's bug: ValueError. Names
may hold any text; the renderer escapes what it cannot draw plainly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from custody.fingerprint import is_short_form_well_typed
from custody.formats.qr import QrBinding
from custody.shards import MAX_SHARD_ID

MAX_NAME_CHARS: Final = 200
MAX_CHECKPOINT_BYTES: Final = 4096
_OPENPGP_FINGERPRINT: Final = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}", re.ASCII)
_POINT_HEX: Final = re.compile(r"0[23][0-9a-f]{64}", re.ASCII)


def _verify_set(threshold: int, shard_count: int) -> None:
    if not 2 <= threshold <= shard_count <= MAX_SHARD_ID:
        raise ValueError("a sheet needs 2 <= threshold <= shard count <= 1000")


def _verify_custodian(name: str, fingerprint: str) -> None:
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a custodian name is 1..{MAX_NAME_CHARS} characters")
    if not _OPENPGP_FINGERPRINT.fullmatch(fingerprint):
        raise ValueError("a custodian fingerprint is 40 or 64 upper-case hex digits")


def group_hex(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


@dataclass(frozen=True, slots=True)
class CustodianSheetContext:
    ceremony_id: str
    shard_id: int
    custodian_name: str
    custodian_fingerprint: str
    """The full fingerprint of the custodian's OpenPGP key, upper-case hex."""
    threshold: int
    shard_count: int
    root_fingerprint_short: str
    """The root key's short fingerprint, e.g. WRTA-72KX-4HS5-G57H."""

    def __post_init__(self) -> None:
        if self.shard_id < 1:
            raise ValueError("a custodian sheet carries a shard id of 1 or more")
        QrBinding(self.ceremony_id, self.shard_id)
        _verify_set(self.threshold, self.shard_count)
        _verify_custodian(self.custodian_name, self.custodian_fingerprint)
        if not is_short_form_well_typed(self.root_fingerprint_short):
            raise ValueError("the short root-key fingerprint is not well typed")

    @property
    def binding(self) -> QrBinding:
        return QrBinding(self.ceremony_id, self.shard_id)


@dataclass(frozen=True, slots=True)
class SummaryCustodian:
    shard_id: int
    name: str
    fingerprint: str

    def __post_init__(self) -> None:
        if not 1 <= self.shard_id <= MAX_SHARD_ID:
            raise ValueError(f"a shard id is 1..{MAX_SHARD_ID}")
        _verify_custodian(self.name, self.fingerprint)


@dataclass(frozen=True, slots=True)
class SummarySheetContext:
    ceremony_id: str
    threshold: int
    shard_count: int
    root_fingerprint: str
    """The full fingerprint: the compressed point C0 as 66 lower-case hex digits."""
    root_fingerprint_short: str
    commitments: tuple[str, ...]
    custodians: tuple[SummaryCustodian, ...]
    checkpoint: str
    """The log checkpoint, an opaque multi-line text, printed verbatim and as QR codes."""
    witnesses: int = 2
    acknowledged_by: tuple[str, ...] | None = None
    """The witnesses who acknowledged the checkpoint at the appliance (None: not asked)."""
    software: str = ""
    """What ran: custody's version and the digest of its installed software."""

    @property
    def witnessed(self) -> bool:
        return self.acknowledged_by is None or len(self.acknowledged_by) >= self.witnesses

    def __post_init__(self) -> None:
        QrBinding(self.ceremony_id, 0)
        _verify_set(self.threshold, self.shard_count)
        if not is_short_form_well_typed(self.root_fingerprint_short):
            raise ValueError("the short root-key fingerprint is not well typed")
        if len(self.commitments) != self.threshold or not all(
            _POINT_HEX.fullmatch(c) for c in (self.root_fingerprint, *self.commitments)
        ):
            raise ValueError("commitments are `threshold` compressed points in lower-case hex")
        if self.commitments[0] != self.root_fingerprint:
            raise ValueError("the fingerprint is the first commitment")
        ids = [custodian.shard_id for custodian in self.custodians]
        if len(ids) != self.shard_count or len(set(ids)) != len(ids):
            raise ValueError("the summary lists one custodian per shard, each shard once")
        encoded = self.checkpoint.encode("utf-8")
        if not 0 < len(encoded) <= MAX_CHECKPOINT_BYTES or not self.checkpoint.strip():
            raise ValueError(f"a checkpoint is 1..{MAX_CHECKPOINT_BYTES} bytes of text")
        if "↩" in self.checkpoint:
            raise ValueError("a checkpoint must not hold ↩, which marks a continued line on paper")
        if not 0 <= self.witnesses <= 8:
            raise ValueError("a summary has 0..8 witness lines")

    @property
    def binding(self) -> QrBinding:
        return QrBinding(self.ceremony_id, 0)
