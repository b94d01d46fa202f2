"""The rehearsal: every check custody makes, run end to end on throwaway and bundled data.

It needs nothing from the operator: it makes a fresh root key and a 3-of-5 SPIKE set,
reads it back through the same strict path real shards take, proves it consistent,
commits to it, catches a tampered shard, rebuilds the key from a quorum, and checks the
bundled `spike.db` sample against its own shards and against the wrong ones. Every file it
writes stays in the output folder for the operator to look at.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from custody.atomicfile import make_private_directory, write_file_atomic
from custody.commitments import commit, find_bad_shards, fingerprint_of
from custody.errors import BadInputError, InconsistentSetError, VerificationError
from custody.field import N
from custody.formats.commitments import encode_commitments
from custody.shamir import combine, fit_polynomial, split
from custody.shardfiles import load_shard_files, write_shard_files
from custody.shards import Shard
from custody.spikedb import check_spike_db

THRESHOLD: Final = 3
SHARES: Final = 5
SAMPLE_THRESHOLD: Final = 2

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RehearsalReport:
    out: Path
    fingerprint_short: str
    artifacts: tuple[tuple[str, Path], ...]


def prepare_output_folder(out: Path | None) -> Path:
    """The folder the rehearsal writes to: a given empty or new one, else a fresh temporary."""
    if out is None:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="custody-rehearsal-"))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError(
            f"{out}: exists and is not an empty folder.",
            kind="output-exists",
            hint="Name a new folder for the rehearsal, or leave --out off for a temporary one.",
        )
    make_private_directory(out)
    return out


def sample_folder() -> resources.abc.Traversable:
    return resources.files("custody") / "sample"


def run_rehearsal(
    out: Path, progress: Progress, *, random_below: Callable[[int], int] = secrets.randbelow
) -> RehearsalReport:
    intake = out / "intake"
    key = 1 + random_below(N - 1)
    _, shards = split(key, THRESHOLD, SHARES, random_below=random_below)
    write_shard_files(intake, shards)
    progress(f"split a fresh throwaway root key into a {THRESHOLD}-of-{SHARES} SPIKE set: {intake}")

    collected = load_shard_files([intake]).collect()
    fitted = fit_polynomial(collected.shards, THRESHOLD)
    commitments = commit(fitted, collected.ids)
    commitments_file = out / "commitments.json"
    write_file_atomic(commitments_file, encode_commitments(commitments), mode=0o644)
    fingerprint = commitments.fingerprint
    _expect(fitted.secret == key and fingerprint == fingerprint_of(key), "the set rebuilds its key")
    progress(f"read the set back strictly: one consistent set, fingerprint {fingerprint.short}")

    _expect(not find_bad_shards(collected.shards, commitments), "every shard verifies alone")
    progress("checked every shard alone against the set's commitments")

    tampered = dataclasses.replace(collected.shards[1], value=collected.shards[1].value ^ 1)
    with_tamper = (collected.shards[0], tampered, *collected.shards[2:])
    _expect(
        find_bad_shards(with_tamper, commitments) == (tampered.id,), "a tampered shard is named"
    )
    _expect(
        _located(with_tamper) == (tampered.id,), "a tampered shard is located without commitments"
    )
    progress(
        f"flipped one bit of shard {tampered.id}: named by the commitments and by the set alone"
    )

    quorum = collected.shards[::2][:THRESHOLD]
    _expect(fingerprint_of(combine(quorum)) == fingerprint, "a quorum rebuilds the key")
    progress(
        f"rebuilt the key from shards {', '.join(str(s.id) for s in quorum)}: fingerprint matches"
    )

    sample_db = _check_bundled_database(out)
    progress(f"the bundled spike.db opens with its own shards ({sample_db})")
    wrong = check_spike_db(sample_db, key.to_bytes(32, "big"))
    _expect(not wrong.key_matches, "the fresh set's key does not open the bundled spike.db")
    progress("the fresh set's key does not open the bundled spike.db, as it must not")

    from custody.ceremonies.rehearsal import rehearse_ceremonies

    ceremonies = rehearse_ceremonies(out, sample_db.parent, progress)
    return RehearsalReport(
        out=out,
        fingerprint_short=fingerprint.short,
        artifacts=(
            ("fresh shard set", intake),
            ("its commitments", commitments_file),
            ("sample spike.db and its shards", sample_db.parent),
            *ceremonies.artifacts,
        ),
    )


def _check_bundled_database(out: Path) -> Path:
    sample = sample_folder()
    database = out / "sample" / "spike.db"
    make_private_directory(database.parent)
    write_file_atomic(database, (sample / "spike.db").read_bytes())
    recover = out / "sample" / "recover"
    make_private_directory(recover)
    for entry in (sample / "recover").iterdir():
        write_file_atomic(recover / entry.name, entry.read_bytes())
    collected = load_shard_files([recover]).collect()
    key = fit_polynomial(collected.shards, SAMPLE_THRESHOLD).secret
    result = check_spike_db(database, key.to_bytes(32, "big"))
    _expect(result.ok, "the bundled spike.db opens with its own shards")
    return database


def _located(shards: tuple[Shard, ...]) -> tuple[int, ...]:
    try:
        fit_polynomial(shards, THRESHOLD)
    except InconsistentSetError as error:
        return error.bad_ids
    return ()


def _expect(holds: bool, what: str) -> None:
    if not holds:
        raise VerificationError(f"rehearsal failed: expected that {what}.", kind="rehearsal-failed")
