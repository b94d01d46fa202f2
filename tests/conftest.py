"""Fixtures every test may use: the vectors, the installed command, hypothesis profiles.

Keep this small: helpers live here only when more than one test file needs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, settings

VECTORS = Path(__file__).resolve().parent / "vectors" / "spike"
CUSTODY = Path(sys.executable).parent / "custody"

# Deterministic by default (the same examples on every run, no database written into the
# shared checkout); HYPOTHESIS_PROFILE=thorough explores more and at random.
settings.register_profile(
    "custody",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "custody"))


class RunCustody(Protocol):
    def __call__(
        self, *args: str | Path, timeout: float = ..., cwd: Path | None = ...
    ) -> tuple[int, str, str]: ...


def run_custody(
    *args: str | Path, timeout: float = 30, cwd: Path | None = None
) -> tuple[int, str, str]:
    """Run the installed `custody` command; (exit code, stdout, stderr)."""
    result = subprocess.run(
        [str(CUSTODY), *(str(a) for a in args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return result.returncode, result.stdout, result.stderr


def run_custody_many(
    commands: Iterable[Sequence[object]], timeout: float = 30
) -> list[tuple[int, str, str]]:
    """Run several independent `custody` commands at once (each ~0.3 s, mostly start-up).

    Each command is a list of words (str, Path or int, converted with str()).
    """
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(lambda args: run_custody(*map(str, args), timeout=timeout), commands))


@pytest.fixture
def custody() -> RunCustody:
    return run_custody


@pytest.fixture
def vectors() -> Path:
    return VECTORS


@dataclass(frozen=True)
class VectorSet:
    """One folder of `tests/vectors/spike/sets/`, with its case.json."""

    folder: Path
    case: dict[str, Any]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def threshold(self) -> int:
        return int(self.case["threshold"])

    @property
    def root_key_hex(self) -> str:
        return str(self.case["root_key_hex"])

    def file(self, shard_id: int) -> Path:
        return self.folder / f"spike.recovery.{shard_id}.txt"

    def value_hex(self, shard_id: int) -> str:
        return next(str(s["value_hex"]) for s in self.case["shards"] if s["id"] == shard_id)

    @property
    def ids(self) -> list[int]:
        return [int(s["id"]) for s in self.case["shards"]]


def vector_sets(prefix: str = "") -> list[VectorSet]:
    folders = sorted((VECTORS / "sets").glob(f"{prefix}*"))
    return [VectorSet(f, json.loads((f / "case.json").read_text())) for f in folders]


def assert_no_secret(secrets: str | list[str], *texts: str) -> None:
    """The canary check: no secret hex (nor any 16-digit run of it, either case) in `texts`."""
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        for text in texts:
            lowered = text.lower()
            for start in range(0, len(secret) - 15):
                assert secret[start : start + 16].lower() not in lowered, "secret bytes leaked"
