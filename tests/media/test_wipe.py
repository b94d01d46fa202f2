"""Wiping intake shard files: only the committed set's shards, never anything else."""

from __future__ import annotations

import os
from pathlib import Path

from custody.media.wipe import find_shard_files, wipe_shard_files
from tests.media.conftest import write_set


def test_wipes_exactly_the_shards_taken_in(tmp_path: Path) -> None:
    lines = write_set(tmp_path)
    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / "spike.recovery.7.txt").write_bytes(b"spike:7:" + b"1" * 64)  # another set
    names, lookalikes = find_shard_files(tmp_path)
    result = wipe_shard_files(tmp_path, names, lambda name, content: content in lines)
    assert sorted(w.name for w in result.wiped) == [f"spike.recovery.{i}.txt" for i in (1, 2, 3)]
    assert [x.name for x in result.left_alone] == ["spike.recovery.7.txt"]
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "spike.recovery.7.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep"
    assert lookalikes == ()


def test_traps_named_like_shards_are_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("precious")
    (tmp_path / "spike.recovery.1.txt").symlink_to(target)
    os.mkfifo(tmp_path / "spike.recovery.2.txt")
    os.link(target, tmp_path / "spike.recovery.3.txt")
    names, _ = find_shard_files(tmp_path)
    result = wipe_shard_files(tmp_path, names, lambda name, content: True)
    assert result.wiped == ()
    assert len(result.left_alone) == 3
    assert target.read_text() == "precious"


def test_the_overwrite_happens_in_place_before_unlinking(tmp_path: Path) -> None:
    lines = write_set(tmp_path)
    keeper = tmp_path / "observer"
    os.link(tmp_path / "spike.recovery.1.txt", keeper)  # hard link: must be left alone
    names, _ = find_shard_files(tmp_path)
    result = wipe_shard_files(tmp_path, names, lambda name, content: content in lines)
    assert "spike.recovery.1.txt" in {x.name for x in result.left_alone}
    assert keeper.read_bytes() == lines[0]


def test_the_cli_records_the_wipe_in_the_home_log(tmp_path: Path) -> None:
    import subprocess
    import sys

    from custody.appliance import init_home, load_appliance

    custody = str(Path(sys.executable).parent / "custody")
    home = tmp_path / "home"
    init_home(home)
    write_set(tmp_path / "stick")
    commitments = tmp_path / "c.json"
    subprocess.run(
        [custody, "shards", "commit", str(tmp_path / "stick"), "--threshold", "2",
         "--out", str(commitments)],
        check=True, capture_output=True,
    )  # fmt: skip
    result = subprocess.run(
        [custody, "media", "wipe-shards", str(tmp_path / "stick"), "--commitments",
         str(commitments), "--home", str(home)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with load_appliance(home).read_log() as log:
        events = [(e.event, e.payload.get("effect")) for e in log.entries()]
    assert ("intent.begin", "media.wipe") in events
    assert ("intent.complete", "media.wipe") in events
    assert not log_dangling(home)


def log_dangling(home: Path) -> tuple[object, ...]:
    from custody.appliance import load_appliance

    with load_appliance(home).read_log() as log:
        return log.dangling_intents()
