"""Intake, check-in, drill and restore end to end through the installed CLI; crashes: test_crash."""

from __future__ import annotations

import shutil

from custody.appliance import load_appliance
from tests.ceremonies.conftest import (
    SAMPLE,
    Appliance,
    custody,
    entries,
    present,
    run_intake_to_the_end,
)


def test_intake_then_checkin_drill_and_restore(appliance: Appliance) -> None:
    first = custody(*appliance.intake_args())
    assert first.returncode == 1, first.stderr
    assert "custody: error:" in first.stderr and "receipt" in first.stderr
    ceremony = run_intake_to_the_end(appliance)
    assert sorted(p.name for p in (appliance.root / "stick").iterdir()) == [], "intake files wiped"
    assert len(list((appliance.root / "media").glob("*/*.asc"))) == 3
    assert {p.name for p in (appliance.root / "papers").iterdir()} >= {
        "summary.pdf", "checkpoint.txt", "manifest.json", "sheet-shard-1.pdf",
    }  # fmt: skip

    packet = next((appliance.root / "media").glob(f"*/{ceremony}-shard-2.asc"))
    home = ["--home", str(appliance.home), "--answers", str(appliance.answers)]
    keyrings = ["--keyrings", str(appliance.keyrings)]
    checkin = custody("checkin", *home, "--of", ceremony, "--packet", str(packet), *keyrings)
    assert checkin.returncode == 0, checkin.stderr
    packets = present(appliance, ceremony, [1, 3])
    db = ["--db", str(SAMPLE / "spike.db")]
    drill = custody("drill", *home, "--of", ceremony, "--packets", str(packets), *keyrings, *db)
    assert drill.returncode == 0, drill.stderr
    out = appliance.root / "restored"
    restore = custody(
        "restore",
        *home,
        "--of",
        ceremony,
        "--packets",
        str(packets),
        *keyrings,
        *db,
        "--to",
        str(out),
    )
    assert restore.returncode == 0, restore.stderr
    for name in ("spike.recovery.1.txt", "spike.recovery.3.txt"):
        assert (out / name).read_bytes() == (SAMPLE / "recover" / name).read_bytes()
    assert (out / "RUNBOOK.txt").read_text().index("spike.db") < (
        out / "RUNBOOK.txt"
    ).read_text().index("spike operator restore")
    verify = custody("log", "verify", "--home", str(appliance.home))
    assert verify.returncode == 0, verify.stderr
    events = [ev for ev, _, _ in entries(appliance)]
    assert "drill.passed" in events and "custody.checkin" in events


def test_a_tampered_packet_is_named_and_no_key_is_emitted(appliance: Appliance) -> None:
    ceremony = run_intake_to_the_end(appliance)
    packets = present(appliance, ceremony, [1, 2])
    victim = next(packets.glob("*-shard-2.asc"))
    lines = victim.read_text().splitlines()
    body = next(
        i
        for i, line in enumerate(lines)
        if line and not line.startswith(("-----", "Comment")) and len(line) > 40
    )
    lines[body] = lines[body][:10] + ("A" if lines[body][10] != "A" else "B") + lines[body][11:]
    victim.write_text("\n".join(lines) + "\n")
    out = appliance.root / "restored"
    result = custody(
        "restore", "--home", str(appliance.home), "--answers", str(appliance.answers),
        "--of", ceremony, "--packets", str(packets), "--keyrings", str(appliance.keyrings),
        "--to", str(out),
    )  # fmt: skip
    assert result.returncode == 1
    assert victim.name in result.stderr and "quorum is not met" in result.stderr
    assert not out.exists() or not any(out.iterdir())
    refused = [p for ev, _, p in entries(appliance) if ev == "restore.refused"]
    assert [p["file"] for p in refused] == [victim.name]


def test_an_inconsistent_set_and_a_second_intake_of_one_key_are_refused(
    appliance: Appliance,
) -> None:
    ceremony = run_intake_to_the_end(appliance)
    shutil.copytree(SAMPLE / "recover", appliance.intake_folder, dirs_exist_ok=True)
    again = custody(*appliance.intake_args())
    assert again.returncode == 1 and "already in custody" in again.stderr, again.stderr
    assert ceremony in again.stderr


def test_reissue_hands_a_shard_to_a_new_custodian_and_voids_the_old_packet(
    appliance: Appliance,
) -> None:
    from custody.ceremonies.rehearsal import enrol_and_challenge, make_custodians

    ceremony = run_intake_to_the_end(appliance)
    (new,) = make_custodians(appliance.keyrings, ("Dave Example",))
    with load_appliance(appliance.home).open_log() as log:
        enrol_and_challenge(appliance.home, log, appliance.keyrings, [new], ("Dave Example",))
    quorum = present(appliance, ceremony, [1, 3])
    common = ["--home", str(appliance.home), "--answers", str(appliance.answers)]
    keyrings = ["--keyrings", str(appliance.keyrings)]
    reissue = custody(
        "reissue", *common, "--of", ceremony, "--packets", str(quorum), *keyrings,
        "--shard", "2", "--custodian", new, "--media-out", str(appliance.root / "media"),
        "--papers-out", str(appliance.root / "papers"), "--date", "2026-12-01",
    )  # fmt: skip
    assert reissue.returncode == 0, reissue.stderr
    new_packet = next((appliance.root / "media").glob(f"custodian-{new[-16:].lower()}/*.asc"))
    old_packet = next((appliance.root / "media").glob(f"*/{ceremony}-shard-2.asc"))
    presented = appliance.root / "with-new"
    presented.mkdir()
    shutil.copy(new_packet, presented / new_packet.name)
    shutil.copy(next((appliance.root / "media").glob(f"*/{ceremony}-shard-1.asc")), presented)
    out = appliance.root / "restored"
    restore = custody(
        "restore", *common, "--of", ceremony, "--packets", str(presented), *keyrings,
        "--to", str(out),
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    assert (out / "spike.recovery.2.txt").read_bytes() == (
        SAMPLE / "recover" / "spike.recovery.2.txt"
    ).read_bytes()
    checkin = custody("checkin", *common, "--of", ceremony, "--packet", str(old_packet), *keyrings)
    assert checkin.returncode == 1 and "custodian" in checkin.stderr


def test_b11_a_tampered_log_blocks_a_drill_before_any_packet_is_opened(
    appliance: Appliance,
) -> None:
    import sqlite3

    ceremony = run_intake_to_the_end(appliance)
    with sqlite3.connect(appliance.home / "log.sqlite") as db:
        db.execute("DROP TRIGGER entries_append_only_update")
        (seq, line) = db.execute(
            "SELECT seq, line FROM entries WHERE event = 'intake.set'"
        ).fetchone()
        db.execute(
            "UPDATE entries SET line = ? WHERE seq = ?",
            (line.replace(b'"threshold":2', b'"threshold":3'), seq),
        )
    packets = present(appliance, ceremony, [1, 2])
    drill = custody(
        "drill", "--home", str(appliance.home), "--answers", str(appliance.answers),
        "--of", ceremony, "--packets", str(packets), "--keyrings", str(appliance.keyrings),
    )  # fmt: skip
    assert drill.returncode == 1
    assert f"entry {seq}" in drill.stderr or str(seq) in drill.stderr
    assert "Traceback" not in drill.stderr
