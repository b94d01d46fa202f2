"""When drills are due: six months after intake, then a year after each passed drill."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from custody.appliance import init_home, load_appliance
from custody.ceremonies.drills import drill_status


def test_drill_due_dates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    times = iter(datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3))
    with load_appliance(home).open_log(now=lambda: next(times)) as log:
        log.append(
            "intake.set", {"fingerprint_short": "AAAA-BBBB-CCCC-DDDD"}, ceremony_id="intake-a"
        )
        log.append(
            "intake.set", {"fingerprint_short": "EEEE-FFFF-GGGG-HHHH"}, ceremony_id="intake-b"
        )
        log.append("drill.passed", {"of": "intake-a"}, ceremony_id="drill-1")
        first, second = drill_status(log.entries())
    assert first.last_drill == datetime(2026, 3, 1, tzinfo=UTC)
    assert first.due == datetime(2027, 3, 1, tzinfo=UTC)
    assert second.last_drill is None
    assert second.due.date().isoformat() == "2026-08-02"
    assert second.is_due(datetime(2026, 9, 1, tzinfo=UTC)) and not first.is_due(
        datetime(2026, 9, 1, tzinfo=UTC)
    )
