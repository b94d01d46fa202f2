"""The built wheel carries what an installed custody needs: sample data and py.typed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_rehearsal_sample_and_type_marker(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("custody-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "custody/py.typed",
        "custody/sample/spike.db",
        "custody/sample/recover/spike.recovery.1.txt",
        "custody/sample/recover/spike.recovery.2.txt",
        "custody/sample/recover/spike.recovery.3.txt",
        "custody/paper/templates/custodian-sheet.toml",
        "custody/paper/templates/summary-sheet.toml",
        *(
            f"custody/ceremonies/scripts/{name}.toml"
            for name in ("intake", "restore", "drill", "checkin")
        ),
    } <= names
    assert not any(name.startswith("tests/") for name in names)
