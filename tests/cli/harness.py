"""Running the installed `custody` command from CLI tests that share one bytecode cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Each run would compile custody afresh (bytecode is not written into the shared checkout):
# compiled once into a private folder instead, the runs take half the time.
PYCACHE: dict[str, str] = {}
DROPPED = {"CUSTODY_HOME", "XDG_DATA_HOME", "PYTHONDONTWRITEBYTECODE"}


@pytest.fixture(scope="module", autouse=True)
def _compiled_once() -> Iterator[None]:
    folder = tempfile.mkdtemp(prefix="custody-pyc.")
    PYCACHE["PYTHONPYCACHEPREFIX"] = folder
    yield
    PYCACHE.clear()
    shutil.rmtree(folder, ignore_errors=True)


def custody_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in DROPPED} | PYCACHE


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
