"""A fresh appliance with three enrolled, challenged custodians and the sample set to take in."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.appliance import init_home, load_appliance
from custody.ceremonies.rehearsal import enrol_and_challenge, make_custodians

CUSTODY = str(Path(sys.executable).parent / "custody")
SAMPLE = Path(__file__).resolve().parents[2] / "custody" / "sample"
ANSWERS = """[acknowledge]
operator = ["Olivia Operator"]
witness = ["Wes Witness", "Wanda Witness"]
custodian = ["Alice", "Bob", "Carol"]

[provide]
checkpoint = "none"
"""


@dataclass
class Appliance:
    root: Path
    home: Path
    keyrings: Path
    fingerprints: list[str]
    answers: Path

    @property
    def intake_folder(self) -> Path:
        return self.root / "stick"

    def intake_args(self) -> list[str]:
        assign = [a for i, f in enumerate(self.fingerprints, 1) for a in ("--assign", f"{i}={f}")]
        return [
            "intake", "--home", str(self.home), "--from", str(self.intake_folder),
            "--threshold", "2", "--db", str(SAMPLE / "spike.db"), *assign,
            "--media-out", str(self.root / "media"), "--papers-out", str(self.root / "papers"),
            "--receipts", str(self.root / "receipts"), "--answers", str(self.answers),
            "--date", "2026-12-01",
        ]  # fmt: skip


def kill_agents(root: Path) -> None:
    for home in root.rglob("S.gpg-agent"):
        subprocess.run(["gpgconf", "--homedir", str(home.parent), "--kill", "all"], check=False)


@pytest.fixture
def appliance() -> Iterator[Appliance]:
    root = Path(tempfile.mkdtemp(prefix="ce", dir="/tmp"))
    home = root / "h"
    init_home(home)
    keyrings = root / "k"
    fingerprints = make_custodians(keyrings)
    with load_appliance(home).open_log() as log:
        enrol_and_challenge(home, log, keyrings, fingerprints)
    shutil.copytree(SAMPLE / "recover", root / "stick")
    answers = root / "answers.toml"
    answers.write_text(ANSWERS)
    try:
        yield Appliance(root, home, keyrings, fingerprints, answers)
    finally:
        kill_agents(root)
        shutil.rmtree(root, ignore_errors=True)


def custody(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUSTODY, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def sign_pending_receipts(app: Appliance) -> None:
    """The custodians sign the receipt texts the intake wrote, with their own keyrings."""
    from custody.ceremonies.restore import keyring_name
    from custody.custodians import open_gpg

    for text in sorted((app.home / "ceremonies").glob("*/receipt-shard-*.txt")):
        shard = int(text.stem.rsplit("-", 1)[1])
        fingerprint = app.fingerprints[shard - 1]
        signature = app.root / "receipts" / f"receipt-shard-{shard}.sig"
        if signature.exists():
            continue
        signature.parent.mkdir(exist_ok=True)
        with open_gpg(app.keyrings / keyring_name(fingerprint)) as theirs:
            signature.write_bytes(theirs.sign_detached(text.read_bytes(), fingerprint))


def killed(command: list[str], after_entries: int, log_path: Path, timeout: float = 60) -> bool:
    """Run `command`, kill -9 it once the log has more than `after_entries` entries.

    True if it was killed, False if it ended first.
    """
    import sqlite3
    import time

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            with sqlite3.connect(f"file:{log_path}?mode=ro", uri=True) as db:
                count = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            if count > after_entries:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.002)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return False


def entries(app: Appliance) -> list[tuple[str, str | None, dict[str, object]]]:
    with load_appliance(app.home).read_log() as log:
        return [(e.event, e.ceremony_id, dict(e.payload)) for e in log.entries()]


def intake_id(app: Appliance) -> str | None:
    starts = [c for ev, c, p in entries(app) if ev == "ceremony.start" and p["script"] == "intake"]
    return starts[-1] if starts else None


def run_intake_to_the_end(app: Appliance) -> str:
    """Run (or resume) the intake until it finishes, signing receipts when it asks for them."""
    for _ in range(4):
        ceremony = intake_id(app)
        resume = ["--resume", ceremony] if ceremony else []
        result = custody(*app.intake_args(), *resume)
        if result.returncode == 0:
            assert ceremony is None or ceremony in result.stdout
            return str(intake_id(app))
        assert "Traceback" not in result.stderr, result.stderr
        sign_pending_receipts(app)
    raise AssertionError(f"the intake did not finish: {result.stderr}")


def present(app: Appliance, ceremony: str, shards: list[int]) -> Path:
    folder = app.root / "presented"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for packet in (app.root / "media").glob(f"*/{ceremony}-shard-*.asc"):
        if int(packet.stem.rsplit("-", 1)[1]) in shards:
            shutil.copy(packet, folder / packet.name)
    return folder


CRASH_AT = "CUSTODY_TEST_CRASH_AT"
"""`after:N`: custody kills itself with SIGKILL right after its N-th log commit returns;
`before:N`: right before it begins its N-th (after N-1 commits and whatever followed them);
`moved:N`: right after its N-th verified write put a file in place, before it removed the
temporary name or read the file back."""

_CRASHING_CUSTODY = """
import os, signal, sys
from contextlib import contextmanager
from custody.log.store import LogStore
from custody.media import verified_write

where, _, number = os.environ["CUSTODY_TEST_CRASH_AT"].partition(":")
at, counts = int(number), {"before": 0, "after": 0, "moved": 0}
transaction, move_into_place = LogStore.transaction, verified_write._move_into_place

def crash_at(event):
    counts[event] += 1
    if where == event and counts[event] == at:
        os.kill(os.getpid(), signal.SIGKILL)

@contextmanager
def crashing_transaction(self):
    crash_at("before")
    with transaction(self):
        yield
    crash_at("after")

def crashing_move(*args):
    move_into_place(*args)
    crash_at("moved")

LogStore.transaction = crashing_transaction
verified_write._move_into_place = crashing_move
from custody.cli import main
sys.argv[0] = "custody"
sys.exit(main())
"""


def custody_crashing(
    crash_at: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run custody in a process that kill -9s itself where `crash_at` says (see CRASH_AT);
    its returncode is then -SIGKILL. Every commit of the log goes through
    `LogStore.transaction`, so a kill there lands exactly between two durable entries."""
    return subprocess.run(
        [sys.executable, "-c", _CRASHING_CUSTODY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, CRASH_AT: crash_at},
    )


def log_size(app: Appliance) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{app.home / 'log.sqlite'}?mode=ro", uri=True) as db:
        size: int = db.execute("SELECT count(*) FROM entries").fetchone()[0]
    return size


def make_appliance() -> Appliance:
    """What the `appliance` fixture yields, for a fixture of wider scope; the caller removes
    it (`kill_agents(app.root)`, then the folder)."""
    root = Path(tempfile.mkdtemp(prefix="ce", dir="/tmp"))
    init_home(root / "h")
    fingerprints = make_custodians(root / "k")
    with load_appliance(root / "h").open_log() as log:
        enrol_and_challenge(root / "h", log, root / "k", fingerprints)
    shutil.copytree(SAMPLE / "recover", root / "stick")
    (root / "answers.toml").write_text(ANSWERS)
    return Appliance(root, root / "h", root / "k", fingerprints, root / "answers.toml")
