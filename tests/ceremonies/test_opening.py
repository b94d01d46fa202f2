"""The opening of every ceremony: the log against the last paper checkpoint, and the clock.

E09 (a whole disk put back from an older copy) and H04 (a custodian registry that is invalid
or older than the last one seen): custody's registry is the roster folded from the signed
log, so an altered registry is a log that does not verify, and an older one is a log rolled
back behind a checkpoint printed later. G05 and H03: a wrong clock and a date the operator
gives that disagrees with it are shown and recorded, and never reorder the log.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from custody.appliance import load_appliance
from custody.ceremonies import all_actions
from custody.ceremonies.engine import run_ceremony
from custody.ceremonies.rehearsal import RehearsalOperator, ceremony_script
from custody.errors import CustodyError
from tests.ceremonies.conftest import (
    CUSTODY,
    SAMPLE,
    Appliance,
    custody,
    entries,
    present,
    run_intake_to_the_end,
)


def result_of(payload: Mapping[str, object]) -> Mapping[str, object]:
    result = payload["result"]
    assert isinstance(result, Mapping)
    return result


def drill(app: Appliance, ceremony: str, *extra: str) -> list[str]:
    packets = present(app, ceremony, [1, 2])
    return [
        "drill", "--home", str(app.home), "--answers", str(app.answers), "--of", ceremony,
        "--packets", str(packets), "--keyrings", str(app.keyrings), *extra,
    ]  # fmt: skip


def copy_of_home(app: Appliance, name: str) -> Path:
    copy = app.root / name
    shutil.copytree(app.home, copy, symlinks=True)
    return copy


def put_back(app: Appliance, copy: Path) -> None:
    """The disk restored from an older copy: the whole home, log and keys alike."""
    shutil.rmtree(app.home)
    shutil.copytree(copy, app.home, symlinks=True)


def test_e09_a_home_put_back_from_before_the_intake_is_caught_by_its_checkpoint(
    appliance: Appliance,
) -> None:
    before = copy_of_home(appliance, "home-before-intake")
    ceremony = run_intake_to_the_end(appliance)
    checkpoint = appliance.root / "papers" / "checkpoint.txt"
    assert custody(*drill(appliance, ceremony, "--checkpoint", str(checkpoint))).returncode == 0

    put_back(appliance, before)
    rolled_back = custody(*drill(appliance, ceremony, "--checkpoint", str(checkpoint)))
    assert rolled_back.returncode == 1, rolled_back.stderr
    assert "rolled back" in rolled_back.stderr and "Traceback" not in rolled_back.stderr

    # Typed by a person from the summary sheet: `--` for the em dash, no final newline.
    typed = appliance.root / "typed-checkpoint.txt"
    typed.write_text(checkpoint.read_text().replace("\u2014", "--").rstrip("\n"))
    again = custody(*drill(appliance, ceremony, "--checkpoint", str(typed)))
    assert again.returncode == 1 and "rolled back" in again.stderr


def test_e09_a_rolled_back_log_written_on_past_the_checkpoint_is_caught(
    appliance: Appliance,
) -> None:
    before = copy_of_home(appliance, "home-before-intake")
    ceremony = run_intake_to_the_end(appliance)
    checkpoint = appliance.root / "papers" / "checkpoint.txt"
    size = int(checkpoint.read_text().split("\n")[1])
    put_back(appliance, before)
    while len(entries(appliance)) <= size:  # a new history, longer than the one vouched for
        note = custody("log", "note", "--home", str(appliance.home), "a later note")
        assert note.returncode == 0, note.stderr
    forked = custody(*drill(appliance, ceremony, "--checkpoint", str(checkpoint)))
    assert forked.returncode == 1 and "Traceback" not in forked.stderr
    assert f"Entry {size} differs" in forked.stderr and "log-forked" in forked.stderr


def test_h04_a_custodian_retired_after_the_last_checkpoint_cannot_be_rolled_back_in(
    appliance: Appliance,
) -> None:
    ceremony = run_intake_to_the_end(appliance)
    before = copy_of_home(appliance, "home-before-retire")
    home = ["--home", str(appliance.home)]
    retire = custody("custodian", "retire", appliance.fingerprints[2], *home, "--reason", "left")
    assert retire.returncode == 0, retire.stderr
    later = appliance.root / "later-checkpoint.txt"
    assert custody("log", "checkpoint", *home, "--out", str(later)).returncode == 0
    put_back(appliance, before)
    result = custody(*drill(appliance, ceremony, "--checkpoint", str(later)))
    assert result.returncode == 1 and "rolled back" in result.stderr


def test_h04_an_altered_enrolment_stops_the_next_ceremony_at_its_first_step(
    appliance: Appliance,
) -> None:
    with sqlite3.connect(appliance.home / "log.sqlite") as db:
        db.execute("DROP TRIGGER entries_append_only_update")
        seq, line = db.execute(
            "SELECT seq, line FROM entries WHERE event = 'custodian.enrol' ORDER BY seq LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE entries SET line = ? WHERE seq = ?", (line.replace(b"Alice", b"Mallory"), seq)
        )
    result = custody(*appliance.intake_args())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert str(seq) in result.stderr
    assert not (appliance.root / "media").exists()


def test_without_a_checkpoint_the_rollback_check_is_skipped_aloud_and_recorded(
    appliance: Appliance,
) -> None:
    ceremony = run_intake_to_the_end(appliance)
    result = custody(*drill(appliance, ceremony))
    assert result.returncode == 0, result.stderr
    assert "no checkpoint from outside was given" in result.stderr
    opened = [
        p for ev, c, p in entries(appliance) if ev == "ceremony.step" and p["step"] == "verify-log"
    ]
    assert result_of(opened[-1])["checkpoint"] == "none"


@pytest.mark.parametrize(
    ("clock", "says"),
    [(datetime(1970, 1, 2, tzinfo=UTC), "before the log's latest entry"),
     (datetime(2100, 1, 1, tzinfo=UTC), "more than three years after")],
)  # fmt: skip
def test_g05_a_wrong_clock_is_shown_recorded_and_the_log_keeps_its_order(
    appliance: Appliance, clock: datetime, says: str
) -> None:
    ceremony = run_intake_to_the_end(appliance)
    heard: list[str] = []
    operator = RehearsalOperator(appliance.keyrings, heard.append)
    with load_appliance(appliance.home).open_log(now=lambda: clock) as log:
        run = run_ceremony(
            appliance.home, log, ceremony_script("drill"), all_actions(), operator,
            params={"of": ceremony, "packets": str(present(appliance, ceremony, [1, 3])),
                    "keyrings": str(appliance.keyrings), "db": str(SAMPLE / "spike.db"),
                    "checkpoint": str(appliance.root / "papers" / "checkpoint.txt"),
                    "unsafe_host": "accept"},  # this test process is not hardened
        )  # fmt: skip
        seqs = [e.seq for e in log.entries()]
        [opened] = [e for e in run.entries("ceremony.step") if e.payload["step"] == "verify-log"]
    assert any(says in line for line in heard), heard
    assert result_of(opened.payload)["clock"] == clock.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "log_latest" in result_of(opened.payload)
    assert (
        seqs == sorted(seqs)
        and custody("log", "verify", "--home", str(appliance.home)).returncode == 0
    )


def test_h03_a_date_given_far_from_the_clock_is_shown_and_both_are_recorded(
    appliance: Appliance,
) -> None:
    result = custody(*[a if a != "2026-12-01" else "2025-06-01" for a in appliance.intake_args()])
    assert "disagree by" in result.stderr, result.stderr
    [opened] = [
        p for ev, _, p in entries(appliance) if ev == "ceremony.step" and p["step"] == "open"
    ]
    assert result_of(opened)["operator_date"] == "2025-06-01"
    assert "clock" in result_of(opened)


def test_a_checkpoint_that_is_not_one_is_refused_by_name(appliance: Appliance) -> None:
    ceremony = run_intake_to_the_end(appliance)
    bogus = appliance.root / "bogus.txt"
    bogus.write_text("custody log\n12\n")
    result = custody(*drill(appliance, ceremony, "--checkpoint", str(bogus)))
    assert result.returncode == 3 and "bogus.txt is not a custody checkpoint" in result.stderr


def test_the_opening_is_refused_for_an_unreadable_checkpoint_path(appliance: Appliance) -> None:
    with pytest.raises(CustodyError):
        from custody.ceremonies.opening import _read_checkpoint

        _read_checkpoint(Path(appliance.root / "missing.txt"))


def test_g10_h05_software_that_differs_from_the_manifest_stops_the_intake_first(
    appliance: Appliance,
) -> None:
    import json
    import os
    import subprocess

    manifest = appliance.root / "software-manifest.json"
    written = custody("selfcheck", "--write-manifest", str(manifest))
    assert written.returncode == 0, written.stderr
    document = json.loads(manifest.read_text())
    victim = next(d for d in document["distributions"] if d["name"] == "segno")
    victim["version"] = "0.0.1"
    manifest.write_text(json.dumps(document))
    result = subprocess.run(
        [CUSTODY, *appliance.intake_args()], capture_output=True, text=True, check=False,
        env={**os.environ, "CUSTODY_SOFTWARE_MANIFEST": str(manifest)},
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "not safe for secrets" in result.stderr and "segno" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (appliance.root / "media").exists() and not (appliance.root / "papers").exists()
    assert sorted(p.name for p in appliance.intake_folder.iterdir()) != []
