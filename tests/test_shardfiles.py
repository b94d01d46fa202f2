"""Loading shard files from the paths an operator names, and writing a set as SPIKE does."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from custody import shardfiles
from custody.errors import BadInputError, CustodyError, ShardFormatError, ShardSetError
from custody.formats.spike import encode_shard_line
from custody.shamir import split
from custody.shardfiles import (
    load_shard_file,
    load_shard_files,
    read_small_regular_file,
    write_shard_files,
)
from custody.shards import Shard
from tests.conftest import assert_no_secret

SHARDS = split(0xC0FFEE, 2, 3)[1]
VALUES = [f"{s.value:064x}" for s in SHARDS]


def write_set(folder: Path, shards: tuple[Shard, ...] = SHARDS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard in shards:
        path = folder / f"spike.recovery.{shard.id}.txt"
        path.write_bytes(encode_shard_line(shard))
        paths.append(path)
    return paths


def refused_file(path: Path, kind: str) -> CustodyError:
    with pytest.raises(CustodyError) as caught:
        load_shard_file(path)
    assert caught.value.kind == kind, caught.value.message
    assert str(path) in caught.value.message
    assert_no_secret(VALUES, caught.value.message)
    return caught.value


def test_a_folder_gives_its_shard_files_in_id_order(tmp_path: Path) -> None:
    write_set(tmp_path / "set")
    (tmp_path / "set" / "notes.txt").write_text("not a shard")
    (tmp_path / "set" / "spike.recovery.0.txt").write_text("ignored: not a SPIKE name")
    loaded = load_shard_files([tmp_path / "set"])
    assert loaded.problems == ()
    assert [f.parsed.shard for f in loaded.files] == list(SHARDS)
    assert loaded.collect().ids == (1, 2, 3)


def test_a_file_named_explicitly_may_have_any_name(tmp_path: Path) -> None:
    path = tmp_path / "custodian-alice.txt"
    path.write_bytes(encode_shard_line(SHARDS[1]))
    assert load_shard_file(path).parsed.shard == SHARDS[1]


def test_the_file_digest_is_of_the_bytes_read(tmp_path: Path) -> None:
    import hashlib

    path = write_set(tmp_path)[0]
    assert load_shard_file(path).file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a15_file_name_id_differs_from_content_id(tmp_path: Path) -> None:
    path = tmp_path / "spike.recovery.2.txt"
    path.write_bytes(encode_shard_line(SHARDS[2]))
    error = refused_file(path, "id-mismatch")
    assert f"{path}: line 1 " in error.message
    assert "shard 2" in error.message
    assert "shard 3" in error.message


def test_content_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "spike.recovery.1.txt"
    path.write_bytes(encode_shard_line(SHARDS[0])[:-1])
    error = refused_file(path, "bad-shard-length")
    assert error.message.startswith(f"{path}: line 1 ")


def test_a16_identical_copies_are_one_shard(tmp_path: Path) -> None:
    paths = write_set(tmp_path / "a")
    copy = tmp_path / "b" / "spike.recovery.2.txt"
    copy.parent.mkdir()
    copy.write_bytes(encode_shard_line(SHARDS[1]).upper().replace(b"SPIKE", b"spike") + b"\n")
    collected = load_shard_files([*paths, copy]).collect()
    assert collected.ids == (1, 2, 3)
    assert collected.duplicate_sources == (str(copy),)


def test_a17_conflicting_copies_are_refused(tmp_path: Path) -> None:
    paths = write_set(tmp_path / "a")
    other = tmp_path / "b" / "spike.recovery.2.txt"
    other.parent.mkdir()
    other.write_bytes(encode_shard_line(Shard(2, SHARDS[1].value ^ 1)))
    with pytest.raises(ShardSetError) as caught:
        load_shard_files([*paths, other]).collect()
    assert caught.value.kind == "conflicting-shards"
    assert caught.value.exit_code == 3
    assert str(paths[1]) in caught.value.message
    assert str(other) in caught.value.message
    assert_no_secret([*VALUES, f"{SHARDS[1].value ^ 1:064x}"], caught.value.message)


def test_every_problem_is_collected_and_the_first_refuses_the_load(tmp_path: Path) -> None:
    paths = write_set(tmp_path)
    paths[0].write_bytes(b"")
    paths[2].write_bytes(b"spike:3:zz")
    loaded = load_shard_files([*paths, tmp_path / "missing.txt"])
    assert [p.error.kind for p in loaded.problems] == ["empty-shard-file", "bad-hex", "unreadable"]
    assert [f.parsed.shard.id for f in loaded.files] == [2]
    with pytest.raises(ShardFormatError) as caught:
        loaded.collect()
    assert caught.value.kind == "empty-shard-file"


def test_c07_a_symlinked_shard_file_is_refused(tmp_path: Path) -> None:
    target = write_set(tmp_path / "real")[0]
    link = tmp_path / "spike.recovery.1.txt"
    link.symlink_to(target)
    error = refused_file(link, "not-a-regular-file")
    assert "link" in error.message


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/shadow", "/nonexistent"])
def test_c07_a_link_to_anything_is_refused_without_opening_it(tmp_path: Path, target: str) -> None:
    link = tmp_path / "spike.recovery.1.txt"
    link.symlink_to(target)
    refused_file(link, "not-a-regular-file")


def test_c07_a_symlinked_shard_in_a_folder_is_skipped_and_never_read(tmp_path: Path) -> None:
    real = write_set(tmp_path / "real")
    folder = tmp_path / "stick"
    write_set(folder, SHARDS[:2])
    (folder / "spike.recovery.3.txt").symlink_to(real[2])
    loaded = load_shard_files([folder])
    assert loaded.problems == ()
    assert [p.error.kind for p in loaded.skipped] == ["not-a-regular-file"]
    assert loaded.collect().ids == (1, 2)


def test_a_folder_full_of_traps_yields_only_the_genuine_shards(tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    genuine = write_set(folder, SHARDS[:2])
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(encode_shard_line(SHARDS[2]))
    (folder / "spike.recovery.3.txt").symlink_to("/etc/shadow")
    os.mkfifo(folder / "spike.recovery.4.txt")
    with (folder / "spike.recovery.5.txt").open("wb") as handle:
        handle.truncate(2 * 1024**3)
    os.link(elsewhere, folder / "spike.recovery.6.txt")
    (folder / "SPIKE.RECOVERY.7.TXT").write_bytes(b"spike:7:" + b"a" * 64)
    (folder / "spike.recovery.8.txt\x1b[2J").write_bytes(b"x")
    (folder / "..spike.recovery.9.txt").write_bytes(b"x")
    (folder / "recover").symlink_to("/")
    start = time.monotonic()
    loaded = load_shard_files([folder])
    assert time.monotonic() - start < 2
    assert loaded.problems == ()
    assert [f.path for f in loaded.files] == genuine
    assert sorted(p.error.kind for p in loaded.skipped) == [
        "file-too-large",
        "hard-linked",
        "lookalike-name",
        "not-a-regular-file",
        "not-a-regular-file",
    ]
    assert loaded.collect().ids == (1, 2)


def test_c08_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    write_set(tmp_path / "real")
    (tmp_path / "recover").symlink_to(tmp_path / "real")
    loaded = load_shard_files([tmp_path / "recover"])
    assert loaded.files == ()
    assert [p.error.kind for p in loaded.problems] == ["not-a-regular-file"]


def test_c10_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "spike.recovery.1.txt"
    os.mkfifo(fifo)
    start = time.monotonic()
    refused_file(fifo, "not-a-regular-file")
    assert time.monotonic() - start < 2


def test_c11_a_device_node_is_refused() -> None:
    with pytest.raises(BadInputError) as caught:
        read_small_regular_file(Path("/dev/null"), 256)
    assert caught.value.kind == "not-a-regular-file"


def test_a_folder_named_as_a_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "spike.recovery.1.txt"
    folder.mkdir()
    with pytest.raises(BadInputError) as caught:
        read_small_regular_file(folder, 256)
    assert caught.value.kind == "not-a-regular-file"


def test_c13_a_huge_sparse_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "spike.recovery.1.txt"
    with path.open("wb") as handle:
        handle.truncate(2 * 1024**3)
    start = time.monotonic()
    error = refused_file(path, "file-too-large")
    assert time.monotonic() - start < 1
    assert str(2 * 1024**3) in error.message


def test_257_bytes_is_too_large_and_256_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 257)
    with pytest.raises(BadInputError) as caught:
        read_small_regular_file(path, 256)
    assert caught.value.kind == "file-too-large"
    path.write_bytes(b"x" * 256)
    assert read_small_regular_file(path, 256) == b"x" * 256


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    refused_file(tmp_path / "spike.recovery.1.txt", "unreadable")


def test_a_folder_without_shard_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(BadInputError) as caught:
        load_shard_files([tmp_path])
    assert caught.value.kind == "no-shard-files"
    assert str(tmp_path) in caught.value.message


def test_c14_a_folder_with_too_many_entries_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real bound is 10,000 entries; a smaller one keeps the test fast.
    monkeypatch.setattr(shardfiles, "MAX_FOLDER_ENTRIES", 5)
    for i in range(6):
        (tmp_path / f"junk{i}").touch()
    with pytest.raises(BadInputError) as caught:
        load_shard_files([tmp_path])
    assert caught.value.kind == "too-many-entries"


def test_written_files_are_spike_byte_exact_and_private(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = write_shard_files(out, SHARDS)
    assert [p.name for p in written] == [f"spike.recovery.{i}.txt" for i in (1, 2, 3)]
    for path, shard in zip(written, SHARDS, strict=True):
        assert path.read_bytes() == f"spike:{shard.id}:{shard.value:064x}".encode()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in written]  # no temp files
    assert load_shard_files([out]).collect().shards == SHARDS


def test_writing_refuses_existing_names_before_writing_anything(tmp_path: Path) -> None:
    (tmp_path / "spike.recovery.3.txt").write_text("keep me")
    with pytest.raises(BadInputError) as caught:
        write_shard_files(tmp_path, SHARDS)
    assert caught.value.kind == "output-exists"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spike.recovery.3.txt"]
    assert (tmp_path / "spike.recovery.3.txt").read_text() == "keep me"


def test_writing_refuses_a_dangling_link_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "spike.recovery.2.txt").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadInputError):
        write_shard_files(tmp_path, SHARDS)
    assert not (tmp_path / "elsewhere").exists()
    assert not (tmp_path / "spike.recovery.1.txt").exists()


def test_a_failed_write_removes_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The third file's name appears while the first two are written (a race the existence
    # check cannot see): the set is all or nothing.
    real_link = os.link

    def racing_link(source: str | Path, target: str | Path) -> None:
        if str(target).endswith("spike.recovery.3.txt"):
            Path(target).write_text("someone else's")
        real_link(source, target)

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(BadInputError):
        write_shard_files(tmp_path, SHARDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spike.recovery.3.txt"]
    assert (tmp_path / "spike.recovery.3.txt").read_text() == "someone else's"
