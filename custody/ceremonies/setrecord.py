"""What a finished intake leaves in the log about its set, and reading it back.

The `intake.set` entry is the set's public record: threshold, ids, Feldman commitments and
the root-key fingerprint. Restores, drills, check-ins and re-issues read the commitments
from this signed entry, never from a file someone hands over, and `intake.packet` entries
say which custodian holds which shard in which sealed packet. A re-issue voids one packet
(`custody.void`) and records its new holder; a re-share voids them all and marks the set
`custody.reshared`, naming the ceremony whose new set replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from custody.commitments import Commitments
from custody.errors import VerificationError
from custody.formats.commitments import encode_commitments
from custody.log import Entry

SET_EVENT = "intake.set"
PACKET_EVENT = "intake.packet"
VOID_EVENT = "custody.void"
RESHARED_EVENT = "custody.reshared"


@dataclass(frozen=True, slots=True)
class CustodyRecord:
    ceremony_id: str
    commitments: Commitments
    holders: dict[int, str]
    """Shard id -> the custodian fingerprint whose packet holds it."""
    packet_digests: dict[int, str]
    reshared_by: str | None = None
    """The ceremony that re-shared this key to a new set; every packet of this one is void."""

    def require_live(self) -> None:
        """Refuse a set whose packets were all made void by a re-share."""
        if self.reshared_by is not None:
            raise VerificationError(
                f"set {self.ceremony_id} was re-shared by ceremony {self.reshared_by}; "
                "its packets are void.",
                kind="set-retired",
                hint=f"Use the packets of the set of ceremony {self.reshared_by}.",
            )


def set_payload(commitments: Commitments) -> dict[str, object]:
    return {
        "fingerprint": commitments.fingerprint.hex,
        "fingerprint_short": commitments.fingerprint.short,
        "threshold": commitments.threshold,
        "ids": list(commitments.ids),
        "commitments": [point.hex() for point in commitments.points],
        "commitments_sha256": commitments_digest(commitments),
    }


def commitments_digest(commitments: Commitments) -> str:
    return hashlib.sha256(encode_commitments(commitments)).hexdigest()


def read_record(entries: Iterable[Entry], ceremony_id: str) -> CustodyRecord:
    """The set and holders an intake ceremony recorded; VerificationError if it recorded none."""
    commitments: Commitments | None = None
    holders: dict[int, str] = {}
    digests: dict[int, str] = {}
    reshared_by: str | None = None
    for entry in entries:
        if entry.ceremony_id != ceremony_id:
            continue
        if entry.event == SET_EVENT:
            commitments = _commitments(entry)
        elif entry.event == PACKET_EVENT:
            shard = int(str(entry.payload["shard"]))
            holders[shard] = str(entry.payload["custodian"])
            digests[shard] = str(entry.payload["packet_sha256"])
        elif entry.event == RESHARED_EVENT:
            reshared_by = str(entry.payload["by"])
    if commitments is None:
        raise VerificationError(
            f"the log holds no set recorded by ceremony {ceremony_id}.",
            kind="no-such-set",
            hint="Name the intake ceremony whose packets these are (custody log show).",
        )
    return CustodyRecord(ceremony_id, commitments, holders, digests, reshared_by)


def _commitments(entry: Entry) -> Commitments:
    payload = entry.payload
    ids = payload["ids"]
    points = payload["commitments"]
    if not isinstance(ids, list) or not isinstance(points, list):
        raise VerificationError(f"log entry {entry.seq} is not a set record.", kind="bad-record")
    return Commitments(
        threshold=int(str(payload["threshold"])),
        ids=tuple(int(str(i)) for i in ids),
        points=tuple(bytes.fromhex(str(p)) for p in points),
    )
