"""Every SPIKE vector set, of both generations, taken in and restored through the ceremonies:
the restored files equal SPIKE's own byte for byte."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from custody.appliance import init_home, load_appliance
from custody.ceremonies import all_actions
from custody.ceremonies.engine import run_ceremony
from custody.ceremonies.rehearsal import (
    RehearsalOperator,
    ceremony_script,
    enrol_and_challenge,
    make_custodians,
)
from tests.ceremonies.conftest import kill_agents

SETS = Path(__file__).resolve().parents[1] / "vectors" / "spike" / "sets"


@pytest.mark.parametrize("vector", sorted(p.name for p in SETS.iterdir()))
def test_every_vector_set_restores_byte_for_byte(vector: str) -> None:
    case = json.loads((SETS / vector / "case.json").read_text())
    threshold, count = int(case["threshold"]), int(case["shares"])
    root = Path(tempfile.mkdtemp(prefix="cv", dir="/tmp"))
    try:
        home, keyrings = root / "h", root / "k"
        init_home(home)
        names = tuple(f"Custodian {i}" for i in range(1, count + 1))
        fingerprints = make_custodians(keyrings, names)
        stick = root / "stick"
        stick.mkdir()
        for shard in case["shards"]:
            shutil.copy(SETS / vector / shard["file"], stick / shard["file"])
        operator = RehearsalOperator(keyrings, lambda line: None)
        with load_appliance(home).open_log() as log:
            enrol_and_challenge(home, log, keyrings, fingerprints, names)
            actions = all_actions()
            intake = run_ceremony(home, log, ceremony_script("intake"), actions, operator, params={
                "from": str(stick), "threshold": str(threshold),
                "assign": " ".join(f"{i}={f}" for i, f in enumerate(fingerprints, start=1)),
                "media_out": str(root / "media"), "papers_out": str(root / "papers"),
                "receipts": str(root / "receipts"), "date": "2026-12-01", "checkpoint": "none",
                "unsafe_host": "accept",  # this test process is not hardened
            })  # fmt: skip
            presented = root / "presented"
            presented.mkdir()
            for packet in sorted((root / "media").glob("*/*.asc"))[-threshold:]:
                shutil.copy(packet, presented / packet.name)
            run_ceremony(home, log, ceremony_script("restore"), actions, operator, params={
                "of": intake.ceremony_id, "packets": str(presented), "keyrings": str(keyrings),
                "to": str(root / "restored"), "checkpoint": str(root / "papers" / "checkpoint.txt"),
                "unsafe_host": "accept",
            })  # fmt: skip
        restored = _restored(root / "restored")
        assert len(restored) == threshold
        for name, data in restored.items():
            assert data == (SETS / vector / name).read_bytes()
    finally:
        kill_agents(root)
        shutil.rmtree(root, ignore_errors=True)


def _restored(folder: Path) -> Mapping[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.glob("spike.recovery.*.txt")}
