"""The re-issue ceremony's actions: a lost or compromised custodian's shard, handed anew.

With a quorum present (collected and checked exactly as in a restore), the shard with the
same id is computed again from the quorum's polynomial, verified against the recorded
commitments, and sealed to the new custodian's key. The root key does not change, so SPIKE
needs nothing. The new packet belongs to the original set (its header names the intake
ceremony), the log records the new holder under the intake ceremony, and the old packet is
recorded as void: a restore refuses it, since its custodian is no longer the holder.

Parameters, besides those of the restore's collection: `shard` (the id re-issued),
`custodian` (the new holder's fingerprint), `media_out`, `papers_out`, optionally `date`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from custody.ceremonies import common
from custody.ceremonies.engine import Action, CeremonyError, CeremonyRun
from custody.ceremonies.setrecord import (
    PACKET_EVENT,
    VOID_EVENT,
    commitments_digest,
    read_record,
)
from custody.commitments import verify_shard
from custody.custodians import parse_fingerprint
from custody.formats.packet import PacketContent, encode_packet, parse_packet, seal_packet
from custody.formats.spike import encode_shard_line
from custody.shamir import fit_polynomial
from custody.shards import Shard


def actions() -> dict[str, Action]:
    return {"reissue.seal": seal, "reissue.hand-over": hand_over}


def seal(run: CeremonyRun) -> Mapping[str, object]:
    intake_id, shard_id = run.params["of"], int(run.params["shard"])
    record = read_record(run.log.entries(), intake_id)
    new_holder = parse_fingerprint(run.params["custodian"])
    if shard_id not in record.holders:
        raise CeremonyError(f"set {intake_id} has no shard {shard_id}.", kind="no-such-shard")
    if new_holder in record.holders.values():
        raise CeremonyError(
            "that custodian already holds a shard of this set.", kind="custodian-twice"
        )
    if _done(run):
        return {"shard": shard_id}
    shard = _recomputed(run, shard_id)
    verify_shard(shard, record.commitments)
    with common.custody_gpg(run) as gpg:
        key = common.assignable_keys(run, gpg, [new_holder])[new_holder]
        content = PacketContent(
            ceremony=intake_id, custodian=new_holder, shard_id=shard_id,
            threshold=record.commitments.threshold, shards=len(record.commitments.ids),
            root_key_fingerprint=record.commitments.fingerprint.hex,
            commitments_digest="sha256:" + commitments_digest(record.commitments),
            shard_line=encode_shard_line(shard).decode("ascii"),
        )  # fmt: skip
        packet = seal_packet(gpg, key, content, common.packet_signer(run))
    armored = encode_packet(packet, armor=True)
    common.write_work_file(common.packet_file(run, shard_id), armored)
    run.log.append(
        VOID_EVENT,
        {"of": intake_id, "shard": shard_id, "custodian": record.holders[shard_id],
         "packet_sha256": record.packet_digests[shard_id], "reissued_by": run.ceremony_id},
        ceremony_id=intake_id,
    )  # fmt: skip
    run.log.append(
        PACKET_EVENT,
        {"shard": shard_id, "custodian": new_holder,
         "packet_sha256": hashlib.sha256(armored).hexdigest(),
         "message_sha256": packet.header.message_digest.hex(), "reissued_by": run.ceremony_id},
        ceremony_id=intake_id,
    )  # fmt: skip
    return {"shard": shard_id, "custodian": new_holder}


def hand_over(run: CeremonyRun) -> Mapping[str, object]:
    """The new packet onto the new custodian's medium, and their sheet, each written once."""
    from custody.paper.selftest import render_and_verify_custodian_sheet
    from custody.paper.sheets import CustodianSheetContext

    shard_id, holder = int(run.params["shard"]), parse_fingerprint(run.params["custodian"])
    record = read_record(run.log.entries(), run.params["of"])
    data = common.packet_file(run, shard_id).read_bytes()
    folder = Path(run.params["media_out"]) / f"custodian-{holder[-16:].lower()}"
    name = f"{record.ceremony_id}-shard-{shard_id}-{run.ceremony_id}.asc"
    common.write_once(run, "media.write", folder / name, data, shard_id=shard_id)
    context = CustodianSheetContext(
        ceremony_id=record.ceremony_id, shard_id=shard_id,
        custodian_name=common.custodian_names(run).get(holder, holder),
        custodian_fingerprint=holder, threshold=record.commitments.threshold,
        shard_count=len(record.commitments.ids),
        root_fingerprint_short=record.commitments.fingerprint.short,
    )  # fmt: skip
    created = date.fromisoformat(run.params["date"]) if run.params.get("date") else date.today()
    pdf = render_and_verify_custodian_sheet(
        context, encode_packet(parse_packet(data), armor=False), created=created
    )
    sheet = Path(run.params["papers_out"]) / f"sheet-shard-{shard_id}-{run.ceremony_id}.pdf"
    common.write_once(run, "paper.release", sheet, pdf, shard_id=shard_id)
    return {"shard": shard_id, "custodian": holder}


def _recomputed(run: CeremonyRun, shard_id: int) -> Shard:
    quorum: list[Shard] = run.memory["quorum"]  # type: ignore[assignment]
    return fit_polynomial(quorum, len(quorum)).shard(shard_id)


def _done(run: CeremonyRun) -> bool:
    return (
        any(
            e.event == PACKET_EVENT and e.payload.get("reissued_by") == run.ceremony_id
            for e in run.log.entries(ceremony_id=run.params["of"])
        )
        and common.packet_file(run, int(run.params["shard"])).exists()
    )
