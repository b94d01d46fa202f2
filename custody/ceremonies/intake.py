"""The intake ceremony's actions: from plaintext shards on a stick to packets in custody.

Each action is one step of `ceremony/intake.toml` and can be rerun after a crash: it reads
the log to see what it already did. Irreversible effects (writing a custodian's medium,
releasing a sheet, wiping the intake files) are announced with an intent and confirmed after;
an intent left open by a crash is settled when the step runs again (the file is checked
against the digest it was meant to have).

Parameters (`CeremonyRun.params`): `from` (the intake folder), `threshold`, `assign`
(`ID=FINGERPRINT` pairs, space separated), `media_out` and `papers_out` (folders standing for
the custodians' sticks and the printer), `receipts` (where signed receipts appear), and
optionally `db` (a spike.db backup), `spike_version`, `date` (YYYY-MM-DD for the sheets).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from custody.ceremonies import common
from custody.ceremonies.engine import Action, CeremonyError, CeremonyRun, Request
from custody.ceremonies.opening import ISSUED_EVENT, software_of
from custody.ceremonies.setrecord import PACKET_EVENT, SET_EVENT, commitments_digest, set_payload
from custody.commitments import Commitments, commit, verify_shard
from custody.errors import CustodyError
from custody.formats.packet import Packet, PacketContent, encode_packet, parse_packet, seal_packet
from custody.formats.spike import encode_shard_line, parse_shard_text
from custody.shamir import Polynomial, fit_polynomial
from custody.shardfiles import ShardFile
from custody.shards import CollectedShards

if TYPE_CHECKING:
    from custody.log import Checkpoint, Intent
    from custody.paper.sheets import CustodianSheetContext, SummarySheetContext


def actions() -> dict[str, Action]:
    return {
        "intake.read-shards": read_shards,
        "intake.check-db": check_db,
        "intake.manifest": manifest,
        "intake.seal": seal,
        "intake.write-media": write_media,
        "intake.paper": release_sheets,
        "intake.receipts": receipts,
        "intake.wipe": wipe,
        "intake.close": close,
    }


def read_shards(run: CeremonyRun) -> Mapping[str, object]:
    collected, _, commitments = _the_set(run)
    if not run.entries(SET_EVENT):
        common.refuse_set_in_custody(run, commitments.fingerprint.hex)
        loaded: tuple[ShardFile, ...] = run.memory["files"]  # type: ignore[assignment]
        files = [{"name": f.path.name, "sha256": f.file_sha256} for f in loaded]
        run.log.append(
            SET_EVENT, {**set_payload(commitments), "files": files}, ceremony_id=run.ceremony_id
        )
    return {"fingerprint_short": commitments.fingerprint.short, "shards": len(collected.shards)}


def check_db(run: CeremonyRun) -> Mapping[str, object]:
    if not run.params.get("db"):
        return {"db": "none given"}
    _, polynomial, _ = _the_set(run)
    result = common.check_db(Path(run.params["db"]), polynomial.secret)
    run.memory["db_sha256"] = result.sha256
    return {"db_sha256": result.sha256, "rows_decrypted": result.rows_decrypted}


def manifest(run: CeremonyRun) -> Mapping[str, object]:
    commitments = common.recorded_set(run)
    document = {
        "ceremony": run.ceremony_id,
        "spike_version": run.params.get("spike_version", "unknown"),
        "threshold": commitments.threshold,
        "shards": len(commitments.ids),
        "fingerprint": commitments.fingerprint.hex,
        "commitments_sha256": commitments_digest(commitments),
        "db_sha256": _db_digest(run),
    }
    target = Path(run.params["papers_out"]) / "manifest.json"
    written = common.write_once(run, "media.write", target, common.json_bytes(document), shard_id=0)
    if not run.entries("intake.manifest"):  # a crash may have followed it, before the step
        run.log.append(
            "intake.manifest", {**document, "sha256": written}, ceremony_id=run.ceremony_id
        )
    return {"manifest_sha256": written}


def seal(run: CeremonyRun) -> Mapping[str, object]:
    collected, _, commitments = _the_set(run)
    assignment = common.assignment(run, commitments.ids)
    sealed = {int(str(e.payload["shard"])) for e in run.entries(PACKET_EVENT)}
    with common.custody_gpg(run) as gpg:
        keys = common.assignable_keys(run, gpg, sorted(set(assignment.values())))
        for shard in collected.shards:
            if shard.id in sealed and common.packet_file(run, shard.id).exists():
                continue
            content = PacketContent(
                ceremony=run.ceremony_id,
                custodian=assignment[shard.id],
                shard_id=shard.id,
                threshold=commitments.threshold,
                shards=len(commitments.ids),
                root_key_fingerprint=commitments.fingerprint.hex,
                commitments_digest="sha256:" + commitments_digest(commitments),
                shard_line=encode_shard_line(shard).decode("ascii"),
            )
            packet = seal_packet(
                gpg, keys[assignment[shard.id]], content, common.packet_signer(run)
            )
            _keep_packet(run, shard.id, packet)
    return {"packets": len(collected.shards)}


def _keep_packet(run: CeremonyRun, shard_id: int, packet: Packet) -> None:
    armored = encode_packet(packet, armor=True)
    common.write_work_file(common.packet_file(run, shard_id), armored)
    run.log.append(
        PACKET_EVENT,
        {
            "shard": shard_id,
            "custodian": packet.header.custodian,
            "packet_sha256": hashlib.sha256(armored).hexdigest(),
            "message_sha256": packet.header.message_digest.hex(),
        },
        ceremony_id=run.ceremony_id,
    )


def write_media(run: CeremonyRun) -> Mapping[str, object]:
    out = Path(run.params["media_out"])
    count = 0
    for shard_id, custodian in common.holders(run).items():
        data = common.packet_file(run, shard_id).read_bytes()
        folder = out / f"custodian-{custodian[-16:].lower()}"
        name = f"{run.ceremony_id}-shard-{shard_id}.asc"
        common.write_once(run, "media.write", folder / name, data, shard_id=shard_id)
        count += 1
    return {"written": count}


def release_sheets(run: CeremonyRun) -> Mapping[str, object]:
    from custody.paper.selftest import render_and_verify_custodian_sheets

    holders = common.holders(run)
    targets = {shard_id: _papers(run) / f"sheet-shard-{shard_id}.pdf" for shard_id in holders}
    pending = [i for i in holders if not common.is_done(run, "paper.release", targets[i])]
    contexts = _sheet_contexts(run, holders)
    sheets = [(contexts[i], _packet_payload(run, i)) for i in pending]
    pdfs = render_and_verify_custodian_sheets(sheets, created=_sheet_date(run))
    for shard_id, pdf in zip(pending, pdfs, strict=True):
        common.write_once(run, "paper.release", targets[shard_id], pdf, shard_id=shard_id)
    return {"sheets": len(holders)}


def _sheet_contexts(
    run: CeremonyRun, holders: Mapping[int, str]
) -> dict[int, CustodianSheetContext]:
    from custody.paper.sheets import CustodianSheetContext

    commitments = common.recorded_set(run)
    names = common.custodian_names(run)
    return {
        shard_id: CustodianSheetContext(
            ceremony_id=run.ceremony_id,
            shard_id=shard_id,
            custodian_name=names.get(custodian, custodian),
            custodian_fingerprint=custodian,
            threshold=commitments.threshold,
            shard_count=len(commitments.ids),
            root_fingerprint_short=commitments.fingerprint.short,
        )
        for shard_id, custodian in holders.items()
    }


def _packet_payload(run: CeremonyRun, shard_id: int) -> bytes:
    return encode_packet(parse_packet(common.packet_file(run, shard_id).read_bytes()), armor=False)


def receipts(run: CeremonyRun) -> Mapping[str, object]:
    from custody.custodians.receipts import Receipt, verify_receipt

    done = {int(str(e.payload["shard"])) for e in run.entries("intake.receipt")}
    folder = Path(run.params["receipts"])
    holders = common.holders(run)
    with common.custody_gpg(run) as gpg:
        keys = common.assignable_keys(run, gpg, sorted(set(holders.values())))
        for shard_id, custodian in holders.items():
            if shard_id in done:
                continue
            packet_sha256 = hashlib.sha256(
                common.packet_file(run, shard_id).read_bytes()
            ).hexdigest()
            receipt = Receipt("received", run.ceremony_id, shard_id, custodian, packet_sha256)
            signature_path = folder / f"receipt-shard-{shard_id}.sig"
            common.write_work_file(
                common.work_folder(run) / f"receipt-shard-{shard_id}.txt", receipt.text()
            )
            run.operator.obtain(
                Request(
                    f"custodian {custodian}'s signature over the receipt for shard {shard_id}",
                    signature_path,
                    custodian=custodian,
                    document=receipt.text(),
                )
            )
            signature = common.read_input(signature_path, 64 * 1024)
            verify_receipt(gpg, keys[custodian], receipt, signature)
            run.log.append(
                "intake.receipt",
                {
                    "shard": shard_id,
                    "custodian": custodian,
                    "signature_sha256": hashlib.sha256(signature).hexdigest(),
                },
                ceremony_id=run.ceremony_id,
            )
    return {"receipts": len(holders)}


def wipe(run: CeremonyRun) -> Mapping[str, object]:
    """The intake files of this set overwritten and deleted, under one intent across reruns.

    A wipe a crash interrupted is finished under the intent that announced it, and a file
    that intent named is wiped even if it no longer reads as a shard: the crash may have
    come after it was overwritten, before it was deleted.
    """
    from custody.media.wipe import find_shard_files, wipe_shard_files

    confirmed = _wipe_confirmed(run)
    if confirmed is not None:  # a crash followed the wipe's completion, before the step
        return confirmed
    commitments = common.recorded_set(run)
    folder = Path(run.params["from"])
    names, _ = find_shard_files(folder)
    begun = _wipe_begun(run)
    announced = _announced_files(begun)
    intent = begun or run.log.intent(
        "media.wipe", {"folder": str(folder), "files": list(names)}, ceremony_id=run.ceremony_id
    )
    result = wipe_shard_files(
        folder, names, lambda name, data: name in announced or _is_of(commitments, name, data)
    )
    summary = {
        "wiped": [{"name": w.name, "sha256": w.sha256} for w in result.wiped],
        "left_alone": [{"name": x.name, "reason": x.reason} for x in result.left_alone],
    }
    run.log.complete(intent, summary)
    return {key: len(value) for key, value in summary.items()}


def _announced_files(intent: Intent | None) -> set[str]:
    files = intent.detail.get("files") if intent else None
    return {str(name) for name in files} if isinstance(files, list) else set()


def _wipe_confirmed(run: CeremonyRun) -> Mapping[str, object] | None:
    for entry in run.entries("intent.complete"):
        result = entry.payload.get("result")
        if entry.payload.get("effect") == "media.wipe" and isinstance(result, dict):
            return {key: len(value) for key, value in result.items() if isinstance(value, list)}
    return None


def _wipe_begun(run: CeremonyRun) -> Intent | None:
    return next(
        (
            intent
            for intent in run.log.dangling_intents()
            if intent.ceremony_id == run.ceremony_id and intent.effect == "media.wipe"
        ),
        None,
    )


def close(run: CeremonyRun) -> Mapping[str, object]:
    """The summary sheet with a signed checkpoint, marked UNWITNESSED when too few witnessed.

    The witnesses acknowledge this step before it runs, so the page can name them; with
    fewer than the script asks for, the page says UNWITNESSED, no checkpoint file is handed
    out, and the engine refuses to record the step: the ceremony is not finished.
    """
    from custody.paper.selftest import render_and_verify_summary_sheet

    text, checkpoint = _closing_checkpoint(run)
    context = _summary_context(run, text)
    pdf = render_and_verify_summary_sheet(context, created=_sheet_date(run))
    out = Path(run.params["papers_out"])
    if not context.witnessed:
        name = f"summary-UNWITNESSED-{_sha256(pdf)[:8]}.pdf"
        common.write_once(run, "paper.release", out / name, pdf, shard_id=0)
        return {"witnessed": False}
    common.write_once(run, "paper.release", out / "summary.pdf", pdf, shard_id=0)
    common.write_once(run, "media.write", out / "checkpoint.txt", text.encode(), shard_id=0)
    if not run.entries(ISSUED_EVENT):
        run.log.append(
            ISSUED_EVENT,
            {"size": checkpoint.size, "time": checkpoint.time, "sha256": _sha256(text.encode())},
            ceremony_id=run.ceremony_id,
        )
    return {"checkpoint_sha256": _sha256(text.encode()), "witnessed": True}


def _closing_checkpoint(run: CeremonyRun) -> tuple[str, Checkpoint]:
    """The checkpoint this ceremony closes with: signed once, the same on every rerun."""
    from custody.log import encode_checkpoint
    from custody.log.checkpoint import parse_checkpoint

    kept = common.work_folder(run) / "closing-checkpoint.txt"
    if not kept.exists():
        common.write_work_file(kept, encode_checkpoint(run.log.checkpoint()).encode())
    data = kept.read_bytes()
    return data.decode("utf-8"), parse_checkpoint(data, source=str(kept))


def _summary_context(run: CeremonyRun, checkpoint: str) -> SummarySheetContext:
    from custody.paper.sheets import SummaryCustodian, SummarySheetContext

    commitments = common.recorded_set(run)
    names = common.custodian_names(run)
    acknowledged: dict[str, list[str]] = run.memory.get("acknowledged", {})  # type: ignore[assignment]
    return SummarySheetContext(
        ceremony_id=run.ceremony_id,
        threshold=commitments.threshold,
        shard_count=len(commitments.ids),
        root_fingerprint=commitments.fingerprint.hex,
        root_fingerprint_short=commitments.fingerprint.short,
        commitments=tuple(point.hex() for point in commitments.points),
        custodians=tuple(
            SummaryCustodian(shard_id=i, name=names.get(fpr, fpr), fingerprint=fpr)
            for i, fpr in sorted(common.holders(run).items())
        ),
        checkpoint=checkpoint,
        witnesses=run.script.role("witness").minimum,
        acknowledged_by=tuple(acknowledged.get("witness", ())),
        software=software_of(run),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _the_set(run: CeremonyRun) -> tuple[CollectedShards, Polynomial, Commitments]:
    """The shards from the intake folder, proved one set; the same set the log recorded."""
    if "polynomial" not in run.memory:
        from custody.shardfiles import load_shard_files

        loaded = load_shard_files([Path(run.params["from"])])
        for skipped in loaded.skipped:
            run.operator.notice(f"skipped, never read: {skipped.error.message}")
        collected = loaded.collect()
        polynomial = fit_polynomial(collected.shards, int(run.params["threshold"]))
        commitments = commit(polynomial, collected.ids)
        recorded = run.entries(SET_EVENT)
        if recorded and recorded[0].payload["fingerprint"] != commitments.fingerprint.hex:
            raise CeremonyError(
                "the intake folder now holds another set than this ceremony recorded.",
                kind="set-changed",
                hint="Put the original intake stick back, or start a new ceremony.",
            )
        run.memory.update(
            files=loaded.files, collected=collected, polynomial=polynomial, commitments=commitments
        )
    return run.memory["collected"], run.memory["polynomial"], run.memory["commitments"]  # type: ignore[return-value]


def _db_digest(run: CeremonyRun) -> str | None:
    if not run.params.get("db"):
        return None
    if "db_sha256" not in run.memory:
        check_db(run)
    return str(run.memory["db_sha256"])


def _is_of(commitments: Commitments, name: str, data: bytes) -> bool:
    try:
        verify_shard(parse_shard_text(data, source=name).shard, commitments)
    except CustodyError:
        return False
    return True


def _papers(run: CeremonyRun) -> Path:
    return Path(run.params["papers_out"])


def _sheet_date(run: CeremonyRun) -> date:
    text = run.params.get("date")
    return date.fromisoformat(text) if text else date.today()
