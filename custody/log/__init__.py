"""The custody log: append-only, hash-chained, signed by the appliance (docs/spec/log.md).

The public surface other modules use:

    from custody.log import open_log

    with open_log(home) as log:                        # checked, writable; StateError if not
        log.append("shards.intake", {"digest": hexdigest, "shard": 3}, ceremony_id=cid)
        intent = log.intent("media.write", {"device": serial}, ceremony_id=cid)
        ...perform the effect only now...
        log.complete(intent, {"written": 3})          # or log.abandon(intent, "reason")
        log.dangling_intents()                         # intents a crash left open
        log.checkpoint()                               # a signed (size, head, time)

- `append` returns the Entry only after it is committed and fsynced; if it raises, nothing
  was recorded and the action it describes must not happen.
- Event types are lower-case dotted names (`shards.intake`, `log.note`); `log.init` and
  `intent.*` are the log's own. A payload maps lower-case names to JSON values: no floats,
  no bytes, never secret material (digests, ids and fingerprints only). A bad event type or
  payload is a caller's mistake: ValueError or TypeError.
- Reading needs no signing key: `load_appliance(home).read_log()` gives a LogReader with
  `head()`, `entries(ceremony_id=...)`, `dangling_intents()` and `verify(checkpoints)`.
- `verify_log(home, checkpoints=...)` and `verify_export(directory, checkpoints=...)` check
  everything and raise LogIntegrityError naming the first bad entry and its kind;
  `checkpoints` are (source name, Checkpoint) pairs from `load_checkpoint`/`parse_checkpoint`.
- `export_log(log, out)` writes an auditor's export (log.md §7) under an intent.
- Every other failure is a CustodyError: StateError (`home-*`, `log-unavailable`, exit 4)
  when the home or the log file cannot be used, LogIntegrityError (exit 1) when it fails.

`home=None` means the default home: `$CUSTODY_HOME`, else the XDG data directory (see
`custody.appliance.resolve_home`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from custody.log.checkpoint import Checkpoint, encode_checkpoint, load_checkpoint, parse_checkpoint
from custody.log.custody_log import CustodyLog
from custody.log.entry import Entry
from custody.log.export import export_log
from custody.log.intent import Intent
from custody.log.reader import LogReader
from custody.log.times import utc_now
from custody.log.verify import LogReport

__all__ = [
    "Checkpoint",
    "CustodyLog",
    "Entry",
    "Intent",
    "LogReader",
    "LogReport",
    "encode_checkpoint",
    "export_log",
    "load_checkpoint",
    "open_log",
    "parse_checkpoint",
    "verify_export",
    "verify_log",
]


def open_log(home: Path | None = None, *, now: Callable[[], datetime] = utc_now) -> CustodyLog:
    """The home's log, open for appending (refuses a missing home or an unusable log)."""
    # The appliance module owns the home and itself builds on this package: import it late.
    from custody.appliance import load_appliance, resolve_home

    return load_appliance(resolve_home(home)).open_log(now=now)


def verify_log(
    home: Path | None = None, *, checkpoints: Sequence[tuple[str, Checkpoint]] = ()
) -> LogReport:
    """Verify the home's log, read-only, with the home's public key."""
    from custody.appliance import load_appliance, resolve_home

    with load_appliance(resolve_home(home)).read_log() as reader:
        return reader.verify(checkpoints)


def verify_export(
    directory: Path, *, checkpoints: Sequence[tuple[str, Checkpoint]] = ()
) -> LogReport:
    """Verify an export with its own key, its own checkpoint and any checkpoints given.

    The export's key is only as trustworthy as the checkpoints from outside that it must
    also satisfy: without any, this proves only that the export is consistent with itself.
    The export's own `log.export` intent, its last entry, is necessarily still open in it
    (its completion comes after) and is not reported as dangling.
    """
    from dataclasses import replace

    from custody.log.export import EXPORT_CHECKPOINT, EXPORT_EFFECT, load_export
    from custody.log.verify import verify_records

    export = load_export(directory)
    bundled = (str(directory / EXPORT_CHECKPOINT), export.checkpoint)
    report = verify_records(export.records(), export.key, [bundled, *checkpoints])
    dangling = tuple(
        intent
        for intent in report.dangling
        if (intent.seq, intent.effect) != (report.size, EXPORT_EFFECT)
    )
    return replace(report, dangling=dangling)
