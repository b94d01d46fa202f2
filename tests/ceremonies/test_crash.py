"""kill -9 after every log entry of the intake, restore and drill (bad-inputs G01).

Each run is custody in a process that sends itself SIGKILL at a log commit (see
`custody_crashing`): `after:1` right after its first commit returns (the entry is durable,
nothing after it happened), `before:2` right before its second one begins (the entry is
durable and everything up to the next one happened: a file written and read back, its
completion not logged). Either way a run adds exactly one entry, so every entry of the
ceremony is a kill point, with no polling race to skip one. The next run resumes the
ceremony (`--resume ID`); after every kill the log must verify, and a resumed run that logs
again the very entry its killed predecessor logged fails at once (a step that never moves
on). The last `after:1` kill follows `ceremony.finish`, so there the final run is the one
told the ceremony has already finished; with `before:2` the final run finishes it, exit 0.

At the end every step is recorded once, every file announced, written and completed once
(with the digest its intent announced), no intent is left open, no other entry is there
twice, and the outputs are those of an uninterrupted ceremony.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.appliance import load_appliance
from custody.log import Entry, verify_log
from tests.ceremonies.conftest import (
    SAMPLE,
    Appliance,
    custody,
    custody_crashing,
    kill_agents,
    log_size,
    make_appliance,
    present,
    run_intake_to_the_end,
    sign_pending_receipts,
)

MAX_RUNS = 200
SCRIPTS = SAMPLE.parent / "ceremonies" / "scripts"
KILLED = -signal.SIGKILL


@pytest.fixture(scope="module", autouse=True)
def _compiled_once() -> Iterator[None]:
    """A hundred runs of custody compile it once, into a private folder, not once each
    (bytecode is not written into the shared checkout): the runs take half the time."""
    folder = tempfile.mkdtemp(prefix="custody-pyc.")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        patch.setenv("PYTHONPYCACHEPREFIX", folder)
        yield
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Crashes:
    kills: int
    final: str
    """How the last run, the one not killed, ended: its exit code and stderr."""


def crash_at_every_entry(
    app: Appliance,
    crash_at: str,
    command: Callable[[], list[str]],
    ceremony: Callable[[], str | None],
    *,
    may_stop: str | None = None,
    between: Callable[[], None] = lambda: None,
) -> Crashes:
    """Run `command` again and again, each run killed at `crash_at`, until the ceremony has
    finished; a run that stops by itself with exit 1 and `may_stop` in its stderr (the intake
    asking for receipts) is run again after `between`, as after every kill."""
    kills, last = 0, ""
    for _ in range(MAX_RUNS):
        before = log_size(app)
        result = custody_crashing(crash_at, *command())
        added = read_entries(app)[before:]
        if result.returncode != KILLED:
            assert "Traceback" not in result.stderr, result.stderr
            current = ceremony()
            if current is not None and any(e.event == "ceremony.finish" for e in of(app, current)):
                return Crashes(kills, f"exit {result.returncode}: {result.stderr}")
            stopped = may_stop is not None and may_stop in result.stderr
            assert result.returncode == 1 and stopped, f"after {kills} kills: {result.stderr}"
        else:
            kills += 1
            assert len(added) == 1, f"kill {kills}: {len(added)} new entries, not 1"
            verify_log(app.home)
            entry = f"{added[0].event} {json.dumps(added[0].payload, sort_keys=True)}"
            if entry == last:
                pytest.fail(
                    f"kill {kills}: the resumed run logged {added[0].event} again, the same "
                    "entry the killed run had logged, instead of going on",
                    pytrace=False,
                )
            last = entry
        between()
    raise AssertionError(f"{MAX_RUNS} runs at {crash_at} and the ceremony has not finished")


def read_entries(app: Appliance) -> list[Entry]:
    with load_appliance(app.home).read_log() as log:
        return list(log.entries())


def of(app: Appliance, ceremony: str) -> list[Entry]:
    return [e for e in read_entries(app) if e.ceremony_id == ceremony]


def started(app: Appliance, script: str) -> list[str]:
    return [
        str(e.ceremony_id)
        for e in read_entries(app)
        if e.event == "ceremony.start" and e.payload.get("script") == script
    ]


def latest(app: Appliance, script: str) -> Callable[[], str | None]:
    return lambda: next(reversed(started(app, script)), None)


def resumed(command: list[str], ceremony: Callable[[], str | None]) -> Callable[[], list[str]]:
    def resuming() -> list[str]:
        current = ceremony()
        return [*command, "--resume", current] if current else command

    return resuming


def step_ids(script: str) -> Counter[str]:
    document = tomllib.loads((SCRIPTS / f"{script}.toml").read_text(encoding="utf-8"))
    return Counter(str(step["id"]) for step in document["steps"])


def files_under(root: Path) -> set[str]:
    """Every file below `root`, hidden ones (a write's leftover temporary) included."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()}


def assert_whole(app: Appliance, ceremony: str, script: str) -> list[Entry]:
    """The log verifies; each step recorded once; each effect announced once, completed once
    with the digest it announced; no intent left open; no other entry written twice."""
    verify = custody("log", "verify", "--home", str(app.home))
    assert verify.returncode == 0, verify.stderr
    entries = of(app, ceremony)
    steps = Counter(str(e.payload["step"]) for e in entries if e.event == "ceremony.step")
    assert steps == step_ids(script), steps
    begun = {e.seq: e.payload for e in entries if e.event == "intent.begin"}
    targets = Counter(_target(p) for p in begun.values())
    assert all(n == 1 for n in targets.values()), targets
    completed = Counter(_target(begun[_intent(e)]) for e in entries if e.event == "intent.complete")
    assert completed == targets, "every effect completed exactly once"
    for e in entries:
        if e.event == "intent.complete" and "path" in (detail := _detail(begun[_intent(e)])):
            result = e.payload["result"]
            assert isinstance(result, dict) and result["sha256"] == detail["sha256"], detail
    with load_appliance(app.home).read_log() as log:
        assert log.dangling_intents() == ()
    events = Counter(
        f"{e.event} {json.dumps(e.payload, sort_keys=True)}"
        for e in entries
        if e.event != "ceremony.step_failed"  # the intake stopping for each receipt
    )
    assert set(events.values()) == {1}, [k for k, n in events.items() if n > 1]
    return entries


def _detail(payload: Mapping[str, object]) -> Mapping[str, object]:
    detail = payload["detail"]
    assert isinstance(detail, dict)
    return detail


def _target(payload: Mapping[str, object]) -> str:
    """What an intent's effect is about: the file written, or the folder wiped."""
    detail = _detail(payload)
    return f"{payload['effect']} {detail.get('path', detail.get('folder'))}"


def _intent(entry: Entry) -> int:
    return int(str(entry.payload["intent"]))


def intake_layout(app: Appliance, ceremony: str) -> Counter[str]:
    """The files an intake left on the custodians' sticks and at the printer, hidden ones
    included, named without what differs between appliances: the ceremony id, the
    custodians' fingerprints, digests in names."""
    holders = {
        f"custodian-{f[-16:].lower()}": f"holder-{i}" for i, f in enumerate(app.fingerprints, 1)
    }
    names: Counter[str] = Counter()
    for path in files_under(app.root):
        if path.startswith(("media/", "papers/")):
            name = re.sub("custodian-[0-9a-f]{16}", lambda m: holders[m[0]], path)
            names[re.sub("[0-9a-f]{8,}", "HEX", name.replace(ceremony, "ID"))] += 1
    return names


def assert_packets_logged(app: Appliance, ceremony: str) -> None:
    """Each packet on a stick is the one the log recorded for its shard, sealed once."""
    sealed = [e.payload for e in of(app, ceremony) if e.event == "intake.packet"]
    digests = {int(str(p["shard"])): str(p["packet_sha256"]) for p in sealed}
    assert len(digests) == len(sealed) == len(app.fingerprints), sealed
    for packet in (app.root / "media").glob("*/*.asc"):
        shard = int(packet.stem.rsplit("-", 1)[1])
        assert hashlib.sha256(packet.read_bytes()).hexdigest() == digests[shard], packet
    assert not any(app.intake_folder.iterdir()), "the intake files are wiped"


@dataclass(frozen=True, slots=True)
class TakenIn:
    """An appliance after one uninterrupted intake, and what that intake left."""

    app: Appliance
    intake: str
    layout: Counter[str]


@pytest.fixture(scope="module")
def taken_in() -> Iterator[TakenIn]:
    app = make_appliance()
    try:
        intake = run_intake_to_the_end(app)
        assert_packets_logged(app, intake)
        yield TakenIn(app, intake, intake_layout(app, intake))
    finally:
        kill_agents(app.root)
        shutil.rmtree(app.root, ignore_errors=True)


def restore_args(app: Appliance, ceremony: str, packets: Path, out: Path) -> list[str]:
    return [
        "restore", "--home", str(app.home), "--answers", str(app.answers), "--of", ceremony,
        "--packets", str(packets), "--keyrings", str(app.keyrings),
        "--db", str(SAMPLE / "spike.db"), "--to", str(out),
    ]  # fmt: skip


def assert_restored(
    app: Appliance, restore: str, out: Path, presented: list[int], emitted: list[int]
) -> None:
    """Each presented shard logged once, whatever the reruns; exactly the SPIKE files and the
    runbook in `out`, byte for byte, no leftover of a write."""
    entries = assert_whole(app, restore, "restore")
    logged = Counter(int(str(e.payload["shard"])) for e in entries if e.event == "restore.shard")
    assert logged == Counter(presented), logged
    names = {f"spike.recovery.{i}.txt" for i in emitted}
    assert files_under(out) == names | {"RUNBOOK.txt"}
    for name in names:
        assert (out / name).read_bytes() == (SAMPLE / "recover" / name).read_bytes()


def test_kill_9_after_every_entry_of_the_intake(appliance: Appliance, taken_in: TakenIn) -> None:
    """The intake stops by itself for each receipt; the custodians sign it between runs."""
    ceremony = latest(appliance, "intake")
    crashes = crash_at_every_entry(
        appliance,
        "after:1",
        resumed(appliance.intake_args(), ceremony),
        ceremony,
        may_stop="receipt",
        between=lambda: sign_pending_receipts(appliance),
    )
    intake = str(ceremony())
    entries = assert_whole(appliance, intake, "intake")
    assert crashes.kills == len(entries), "one kill after each of the intake's entries"
    assert "already finished" in crashes.final, crashes.final
    assert intake_layout(appliance, intake) == taken_in.layout, "as if never interrupted"
    assert_packets_logged(appliance, intake)

    packets = present(appliance, intake, [1, 2, 3])
    out = appliance.root / "restored"
    restore = custody(*restore_args(appliance, intake, packets, out))
    assert restore.returncode == 0, restore.stderr
    assert_restored(appliance, started(appliance, "restore")[-1], out, [1, 2, 3], [1, 2])


def test_kill_9_after_and_before_every_entry_of_restore_and_drill(taken_in: TakenIn) -> None:
    """Shards are held in memory only, so every resumed run opens the packets again; each
    `restore.shard` is still logged once (restore.py records a finding once per ceremony)."""
    appliance, intake = taken_in.app, taken_in.intake
    packets = present(appliance, intake, [1, 3])
    for crash_at in ("after:1", "before:2"):
        out = appliance.root / f"restored-{crash_at.replace(':', '')}"
        known = set(started(appliance, "restore"))

        def restore(known: set[str] = known) -> str | None:
            return next((c for c in started(appliance, "restore") if c not in known), None)

        command = restore_args(appliance, intake, packets, out)
        crashes = crash_at_every_entry(appliance, crash_at, resumed(command, restore), restore)
        ceremony = str(restore())
        assert_restored(appliance, ceremony, out, [1, 3], [1, 3])
        if crash_at == "after:1":
            assert crashes.kills == len(of(appliance, ceremony))
            assert "already finished" in crashes.final, crashes.final
        else:
            assert crashes.kills == len(of(appliance, ceremony)) - 1
            assert crashes.final.startswith("exit 0"), crashes.final

    drill = latest(appliance, "drill")
    command = [
        "drill", "--home", str(appliance.home), "--answers", str(appliance.answers),
        "--of", intake, "--packets", str(packets), "--keyrings", str(appliance.keyrings),
        "--db", str(SAMPLE / "spike.db"),
    ]  # fmt: skip
    crashes = crash_at_every_entry(appliance, "after:1", resumed(command, drill), drill)
    entries = assert_whole(appliance, str(drill()), "drill")
    assert crashes.kills == len(entries)
    assert [e.event for e in entries].count("drill.passed") == 1
    shards = Counter(e.payload["shard"] for e in entries if e.event == "restore.shard")
    assert shards == {1: 1, 3: 1}, "collect's shards logged once, though combine reopened them"


def test_kill_9_inside_a_write_leaves_no_temporary_file(taken_in: TakenIn) -> None:
    """Killed after a write renamed the first SPIKE file into place and before it removed the
    temporary name: the rerun settles that write, and the stick holds nothing else."""
    appliance, intake = taken_in.app, taken_in.intake
    packets = present(appliance, intake, [1, 3])
    out = appliance.root / "restored-moved"
    command = restore_args(appliance, intake, packets, out)
    assert custody_crashing("moved:1", *command).returncode == KILLED
    assert {p.name for p in out.iterdir()} == {
        "spike.recovery.1.txt",
        ".spike.recovery.1.txt.custody-tmp",
    }, "killed where it was meant to be"
    ceremony = started(appliance, "restore")[-1]
    rerun = custody(*command, "--resume", ceremony)
    assert rerun.returncode == 0, rerun.stderr
    assert_restored(appliance, ceremony, out, [1, 3], [1, 3])
