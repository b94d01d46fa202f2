"""When each set in custody was last drilled, and when the next drill is due.

"A backup you have never restored is a hypothesis": every set taken in should be drilled
within `first` of its intake and then every `every` after its last passed drill (by default
six months, then yearly). The dates are the appliance clock's, as written in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from custody.ceremonies.setrecord import RESHARED_EVENT, SET_EVENT
from custody.log import Entry

DRILL_EVENT = "drill.passed"
DEFAULT_FIRST = timedelta(days=182)
DEFAULT_EVERY = timedelta(days=365)
EVENTS = (SET_EVENT, DRILL_EVENT, RESHARED_EVENT)


@dataclass(frozen=True, slots=True)
class DrillStatus:
    intake_id: str
    fingerprint_short: str
    taken_in: datetime
    last_drill: datetime | None
    due: datetime

    def is_due(self, now: datetime) -> bool:
        return now >= self.due


def drill_status(
    entries: Iterable[Entry],
    *,
    first: timedelta = DEFAULT_FIRST,
    every: timedelta = DEFAULT_EVERY,
) -> tuple[DrillStatus, ...]:
    """One status per set in custody, from its `intake.set` and `drill.passed` entries.

    A set re-shared to a new one is no longer in custody: its packets are void. The new set
    is due for its first drill like any set taken in.
    """
    sets: dict[str, tuple[str, datetime]] = {}
    drills: dict[str, datetime] = {}
    for entry in entries:
        if entry.event == SET_EVENT and entry.ceremony_id:
            sets[entry.ceremony_id] = (str(entry.payload["fingerprint_short"]), _time(entry))
        elif entry.event == DRILL_EVENT:
            drills[str(entry.payload["of"])] = _time(entry)
        elif entry.event == RESHARED_EVENT:
            sets.pop(str(entry.payload["of"]), None)
    return tuple(
        DrillStatus(
            intake_id=ceremony,
            fingerprint_short=short,
            taken_in=taken,
            last_drill=drills.get(ceremony),
            due=drills[ceremony] + every if ceremony in drills else taken + first,
        )
        for ceremony, (short, taken) in sets.items()
    )


def _time(entry: Entry) -> datetime:
    return datetime.strptime(entry.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
