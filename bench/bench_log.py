"""The custody log's speed and memory: append rate, verify rate against raw Ed25519, peak memory.

Prints:
- the append rate through `CustodyLog.append` (each entry its own fsynced transaction);
- pynacl's raw Ed25519 verify rate (`VerifyKey.verify` on messages the size of an entry's
  signed message), measured in the verifying process itself, in short bursts between batches
  of entries, so that both rates meet the same load on the machine;
- for each log size: the time to verify the whole log (SQLite's integrity check, then every
  hash, signature and link), its rate, the ratio to the raw rate (goal >= 0.8x), the peak
  resident memory of the verifying process (goal <= 200 MB at 1 M entries), and the time of
  `custody status` on that log.

Rates are per second of CPU time (time.process_time), so that other work on the machine does
not skew the comparison with the raw rate; wall-clock times are printed beside them.
Large logs are built in one transaction per size (not one fsync per entry) so that a 1 M-entry
log takes minutes, not hours; the output says so.
Run: .venv/bin/python bench/bench_log.py [--entries N ...] [--appends N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from custody.appliance import Appliance, init_home
from custody.log.entry import parse_entry_line, seal_entry

CHILD = """
import json, resource, sys, time
from itertools import cycle, islice
from pathlib import Path
import nacl.signing
from custody.appliance import load_appliance
from custody.log.verify import verify_records

KEY = nacl.signing.SigningKey(bytes(range(32)))
MESSAGES = [b"custody-log-entry-sig/1\\x00" + bytes([n]) * 32 for n in range(64)]
PAIRS = [(m, KEY.sign(m).signature) for m in MESSAGES]
raw = {"count": 0, "cpu": 0.0}

def raw_burst(count):
    verify = KEY.verify_key.verify
    started = time.process_time()
    for message, signature in islice(cycle(PAIRS), count):
        verify(message, signature)
    raw["cpu"] += time.process_time() - started
    raw["count"] += count

def interleaved(records, every, burst):
    # Raw bursts between batches of records: both rates meet the same machine load.
    for index, record in enumerate(records, 1):
        yield record
        if index % every == 0:
            raw_burst(burst)

every, burst = int(sys.argv[2]), int(sys.argv[3])
appliance = load_appliance(Path(sys.argv[1]))
started = time.perf_counter(), time.process_time()
store = appliance.open_store(writable=False, check=True)
opened = time.perf_counter(), time.process_time()
report = verify_records(interleaved(store.all_records(), every, burst), appliance.key)
finished = time.perf_counter(), time.process_time()
interleaved_cpu = raw["cpu"]
if raw["count"] == 0:  # a log shorter than one batch: measure the raw rate once, after
    raw_burst(burst)
print(json.dumps({
    "size": report.size,
    "integrity_check_wall": opened[0] - started[0],
    "integrity_check_cpu": opened[1] - started[1],
    "chain_wall": finished[0] - opened[0],
    "chain_cpu": finished[1] - opened[1] - interleaved_cpu,
    "raw_rate": raw["count"] / raw["cpu"],
    "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def bench_appends(root: Path, count: int) -> None:
    appliance = init_home(root / "appends")
    with appliance.open_log() as log:
        started = time.perf_counter()
        for number in range(count):
            log.append("log.note", {"text": f"append {number}"})
        elapsed = time.perf_counter() - started
    print(
        f"append (fsync each)   {count / elapsed:9.0f} entries/s  "
        f"({elapsed / count * 1e3:.2f} ms each, {count} entries)"
    )


def build_log(root: Path, size: int) -> Appliance:
    """A log of `size` entries: init, then the rest in one transaction (no fsync per entry)."""
    clock = datetime(2026, 12, 1, tzinfo=UTC)
    appliance = init_home(root / f"log-{size}", now=lambda: clock)
    signer = appliance.load_signer()
    store = appliance.open_store(writable=True)
    with store.transaction():
        record = store.last_record()
        assert record is not None
        prev_hash = parse_entry_line(record.line, position=1).hash
        for seq in range(2, size + 1):
            entry = seal_entry(
                signer,
                seq=seq,
                time=(clock + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                ceremony_id=f"intake-{seq // 1000}" if seq % 10 else None,
                event="shards.intake" if seq % 10 else "log.note",
                payload={"digest": f"{seq:064x}", "shard": seq % 5 + 1, "source": "stick-a"},
                prev=prev_hash,
            )
            store.insert(entry)
            prev_hash = entry.hash
    store.close()
    return appliance


def bench_verify(appliance: Appliance, size: int, every: int, burst: int) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(appliance.home), str(every), str(burst)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout)
    assert result["size"] == size
    wall = result["integrity_check_wall"] + result["chain_wall"]
    cpu = result["integrity_check_cpu"] + result["chain_cpu"]
    raw = result["raw_rate"]
    print(
        f"verify {size:>9,} entries  wall {wall:6.1f} s, cpu {cpu:6.1f} s "
        f"(integrity_check {result['integrity_check_cpu']:4.1f} s)  "
        f"{size / cpu:6.0f}/s = {size / cpu / raw:.2f}x raw; chain alone "
        f"{size / result['chain_cpu']:6.0f}/s = {size / result['chain_cpu'] / raw:.2f}x raw  "
        f"(raw pynacl {raw:6.0f}/s)  peak RSS {result['max_rss_kb'] / 1024:5.1f} MB"
    )
    custody = str(Path(sys.executable).parent / "custody")
    started = time.perf_counter()
    subprocess.run(
        [custody, "status", "--home", str(appliance.home)], check=True, capture_output=True
    )
    print(f"status {size:>9,} entries  {(time.perf_counter() - started) * 1e3:7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--appends", type=int, default=300)
    parser.add_argument("--every", type=int, default=2_000, help="records between raw bursts")
    parser.add_argument("--burst", type=int, default=200, help="raw verifies per burst")
    parser.add_argument("--keep", type=Path, help="build the logs here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="custody-bench-"))
    try:
        bench_appends(root, args.appends)
        print("large logs are built in one transaction each (no fsync per entry)")
        for size in args.entries:
            started = time.perf_counter()
            appliance = build_log(root, size)
            elapsed = time.perf_counter() - started
            megabytes = appliance.log_path.stat().st_size / 2**20
            print(f"build  {size:>9,} entries  {elapsed:7.1f} s  ({megabytes:.0f} MB on disk)")
            bench_verify(appliance, size, args.every, args.burst)
        print("goals: verify >= 0.80x raw pynacl; peak RSS <= 200 MB at 1,000,000 entries")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
