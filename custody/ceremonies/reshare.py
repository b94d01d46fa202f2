"""The re-share ceremony's actions: the same root key, a new roster and threshold.

With a quorum of the old set present (collected and checked exactly as in a restore), the
key is split again on a new polynomial, to new custodians and a new threshold. The new set
is taken into custody as an intake would take it (commitments and fingerprint in the log,
packets sealed, media written, sheets printed, receipts signed); only then is every packet
of the old set recorded as void and the old set as re-shared, so a restore of it is refused.
The root key does not change, so SPIKE's database needs nothing; but SPIKE rebuilds its key
as soon as it holds *its own* configured threshold of shards, so a restore of the new set
needs `SPIKE_NEXUS_SHAMIR_THRESHOLD` set to the new threshold (the runbook says so).

The new polynomial's coefficients are derived from the key and this ceremony's id
(HMAC-SHA-512), not drawn at random: a crash may come after some packets were sealed, and
the rerun, which rebuilds the key from the quorum again, must seal shards of the same
polynomial. Another ceremony id gives unrelated coefficients.

Parameters: those of the restore's collection (`of`, `packets`, `keyrings`, optional `db`),
and those of an intake's hand-out (`threshold`, `assign`, `media_out`, `papers_out`,
`receipts`, optional `date`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

from custody.ceremonies import intake, restore
from custody.ceremonies.engine import Action, CeremonyError, CeremonyRun
from custody.ceremonies.setrecord import (
    RESHARED_EVENT,
    SET_EVENT,
    VOID_EVENT,
    read_record,
    set_payload,
)
from custody.commitments import Commitments, commit
from custody.errors import CustodyError
from custody.shamir import Polynomial, combine, split
from custody.shards import Shard, collect_shards

_DERIVATION_LABEL = b"custody reshare polynomial v1"


def actions() -> dict[str, Action]:
    return {
        "reshare.split": split_anew,
        "reshare.manifest": _with_new_set(intake.manifest),
        "reshare.seal": _with_new_set(intake.seal),
        "reshare.write-media": _with_new_set(intake.write_media),
        "reshare.paper": _with_new_set(intake.release_sheets),
        "reshare.receipts": _with_new_set(intake.receipts),
        "reshare.void-old": void_old,
        "reshare.close": intake.close,
    }


def split_anew(run: CeremonyRun) -> Mapping[str, object]:
    """The new set: split, committed, and recorded once; the same on every rerun."""
    old = read_record(run.log.entries(), run.params["of"])
    if old.reshared_by is not None:
        raise CeremonyError(
            f"set {old.ceremony_id} was already re-shared by {old.reshared_by}.",
            kind="set-retired",
            hint=f"Re-share the set of ceremony {old.reshared_by} instead.",
        )
    commitments = _new_set(run)
    if commitments.fingerprint != old.commitments.fingerprint:
        raise CeremonyError("the new set does not rebuild the same key.", kind="key-check-failed")
    recorded = run.entries(SET_EVENT)
    if not recorded:
        payload = {**set_payload(commitments), "reshared_from": old.ceremony_id}
        run.log.append(SET_EVENT, payload, ceremony_id=run.ceremony_id)
    elif recorded[0].payload["commitments"] != set_payload(commitments)["commitments"]:
        raise CeremonyError(
            "the log holds another new set for this ceremony than the quorum gives now.",
            kind="set-changed",
        )
    return {
        "threshold": commitments.threshold,
        "shards": len(commitments.ids),
        "fingerprint_short": commitments.fingerprint.short,
    }


def void_old(run: CeremonyRun) -> Mapping[str, object]:
    """Every packet of the old set void, and the old set re-shared: a restore refuses it."""
    old = read_record(run.log.entries(), run.params["of"])
    if old.reshared_by == run.ceremony_id:
        return {"void": sorted(old.holders)}
    already = {
        e.payload["shard"]
        for e in run.log.entries(ceremony_id=old.ceremony_id)
        if e.event == VOID_EVENT and e.payload.get("reshared_by") == run.ceremony_id
    }
    for shard_id, custodian in sorted(old.holders.items()):
        if shard_id in already:
            continue
        run.log.append(
            VOID_EVENT,
            {"of": old.ceremony_id, "shard": shard_id, "custodian": custodian,
             "packet_sha256": old.packet_digests[shard_id], "reshared_by": run.ceremony_id},
            ceremony_id=old.ceremony_id,
        )  # fmt: skip
    run.log.append(
        RESHARED_EVENT,
        {"of": old.ceremony_id, "by": run.ceremony_id,
         "threshold": read_record(run.log.entries(), run.ceremony_id).commitments.threshold},
        ceremony_id=old.ceremony_id,
    )  # fmt: skip
    return {"void": sorted(old.holders)}


def _with_new_set(action: Action) -> Action:
    """`action` of the intake, run on the new set (rebuilt from the quorum after a crash)."""

    def run_on_new_set(run: CeremonyRun) -> Mapping[str, object]:
        _new_set(run)
        return action(run)

    return run_on_new_set


def _new_set(run: CeremonyRun) -> Commitments:
    """The new polynomial and shards in memory, as intake's actions expect them there."""
    if "polynomial" not in run.memory:
        key = _rebuilt_key(run)
        ids = sorted(int(pair.partition("=")[0]) for pair in run.params["assign"].split())
        threshold = int(run.params["threshold"])
        polynomial, shards = _split(key, threshold, len(ids), _derived(key, run.ceremony_id))
        del key
        if ids != list(range(1, len(ids) + 1)):
            raise CeremonyError(
                f"the new shards are numbered 1..{len(ids)}; assign each of them once.",
                kind="bad-assignment",
            )
        run.memory.update(
            files=(),
            collected=collect_shards(shards),
            polynomial=polynomial,
            commitments=commit(polynomial, tuple(ids)),
        )
    return run.memory["commitments"]  # type: ignore[return-value]


def _rebuilt_key(run: CeremonyRun) -> int:
    if "quorum" not in run.memory:
        restore.combine_and_check(run)
    quorum: list[Shard] = run.memory["quorum"]  # type: ignore[assignment]
    return combine(quorum)


def _split(
    key: int, threshold: int, shares: int, below: Callable[[int], int]
) -> tuple[Polynomial, tuple[Shard, ...]]:
    try:
        return split(key, threshold, shares, random_below=below)
    except CustodyError as error:
        raise CeremonyError(
            f"a new set of {shares} shard(s) with threshold {threshold}: {error.message}",
            kind=error.kind,
        ) from None


def _derived(key: int, ceremony_id: str) -> Callable[[int], int]:
    """Numbers below a bound, from HMAC-SHA-512 keyed by the root key; the same every run."""
    secret = key.to_bytes(32, "big")
    counter = 0

    def below(bound: int) -> int:
        nonlocal counter
        counter += 1
        message = _DERIVATION_LABEL + ceremony_id.encode() + counter.to_bytes(4, "big")
        # 512 bits reduced modulo a 256-bit bound: the bias is below 2^-256.
        return int.from_bytes(hmac.digest(secret, message, hashlib.sha512), "big") % bound

    return below
