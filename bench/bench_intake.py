"""The intake ceremony for 5, 50 and 255 custodians, beside its floor, and the whole rehearsal.

The floor is what no intake can avoid: one bare `gpg --encrypt` per custodian, to their key
in the appliance's keyring (which holds every enrolled custodian, as it must), and one sheet
render per custodian, one after the other. The ceremony also seals headers, writes and reads
back every file, self-tests every sheet (rasterise and decode; sheets are rendered and
self-tested on every processor), and verifies every custodian's receipt; the custodians' own
signing time is shown apart, since it is theirs, not the appliance's.
Run: .venv/bin/python bench/bench_intake.py [--custodians 5 50 255] [--rehearsal]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from custody.appliance import init_home, load_appliance
from custody.ceremonies import all_actions
from custody.ceremonies.engine import Request, run_ceremony
from custody.ceremonies.rehearsal import (
    RehearsalOperator,
    ceremony_script,
    enrol_and_challenge,
    make_custodians,
)
from custody.field import N
from custody.paper.render import render_custodian_sheet
from custody.paper.sheets import CustodianSheetContext
from custody.shamir import split
from custody.shardfiles import write_shard_files


class TimedOperator(RehearsalOperator):
    def __init__(self, keyrings: Path) -> None:
        super().__init__(keyrings, lambda line: None)
        self.signing = 0.0

    def obtain(self, request: Request) -> None:
        started = time.perf_counter()
        super().obtain(request)
        self.signing += time.perf_counter() - started


def floor_seconds(gnupg: Path, fingerprints: list[str], root: Path) -> float:
    started = time.perf_counter()
    for number, fingerprint in enumerate(fingerprints, start=1):
        home = gnupg
        subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--yes", "--trust-model", "always",
             "-e", "-r", fingerprint, "-o", str(root / f"floor-{number}.gpg")],
            input=b"spike:1:" + b"a" * 64, check=True, capture_output=True,
        )  # fmt: skip
        context = CustodianSheetContext(
            ceremony_id="bench", shard_id=number, custodian_name="Bench",
            custodian_fingerprint=fingerprint, threshold=3, shard_count=len(fingerprints),
            root_fingerprint_short="0000-0000-0000-0000",
        )  # fmt: skip
        render_custodian_sheet(context, b"\x00" * 900, created=date(2026, 12, 1))
    return time.perf_counter() - started


def measure(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bi", dir="/tmp"))
    home, keyrings = root / "h", root / "k"
    init_home(home)
    names = tuple(f"Custodian {i}" for i in range(1, count + 1))
    fingerprints = make_custodians(keyrings, names)
    with load_appliance(home).open_log() as log:
        enrol_and_challenge(home, log, keyrings, fingerprints, names)
        _, shards = split(1 + 12345 % N, 3, count)
        write_shard_files(root / "stick", shards)
        operator = TimedOperator(keyrings)
        params = {
            "from": str(root / "stick"), "threshold": "3",
            "assign": " ".join(f"{i}={f}" for i, f in enumerate(fingerprints, start=1)),
            "media_out": str(root / "media"), "papers_out": str(root / "papers"),
            "receipts": str(root / "receipts"), "date": "2026-12-01", "checkpoint": "none",
        }  # fmt: skip
        _warm_up(root)  # the floor runs after the ceremony, warm: so does the ceremony
        started = time.perf_counter()
        run_ceremony(home, log, ceremony_script("intake"), all_actions(), operator, params=params)
        total = time.perf_counter() - started
    floor = floor_seconds(home / "gnupg", fingerprints, root)
    appliance = total - operator.signing
    print(
        f"{count:>4} custodians: intake {total:7.1f} s "
        f"(custodians signing {operator.signing:5.1f} s, appliance {appliance:6.1f} s = "
        f"{appliance / count * 1000:5.0f} ms each); floor {floor:6.1f} s; "
        f"appliance/floor {appliance / floor:4.2f}x"
    )
    _clean_up(root)


def _warm_up(root: Path) -> None:
    """Fonts, pdfium and the QR decoder loaded once, as on an appliance that printed before."""
    from custody.paper.selftest import render_and_verify_custodian_sheet

    context = CustodianSheetContext(
        ceremony_id="warm-up", shard_id=1, custodian_name="Warm Up",
        custodian_fingerprint="0" * 40, threshold=2, shard_count=2,
        root_fingerprint_short="0000-0000-0000-0000",
    )  # fmt: skip
    render_and_verify_custodian_sheet(context, b"\x00" * 900, created=date(2026, 12, 1))


def _clean_up(root: Path) -> None:
    import shutil

    for agent in root.rglob("S.gpg-agent"):
        subprocess.run(["gpgconf", "--homedir", str(agent.parent), "--kill", "all"], check=False)
    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    from custody.hostcheck import harden_process

    harden_process()  # as the CLI does before any ceremony
    parser = argparse.ArgumentParser()
    parser.add_argument("--custodians", type=int, nargs="*", default=[5, 50])
    parser.add_argument("--rehearsal", action="store_true", help="also time `custody rehearse`")
    args = parser.parse_args()
    for count in args.custodians:
        measure(count)
    if args.rehearsal:
        started = time.perf_counter()
        custody = str(Path(sys.executable).parent / "custody")
        subprocess.run([custody, "rehearse"], check=True, capture_output=True)
        print(f"custody rehearse: {time.perf_counter() - started:.1f} s wall")


if __name__ == "__main__":
    main()
