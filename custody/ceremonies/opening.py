"""What every ceremony does first: trust the log, against paper from outside, and the clock.

The log is the appliance's memory of custodians, sets and packets, so every ceremony
verifies all of it before anything else. A log verified against itself still cannot show
that the whole disk was put back to an older copy (a rollback): only a checkpoint kept
outside can, so the operator presents the last checkpoint printed (the summary sheet's
`checkpoint.txt`, or its lines typed), or says `none` when this appliance has never printed
one, which is logged and shown as a rollback left unchecked.

An air-gapped machine's clock may be wrong, and its battery may die. Log entries keep their
order by sequence number whatever the clock says; the time custody uses for expiry checks
is the later of the clock and the latest time already in the log, and a clock behind the
log, far ahead of it, or a date the operator gives that disagrees with it is shown as a
warning and recorded with both values.

First of all the host is checked (custody.hostcheck): swap, core files, a dumpable process
or installed software that differs from the image's manifest stop the ceremony before any
secret is read, and the software digest is recorded, and printed on the summary sheet.

Parameters: `checkpoint` (optional: a checkpoint file, or `none`; asked for when absent),
`date` (optional: the operator's date, YYYY-MM-DD), `unsafe_host` (`accept`: rehearsals only).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from custody.ceremonies import common
from custody.ceremonies.engine import Action, CeremonyRun, Request
from custody.errors import BadInputError
from custody.log import Checkpoint

NO_CHECKPOINT: Final = "none"
ISSUED_EVENT: Final = "checkpoint.issued"
MAX_DATE_DISAGREEMENT: Final = timedelta(days=2)
MAX_CLOCK_LEAD: Final = timedelta(days=3 * 365)
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def actions() -> dict[str, Action]:
    return {"log.verify": verify_log}


def verify_log(run: CeremonyRun) -> Mapping[str, object]:
    host = _check_host(run)
    source, checkpoint = _outside_checkpoint(run)
    report = run.log.verify([(source, checkpoint)] if checkpoint else [])
    result: dict[str, object] = {"entries": report.size, **host, **_clock(run)}
    if checkpoint is None:
        run.operator.notice(
            "no checkpoint from outside was given: a rollback of this appliance's disk to an "
            "older copy would go unnoticed. Bring the last summary sheet to every ceremony."
        )
        result["checkpoint"] = NO_CHECKPOINT
    else:
        result["checkpoint"] = {"size": checkpoint.size, "time": checkpoint.time}
        _notice_older_checkpoint(run, checkpoint)
    return result


def _check_host(run: CeremonyRun) -> dict[str, object]:
    """Swap, core files, a dumpable process, altered software: refuse, or go on recorded.

    Only a rehearsal (throwaway keys, sample data) goes on when a check fails: its
    `unsafe_host=accept` is in the ceremony's start entry, and the failures in this step.
    """
    from custody.hostcheck import check_host, require_safe_host
    from custody.software import software_digest

    # The CLI hardens its process before any ceremony (custody.cli._common.harden); a program
    # running ceremonies in-process must do the same, or this check refuses it.
    report = check_host()
    failed = [f"{f.name}: {f.detail}" for f in report.failures]
    if failed and run.params.get("unsafe_host") == "accept":
        run.operator.notice("this host is not safe for secrets, accepted: " + "; ".join(failed))
    else:
        require_safe_host(report)
    for finding in report.findings:
        if not finding.ok and not finding.fatal:
            run.operator.notice(f"{finding.name}: {finding.detail}")
    digest = software_digest()
    run.memory["software"] = digest
    return {"software": digest, **({"unsafe_host": failed} if failed else {})}


def software_of(run: CeremonyRun) -> str:
    """What custody ran as, for the sheets: its version and its software digest."""
    from custody import __version__
    from custody.software import software_digest

    digest = run.memory.get("software") or software_digest()
    return f"custody {__version__}, software digest {digest}"


def effective_now(run: CeremonyRun) -> datetime:
    """The time for expiry checks: the clock, or the log's latest time if the clock is behind."""
    clock = run.log.now()
    latest = _latest_time(run)
    return max(clock, latest) if latest else clock


def _outside_checkpoint(run: CeremonyRun) -> tuple[str, Checkpoint | None]:
    given = run.params.get("checkpoint")
    if given == NO_CHECKPOINT:
        return given, None
    if given:
        path = Path(given)
    else:
        path = common.work_folder(run) / "outside-checkpoint.txt"
        run.operator.obtain(
            Request(
                "the last checkpoint printed (a summary sheet's checkpoint.txt, or its lines "
                f"typed), or the word {NO_CHECKPOINT} if this appliance never printed one",
                path,
                kind="checkpoint",
            )
        )
    return str(path), _read_checkpoint(path)


def _read_checkpoint(path: Path) -> Checkpoint | None:
    from custody.log.checkpoint import MAX_CHECKPOINT_BYTES, parse_checkpoint

    data = common.read_input(path, MAX_CHECKPOINT_BYTES)
    if data.strip().lower() == NO_CHECKPOINT.encode():
        return None
    try:
        return parse_checkpoint(data, source=str(path))
    except BadInputError:
        # Typed by a person: `-- ` for the em dash, and perhaps no newline at the end.
        typed = data if data.endswith(b"\n") else data + b"\n"
        return parse_checkpoint(typed, source=str(path), typed=True)


def _notice_older_checkpoint(run: CeremonyRun, checkpoint: Checkpoint) -> None:
    issued = run.log.entries_of({ISSUED_EVENT})
    later = [e for e in issued if int(str(e.payload["size"])) > checkpoint.size]
    if later:
        run.operator.notice(
            f"the checkpoint given vouches for {checkpoint.size} entries, but the log says one "
            f"for {later[-1].payload['size']} entries was printed at {later[-1].time}: bring "
            "the latest summary sheet next time; an older one cannot show a recent rollback."
        )


def _clock(run: CeremonyRun) -> dict[str, object]:
    clock = run.log.now()
    latest = _latest_time(run)
    found: dict[str, object] = {"clock": clock.strftime(_TIME_FORMAT)}
    if latest is not None and clock < latest - timedelta(minutes=5):
        found["log_latest"] = latest.strftime(_TIME_FORMAT)
        run.operator.notice(
            f"the appliance clock reads {found['clock']}, before the log's latest entry "
            f"({found['log_latest']}): the clock is wrong. The log keeps its order by entry "
            "number; expiry checks use the log's latest time instead. Set the clock."
        )
    elif latest is not None and clock > latest + MAX_CLOCK_LEAD:
        found["log_latest"] = latest.strftime(_TIME_FORMAT)
        run.operator.notice(
            f"the appliance clock reads {found['clock']}, more than three years after the "
            f"log's latest entry ({found['log_latest']}): check the clock before going on; "
            "keys may look expired."
        )
    found.update(_operator_date(run, clock))
    return found


def _operator_date(run: CeremonyRun, clock: datetime) -> dict[str, object]:
    text = run.params.get("date")
    if not text:
        return {}
    try:
        given = date.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"--date {text!r} is not YYYY-MM-DD.", kind="bad-date") from None
    if abs(given - clock.date()) <= MAX_DATE_DISAGREEMENT:
        return {}
    run.operator.notice(
        f"the date given ({given}) and the appliance clock ({clock.date()}) disagree by "
        f"{abs(given - clock.date()).days} days; both are recorded. The sheets carry the "
        "date given; the log carries the clock's."
    )
    return {"operator_date": given.isoformat()}


def _latest_time(run: CeremonyRun) -> datetime | None:
    """The latest time written in the log before this ceremony began."""
    times = [e.time for e in run.log.entries() if e.ceremony_id != run.ceremony_id]
    if not times:
        return None
    return datetime.strptime(max(times), _TIME_FORMAT).replace(tzinfo=UTC)
