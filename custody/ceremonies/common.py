"""What every ceremony's actions share: the home's folders, GnuPG, custodians, and effects
that happen exactly once.

`write_once` is the crash-safe way to put a file where people will take it (a custodian's
stick, the printer's folder): it announces the write in the log, writes and reads back, and
confirms; when a crash left the announcement open, rerunning settles it by comparing what is
there with what was meant to be written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from custody.atomicfile import make_private_directory, write_file_atomic
from custody.ceremonies.engine import CeremonyError, CeremonyRun
from custody.ceremonies.setrecord import SET_EVENT, read_record
from custody.commitments import Commitments
from custody.custodians import CustodianKey, Gpg, parse_fingerprint
from custody.errors import VerificationError
from custody.log import Intent
from custody.media.errors import MediaWriteError
from custody.shardfiles import read_small_regular_file
from custody.spikedb import DbCheck, check_spike_db


def work_folder(run: CeremonyRun) -> Path:
    folder = run.home / "ceremonies" / run.ceremony_id
    make_private_directory(folder)
    return folder


def packet_file(run: CeremonyRun, shard_id: int) -> Path:
    return work_folder(run) / f"packet-shard-{shard_id}.asc"


def write_work_file(path: Path, data: bytes) -> None:
    make_private_directory(path.parent)
    write_file_atomic(path, data, overwrite=True)


def read_input(path: Path, limit: int) -> bytes:
    return read_small_regular_file(path, limit)


def json_bytes(document: object) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


@contextmanager
def custody_gpg(run: CeremonyRun) -> Iterator[Gpg]:
    from custody.custodians.enrolment import open_custody_gpg

    with open_custody_gpg(run.home) as gpg:
        yield gpg


@dataclass(frozen=True, slots=True)
class _AppliancePacketSigner:
    """The appliance's log key, as the signer of packet headers."""

    run: CeremonyRun

    @property
    def public_key(self) -> bytes:
        return self.run.log.key.public_key

    def sign(self, message: bytes) -> bytes:
        from custody.appliance import load_appliance

        return load_appliance(self.run.home).load_signer().sign(message)


def packet_signer(run: CeremonyRun) -> _AppliancePacketSigner:
    return _AppliancePacketSigner(run)


def assignment(run: CeremonyRun, ids: Sequence[int]) -> dict[int, str]:
    """`assign` as {shard id: fingerprint}: every shard once, every custodian once."""
    pairs: dict[int, str] = {}
    for item in run.params.get("assign", "").split():
        shard, _, fingerprint = item.partition("=")
        if not shard.isdigit() or int(shard) in pairs:
            raise CeremonyError(
                f"assignment {item!r} is not SHARD=FINGERPRINT, once per shard.",
                kind="bad-assignment",
            )
        pairs[int(shard)] = parse_fingerprint(fingerprint)
    if sorted(pairs) != sorted(ids):
        raise CeremonyError(
            f"every shard ({', '.join(map(str, ids))}) needs exactly one custodian; "
            f"assigned: {', '.join(map(str, sorted(pairs))) or 'none'}.",
            kind="bad-assignment",
        )
    if len(set(pairs.values())) != len(pairs):
        raise CeremonyError(
            "a custodian is assigned two shards.",
            kind="custodian-twice",
            hint="Each shard goes to a different custodian.",
        )
    return pairs


def assignable_keys(
    run: CeremonyRun, gpg: Gpg, fingerprints: Sequence[str]
) -> dict[str, CustodianKey]:
    """The enrolled keys of custodians who may hold a shard, re-checked against policy now
    (the later of the clock and the log's latest time), each with its enrolled horizon."""
    from datetime import timedelta

    from custody.ceremonies.opening import effective_now
    from custody.custodians import load_custodian_keys
    from custody.custodians.roster import load_roster, verify_assignable

    roster = load_roster(run.log.entries())
    by_horizon: dict[int, list[str]] = {}
    for fingerprint in fingerprints:
        verify_assignable(roster, fingerprint)
        custodian = roster.select(fingerprint)
        by_horizon.setdefault(custodian.horizon_days, []).append(custodian.fingerprint)
    # One listing of the keyring per horizon, not per custodian: it holds every custodian.
    now = effective_now(run)
    keys: dict[str, CustodianKey] = {}
    for days, group in by_horizon.items():
        found = load_custodian_keys(gpg, tuple(group), now=now, horizon=timedelta(days=days))
        keys.update(zip(group, found, strict=True))
    return {
        fingerprint: keys[roster.select(fingerprint).fingerprint] for fingerprint in fingerprints
    }


def custodian_names(run: CeremonyRun) -> dict[str, str]:
    from custody.custodians.roster import load_roster

    return {c.fingerprint: c.name for c in load_roster(run.log.entries()).custodians}


def recorded_set(run: CeremonyRun) -> Commitments:
    return read_record(run.entries(), run.ceremony_id).commitments


def holders(run: CeremonyRun) -> dict[int, str]:
    return dict(sorted(read_record(run.entries(), run.ceremony_id).holders.items()))


def refuse_set_in_custody(run: CeremonyRun, fingerprint: str) -> None:
    if run.params.get("reissue") == "yes":
        return
    for entry in run.log.entries():
        if entry.event == SET_EVENT and entry.payload.get("fingerprint") == fingerprint:
            raise CeremonyError(
                f"this root key is already in custody (ceremony {entry.ceremony_id}, "
                f"entry {entry.seq}).",
                kind="already-in-custody",
                hint="Use custody reissue to hand out new packets for a key already in custody.",
            )


def check_db(path: Path, key: int) -> DbCheck:
    result = check_spike_db(path, key.to_bytes(32, "big"))
    if not result.ok:
        raise VerificationError(
            f"{path}: the set's key does not open this backup ({result.rows_decrypted} of "
            f"{result.rows_checked} rows decrypt, integrity {result.integrity}).",
            kind="db-mismatch",
            hint="Pair the shards with the spike.db backup taken with them.",
        )
    return result


def write_once(
    run: CeremonyRun, effect: str, target_file: Path, data: bytes, *, shard_id: int
) -> str:
    """Write `data` to `folder/name` exactly once across reruns; returns its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    folder, target = target_file.parent, str(target_file)
    writes = _writes(run)
    dangling = writes.dangling.get(target)
    if dangling is not None:
        _write_checked(target_file, data, digest)
        run.log.complete(dangling, {"sha256": digest, "settled": True})
        writes.settled(run, effect, target)
        return digest
    if target in writes.completed.get(effect, set()):
        return digest
    make_private_directory(folder)
    detail = {"path": target, "sha256": digest, "shard": shard_id}
    intent = run.log.intent(effect, detail, ceremony_id=run.ceremony_id)
    try:
        _write_checked(target_file, data, digest)
    except MediaWriteError as error:
        run.operator.notice(f"'{effect}' to {target} is left open in the log: {error.message}")
        raise
    run.log.complete(intent, {"sha256": digest})
    writes.settled(run, effect, target)
    return digest


def is_done(run: CeremonyRun, effect: str, target_file: Path) -> bool:
    """Whether this ceremony already confirmed writing `target_file` (a rerun skips it)."""
    return str(target_file) in _writes(run).completed.get(effect, set())


@dataclass
class _Writes:
    """This ceremony's writes as the log has them: open ones by path, done ones by effect.

    Read from the log once and kept up to date by `write_once` itself, so an intake for
    hundreds of custodians does not read the whole log again for every file it writes.
    """

    head: int
    dangling: dict[str, Intent]
    completed: dict[str, set[str]]

    def settled(self, run: CeremonyRun, effect: str, target: str) -> None:
        self.dangling.pop(target, None)
        self.completed.setdefault(effect, set()).add(target)
        self.head = _head_seq(run)


def _writes(run: CeremonyRun) -> _Writes:
    writes = run.memory.get("writes")
    if isinstance(writes, _Writes) and writes.head == _head_seq(run):
        return writes
    dangling = {
        str(intent.detail.get("path")): intent
        for intent in run.log.dangling_intents()
        if intent.ceremony_id == run.ceremony_id
    }
    writes = _Writes(_head_seq(run), dangling, _completed_paths(run))
    run.memory["writes"] = writes
    return writes


def _head_seq(run: CeremonyRun) -> int:
    head = run.log.head()
    return 0 if head is None else head.seq


def _write_checked(path: Path, data: bytes, digest: str) -> None:
    """Write and read back; a file already there must be exactly this one (a crash's leftover)."""
    from custody.media.verified_write import remove_leftover, write_verified

    if path.exists():
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise CeremonyError(
                f"{path} holds other content than custody meant to write there.",
                kind="output-differs",
                hint="Move that file aside (it is not custody's) and run the ceremony again.",
            )
        remove_leftover(path.parent, path.name)  # a kill between the rename and the clean-up
        return
    write_verified(path.parent, path.name, data)


def _completed_paths(run: CeremonyRun) -> dict[str, set[str]]:
    begun: dict[int, tuple[str, str]] = {}
    done: dict[str, set[str]] = {}
    for entry in run.entries():
        if entry.event == "intent.begin":
            detail = entry.payload.get("detail")
            if isinstance(detail, dict):
                begun[entry.seq] = (str(entry.payload.get("effect")), str(detail.get("path")))
        elif entry.event == "intent.complete" and entry.payload.get("intent") in begun:
            effect, path = begun[int(str(entry.payload["intent"]))]
            done.setdefault(effect, set()).add(path)
    return done
