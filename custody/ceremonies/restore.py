"""The restore, drill and check-in ceremonies' actions: packets back to verified shards.

Every packet is checked before anything is decrypted (its header, the appliance's signature,
the ceremony, the custodian the log says holds that shard), decrypted with the custodian's
own key, and its shard verified *alone* against the commitments the intake recorded in the
signed log. A bad packet or shard is named, logged and not counted. Only at the quorum are
shards combined, and only a key whose fingerprint is the recorded one is ever used; a
reconstruction that fails is discarded unseen, since a cheating custodian who saw a wrong
output could compute the real key from it.

Parameters: `of` (the intake ceremony whose set is restored), `packets` (a folder of what
the custodians present: packet files, scanned sheets or typed text, see `presented`),
`keyrings` (optional: a folder with one GnuPG home per custodian fingerprint, standing in for
their smartcards; by default custody's own home, where a card is reached through gpg-agent),
`db` (optional spike.db backup), `to` (restore only: where the SPIKE shard files go).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from custody.ceremonies import common
from custody.ceremonies.engine import Action, CeremonyError, CeremonyRun
from custody.ceremonies.presented import Presented, read_presented, read_presented_file
from custody.ceremonies.setrecord import CustodyRecord, read_record
from custody.commitments import fingerprint_of, verify_shard
from custody.custodians import Gpg, open_gpg
from custody.errors import CustodyError, VerificationError
from custody.formats.packet import open_packet, parse_packet
from custody.formats.spike import encode_shard_line, parse_shard_text, shard_file_name
from custody.shamir import combine
from custody.shards import Shard

RUNBOOK = """custody restore: {count} SPIKE shard files for the root key {short}.

Order matters:
1. Put the spike.db backup back first (stop SPIKE Nexus, restore the database file).
2. Start SPIKE Nexus with SPIKE_NEXUS_SHAMIR_THRESHOLD={count}; it waits for its root key.
   (SPIKE rebuilds the key as soon as it holds its own threshold of shards: that setting
   must be {count}, the threshold of this set.)
3. Give it one shard at a time:
{commands}
4. SPIKE reports when it has enough; then wipe this folder and the stick.
"""


def actions() -> dict[str, Action]:
    return {
        "restore.collect": collect,
        "restore.combine": combine_and_check,
        "restore.emit": emit,
        "drill.record": record_drill,
        "checkin.verify": checkin,
    }


def collect(run: CeremonyRun) -> Mapping[str, object]:
    record = _record(run)
    good: dict[int, Shard] = {}
    refused = 0
    for presented in read_presented(Path(run.params["packets"])):
        shard = _shard_from_packet(run, record, presented, good)
        if shard is None:
            refused += 1
        else:
            good[shard.id] = shard
    run.memory["shards"] = good
    threshold = record.commitments.threshold
    if len(good) < threshold:
        raise VerificationError(
            f"{len(good)} verified shard(s), {threshold} needed: the quorum is not met.",
            kind="quorum-not-met",
            hint="Bring more custodians; a named bad packet does not count.",
        )
    return {"verified": sorted(good), "refused": refused}


def _shard_from_packet(
    run: CeremonyRun, record: CustodyRecord, presented: Presented, good: dict[int, Shard]
) -> Shard | None:
    name = presented.name
    try:
        if presented.error is not None:
            raise presented.error
        assert presented.data is not None
        shard = _open_one(run, record, presented.data, name)
        if shard.id in good:
            raise CeremonyError(
                f"{name}: shard {shard.id} was presented twice.", kind="duplicate-shard"
            )
    except CustodyError as error:
        run.operator.notice(f"{name}: refused, not counted: {error.message}")
        _record_once(run, "restore.refused", {"file": name, "kind": error.kind})
        return None
    _record_once(
        run,
        "restore.shard",
        {"file": name, "shard": shard.id, "custodian": record.holders[shard.id]},
    )
    return shard


def _open_one(run: CeremonyRun, record: CustodyRecord, data: bytes, name: str) -> Shard:
    header = parse_packet(data).header
    holder = record.holders.get(header.shard_id)
    if header.ceremony != record.ceremony_id or holder is None:
        raise VerificationError(
            f"{name}: a packet of ceremony {header.ceremony}, not of {record.ceremony_id}.",
            kind="wrong-ceremony",
        )
    with _custodian_gpg(run, holder) as gpg:
        content = open_packet(
            gpg,
            data,
            appliance_key=run.log.key.public_key,
            ceremony=record.ceremony_id,
            custodian=holder,
            shard_id=header.shard_id,
        )
    shard = parse_shard_text(content.shard_line.encode("ascii"), source=name).shard
    verify_shard(shard, record.commitments)
    return shard


def combine_and_check(run: CeremonyRun) -> Mapping[str, object]:
    record = _record(run)
    shards = _verified_shards(run)
    quorum = [shards[i] for i in sorted(shards)[: record.commitments.threshold]]
    key = combine(quorum)
    if fingerprint_of(key) != record.commitments.fingerprint:
        del key  # never shown, printed, logged or written
        raise VerificationError(
            "the rebuilt key does not have the recorded fingerprint; it was discarded.",
            kind="key-check-failed",
        )
    result: dict[str, object] = {"fingerprint_short": record.commitments.fingerprint.short}
    if run.params.get("db"):
        result["db_sha256"] = common.check_db(Path(run.params["db"]), key).sha256
    del key
    run.memory["quorum"] = quorum
    return result


def emit(run: CeremonyRun) -> Mapping[str, object]:
    record = _record(run)
    if "quorum" not in run.memory:
        combine_and_check(run)
    quorum: list[Shard] = run.memory["quorum"]  # type: ignore[assignment]
    out = Path(run.params["to"])
    for shard in quorum:
        common.write_once(
            run,
            "restore.emit",
            out / shard_file_name(shard.id),
            encode_shard_line(shard),
            shard_id=shard.id,
        )
    commands = "\n".join(f"   spike operator restore < {shard_file_name(s.id)}" for s in quorum)
    runbook = RUNBOOK.format(
        count=len(quorum), short=record.commitments.fingerprint.short, commands=commands
    )
    common.write_once(run, "restore.emit", out / "RUNBOOK.txt", runbook.encode("ascii"), shard_id=0)
    return {"emitted": [s.id for s in quorum]}


def record_drill(run: CeremonyRun) -> Mapping[str, object]:
    record = _record(run)
    _record_once(
        run,
        "drill.passed",
        {"of": record.ceremony_id, "fingerprint_short": record.commitments.fingerprint.short},
    )
    return {"drill": "passed"}


def checkin(run: CeremonyRun) -> Mapping[str, object]:
    record = _record(run)
    presented = read_presented_file(Path(run.params["packet"]))
    if presented.error is not None:
        raise presented.error
    assert presented.data is not None
    shard = _open_one(run, record, presented.data, presented.name)
    custodian = record.holders[shard.id]
    _record_once(
        run,
        "custody.checkin",
        {"of": record.ceremony_id, "shard": shard.id, "custodian": custodian},
    )
    return {"shard": shard.id, "custodian": custodian}


def _record_once(run: CeremonyRun, event: str, payload: Mapping[str, object]) -> None:
    """Append `event` unless this ceremony already recorded exactly it.

    Shards live only in memory, so a run resumed after a crash opens the packets again, both
    when it repeats an unrecorded step and when a later step needs the shards; what it finds
    is then already in the log, and recording it twice would count one shard twice.
    """
    if all(dict(entry.payload) != payload for entry in run.entries(event)):
        run.log.append(event, payload, ceremony_id=run.ceremony_id)


def _record(run: CeremonyRun) -> CustodyRecord:
    record = read_record(run.log.entries(), run.params["of"])
    record.require_live()
    return record


def _verified_shards(run: CeremonyRun) -> dict[int, Shard]:
    if "shards" not in run.memory:
        collect(run)
    shards: dict[int, Shard] = run.memory["shards"]  # type: ignore[assignment]
    return shards


def _custodian_gpg(run: CeremonyRun, fingerprint: str) -> AbstractContextManager[Gpg]:
    keyrings = run.params.get("keyrings")
    if keyrings:
        return open_gpg(Path(keyrings) / keyring_name(fingerprint))
    from custody.custodians.enrolment import open_custody_gpg

    return open_custody_gpg(run.home)


def keyring_name(fingerprint: str) -> str:
    """The folder of a custodian's stand-in keyring under `keyrings`: short, for the socket."""
    return fingerprint[-16:].lower()
