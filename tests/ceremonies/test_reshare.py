"""Re-share: the same key split anew to a new roster and threshold, the old set void."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from custody.appliance import load_appliance
from custody.ceremonies.reshare import _derived
from custody.ceremonies.restore import keyring_name
from custody.formats.spike import parse_shard_text
from custody.shamir import combine
from tests.ceremonies.conftest import (
    CUSTODY,
    SAMPLE,
    Appliance,
    custody,
    entries,
    killed,
    present,
    run_intake_to_the_end,
)

NEW_NAMES = ("Dave Example", "Erin Example")


def reshare_id(app: Appliance) -> str | None:
    starts = [c for ev, c, p in entries(app) if ev == "ceremony.start" and p["script"] == "reshare"]
    return starts[-1] if starts else None


def sign_reshare_receipts(app: Appliance, holders: dict[int, str], folder: Path) -> None:
    from custody.custodians import open_gpg

    ceremony = reshare_id(app)
    for text in sorted((app.home / "ceremonies" / str(ceremony)).glob("receipt-shard-*.txt")):
        shard = int(text.stem.rsplit("-", 1)[1])
        signature = folder / f"receipt-shard-{shard}.sig"
        if not signature.exists():
            folder.mkdir(exist_ok=True)
            with open_gpg(app.keyrings / keyring_name(holders[shard])) as theirs:
                signature.write_bytes(theirs.sign_detached(text.read_bytes(), holders[shard]))


def test_reshare_to_a_new_roster_and_threshold_voids_every_old_packet(
    appliance: Appliance,
) -> None:
    from custody.ceremonies.rehearsal import enrol_and_challenge, make_custodians

    old = run_intake_to_the_end(appliance)
    newcomers = make_custodians(appliance.keyrings, NEW_NAMES)
    with load_appliance(appliance.home).open_log() as log:
        enrol_and_challenge(appliance.home, log, appliance.keyrings, newcomers, NEW_NAMES)
    alice, _, carol = appliance.fingerprints
    holders = dict(enumerate([alice, carol, *newcomers], start=1))
    root = appliance.root
    home = ["--home", str(appliance.home), "--answers", str(appliance.answers)]
    keyrings = ["--keyrings", str(appliance.keyrings)]
    receipts = root / "reshare-receipts"
    command = [
        CUSTODY, "reshare", *home, "--of", old, "--packets", str(present(appliance, old, [1, 2])),
        *keyrings, "--db", str(SAMPLE / "spike.db"), "--threshold", "3",
        *[a for i, f in holders.items() for a in ("--assign", f"{i}={f}")],
        "--media-out", str(root / "media2"), "--papers-out", str(root / "papers2"),
        "--receipts", str(receipts), "--date", "2026-12-01",
    ]  # fmt: skip

    # A crash in the middle of sealing: the rerun seals shards of the very same polynomial.
    log_path = appliance.home / "log.sqlite"
    assert killed(command, len(entries(appliance)) + 14, log_path)
    for _ in range(8):  # one receipt is asked for at a time
        ceremony = reshare_id(appliance)
        result = custody(*command[1:], *(["--resume", ceremony] if ceremony else []))
        if result.returncode == 0:
            break
        assert "receipt" in result.stderr and "Traceback" not in result.stderr, result.stderr
        sign_reshare_receipts(appliance, holders, receipts)
    assert result.returncode == 0, result.stderr
    new = str(reshare_id(appliance))
    assert custody("log", "verify", "--home", str(appliance.home)).returncode == 0

    recorded = entries(appliance)
    [new_set] = [p for ev, c, p in recorded if ev == "intake.set" and c == new]
    [old_set] = [p for ev, c, p in recorded if ev == "intake.set" and c == old]
    assert (new_set["threshold"], new_set["ids"]) == (3, [1, 2, 3, 4])
    assert new_set["reshared_from"] == old
    assert new_set["fingerprint"] == old_set["fingerprint"]
    assert new_set["commitments"] != old_set["commitments"]
    voided = [int(str(p["shard"])) for ev, c, p in recorded if ev == "custody.void" and c == old]
    assert sorted(voided) == [1, 2, 3], "every old packet void, once"
    steps = Counter(p["step"] for ev, c, p in recorded if ev == "ceremony.step" and c == new)
    assert set(steps.values()) == {1}
    assert len(list((root / "media2").glob(f"*/{new}-shard-*.asc"))) == 4

    # The old set is refused; the new one restores the same key with three of its packets.
    old_restore = custody(
        "drill", *home, "--of", old, "--packets", str(present(appliance, old, [1, 2])), *keyrings
    )
    assert old_restore.returncode == 1 and "re-shared" in old_restore.stderr
    presented = root / "new-presented"
    presented.mkdir()
    for packet in sorted((root / "media2").glob(f"*/{new}-shard-*.asc"))[:3]:
        shutil.copy(packet, presented)
    out = root / "restored"
    restore = custody(
        "restore", *home, "--of", new, "--packets", str(presented), *keyrings,
        "--db", str(SAMPLE / "spike.db"), "--to", str(out),
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    emitted = [
        parse_shard_text(p.read_bytes(), source=p.name).shard
        for p in sorted(out.glob("spike.*.txt"))
    ]
    originals = [
        parse_shard_text(p.read_bytes(), source=p.name).shard
        for p in sorted((SAMPLE / "recover").iterdir())
    ]
    assert len(emitted) == 3 and combine(emitted) == combine(originals[:2])
    assert not {s.value for s in emitted} & {s.value for s in originals}
    assert "SPIKE_NEXUS_SHAMIR_THRESHOLD=3" in (out / "RUNBOOK.txt").read_text()

    status = custody("status", "--home", str(appliance.home), "--json")
    assert new in status.stdout and old not in status.stdout.replace(f'"{new}"', "")


def test_two_quorums_of_a_two_of_three_set_refuse_a_threshold_above_the_roster(
    appliance: Appliance,
) -> None:
    old = run_intake_to_the_end(appliance)
    alice, bob, _ = appliance.fingerprints
    result = custody(
        "reshare", "--home", str(appliance.home), "--answers", str(appliance.answers),
        "--of", old, "--packets", str(present(appliance, old, [1, 3])),
        "--keyrings", str(appliance.keyrings), "--threshold", "3",
        "--assign", f"1={alice}", "--assign", f"2={bob}",
        "--media-out", str(appliance.root / "m"), "--papers-out", str(appliance.root / "p"),
        "--receipts", str(appliance.root / "r"),
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "threshold" in result.stderr
    assert not [c for ev, c, _ in entries(appliance) if ev == "custody.void"]


def test_the_new_polynomial_is_the_same_on_every_run_and_another_per_ceremony() -> None:
    key = 0x1234
    first, again, other = _derived(key, "reshare-a"), _derived(key, "reshare-a"), _derived(key, "b")
    drawn = [first(2**255) for _ in range(3)]
    assert drawn == [again(2**255) for _ in range(3)]
    assert drawn != [other(2**255) for _ in range(3)]
