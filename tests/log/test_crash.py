"""`kill -9` in the middle of appending, again and again (G01).

A child process appends as fast as it can and prints each entry it has been given back (the
acknowledgement); the parent kills it with SIGKILL at a random moment. Afterwards the log must
verify, hold every acknowledged entry unchanged, and show an intent as dangling exactly when
its completion was never committed.

G02 (power cut with dm-flakey or dm-log-writes) needs a block device under device-mapper
control, which this test machine does not offer; this test and SQLite's documented guarantee
for `synchronous=FULL` in WAL mode (a committed transaction survives power loss) stand in.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from custody.appliance import Appliance
from custody.log import verify_log

KILLS = 20
WRITER = """
import sys
from pathlib import Path
from custody.appliance import load_appliance

with load_appliance(Path(sys.argv[1])).open_log() as log:
    number = 0
    while True:
        if number % 3 == 1:
            intent = log.intent("media.write", {"number": number})
            print("intent", intent.seq, intent.hash.hex(), flush=True)
            entry = log.complete(intent, {"number": number})
        else:
            entry = log.append("log.note", {"text": f"entry {number}"})
        print("acked", entry.seq, entry.hash.hex(), flush=True)
        number += 1
"""


def _run_and_kill(home: Path, rng: random.Random) -> list[list[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines = [child.stdout.readline() for _ in range(rng.randint(1, 6))]
    time.sleep(rng.uniform(0, 0.004))
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # Only whole lines are acknowledgements: the kill can cut the last one short.
    whole = [line for line in [*lines, *rest.splitlines(keepends=True)] if line.endswith("\n")]
    return [fields for fields in (line.split() for line in whole) if len(fields) == 3]


def test_the_log_survives_kill_9_mid_append(appliance: Appliance) -> None:
    rng = random.Random(20261201)
    acknowledged: dict[int, str] = {}
    intents: dict[int, str] = {}
    for _ in range(KILLS):
        for word, seq, digest in (line for line in _run_and_kill(appliance.home, rng) if line):
            (intents if word == "intent" else acknowledged)[int(seq)] = digest
        report = verify_log(appliance.home)
        assert report.size >= max(acknowledged)
    with appliance.read_log() as reader:
        stored = {entry.seq: entry for entry in reader.entries()}
    for number, digest in acknowledged.items():
        assert stored[number].hash.hex() == digest, f"acknowledged entry {number} was lost"
    completed = {
        entry.payload["intent"] for entry in stored.values() if entry.event == "intent.complete"
    }
    begun = {number for number, entry in stored.items() if entry.event == "intent.begin"}
    dangling = {intent.seq for intent in verify_log(appliance.home).dangling}
    assert dangling == begun - completed
    assert set(intents) <= begun
