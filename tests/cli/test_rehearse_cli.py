"""`custody rehearse` end to end through the installed command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CUSTODY = str(Path(sys.executable).parent / "custody")


def test_rehearsal_passes_and_keeps_its_files(tmp_path: Path) -> None:
    out = tmp_path / "rehearsal"
    result = subprocess.run(
        [CUSTODY, "rehearse", "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "rehearsal passed" in result.stdout
    assert sorted(p.name for p in (out / "intake").iterdir()) == [
        f"spike.recovery.{i}.txt" for i in range(1, 6)
    ]
    assert (out / "commitments.json").is_file()
    assert not list((out / "sample").glob("spike.db-*")), "the sample db gained side files"


def test_rehearsal_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("keep me")
    result = subprocess.run(
        [CUSTODY, "rehearse", "--out", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.startswith("custody: error: ")
    assert (tmp_path / "something").read_text() == "keep me"
