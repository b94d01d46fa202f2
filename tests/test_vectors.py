"""SPIKE's own shard sets (tests/vectors/spike/): both generations, every subset, every order.

Through the library every threshold subset is tried in every order. Through the command
line every subset in every order is tried by calling `custody.cli.main` (the installed
command's entry point) in this process, and one subset of each set through the installed
`custody` command in a subprocess: the 258 orders as subprocesses (~0.3 s each) would cost
more than the whole suite's time budget.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from custody.cli import main
from custody.commitments import commit, find_bad_shards, fingerprint_of
from custody.errors import InconsistentSetError
from custody.formats.spike import encode_shard_line, parse_shard_text
from custody.shamir import combine, fit_polynomial
from custody.shardfiles import load_shard_files
from custody.shards import Shard
from tests.conftest import (
    VECTORS,
    RunCustody,
    VectorSet,
    assert_no_secret,
    run_custody_many,
    vector_sets,
)

ALL = vector_sets()
MAIN = vector_sets("main-")
PAIRS = [
    ("main-t2-n3-counting", "v0.8-t2-n3-counting"),
    ("main-t3-n5-random-1", "v0.8-t3-n5-random-1"),
]
BY_NAME = {v.name: v for v in ALL}


def shards_of(vector: VectorSet) -> dict[int, Shard]:
    return {f.parsed.shard.id: f.parsed.shard for f in load_shard_files([vector.folder]).files}


def test_both_generations_are_here() -> None:
    names = [v.name for v in ALL]
    assert sum(n.startswith("main-") for n in names) == 5
    assert sum(n.startswith("v0.8-") for n in names) == 2
    assert {v.threshold for v in ALL} == {2, 3}


@pytest.mark.parametrize("vector", ALL, ids=lambda v: v.name)
def test_files_are_read_byte_exact(vector: VectorSet) -> None:
    assert vector.case["shares"] == len(vector.ids)
    for entry in vector.case["shards"]:
        data = vector.file(entry["id"]).read_bytes()
        assert data == entry["file_text"].encode()
        assert not data.endswith(b"\n")
        parsed = parse_shard_text(data, source=entry["file"])
        assert parsed.notes == ()
        assert parsed.shard == Shard(entry["id"], int(entry["value_hex"], 16))
        assert encode_shard_line(parsed.shard) == data
    root_key = (vector.folder / "root_key.hex").read_text().strip()
    assert root_key == vector.root_key_hex


@pytest.mark.parametrize("vector", MAIN, ids=lambda v: v.name)
def test_spike_http_bodies_agree_with_the_files(vector: VectorSet) -> None:
    response = json.loads((vector.folder / "recover_response.json").read_text())
    requests = json.loads((vector.folder / "restore_requests.json").read_text())
    for shard_id, value in response["shards"].items():
        assert bytes(value).hex() == vector.value_hex(int(shard_id))
    assert {r["id"]: bytes(r["shard"]).hex() for r in requests} == {
        i: vector.value_hex(i) for i in vector.ids
    }


@pytest.mark.parametrize("vector", ALL, ids=lambda v: v.name)
def test_every_subset_in_every_order_rebuilds_the_key(vector: VectorSet) -> None:
    # B14 through the library.
    shards = shards_of(vector)
    key = int(vector.root_key_hex, 16)
    count = 0
    for subset in itertools.combinations(sorted(shards), vector.threshold):
        for order in itertools.permutations(subset):
            chosen = [shards[i] for i in order]
            assert combine(chosen) == key
            assert fit_polynomial(chosen, vector.threshold).secret == key
            count += 1
    assert fit_polynomial(list(shards.values()), vector.threshold).secret == key
    assert (
        fingerprint_of(key)
        == commit(
            fit_polynomial(list(shards.values()), vector.threshold), sorted(shards)
        ).fingerprint
    )
    recorded = vector.case.get("threshold_subsets")
    if recorded is not None:
        assert count == len(recorded) * len(list(itertools.permutations(range(vector.threshold))))
        assert all(r["ok"] and r["recovered_hex"] == vector.root_key_hex for r in recorded)


def test_the_leading_zero_key_keeps_its_width() -> None:
    # B15: a key with a leading zero byte is 32 bytes / 64 hex digits, never 31.
    vector = BY_NAME["main-t3-n5-leading-zero-byte"]
    assert vector.root_key_hex.startswith("00")
    shards = shards_of(vector)
    key = combine([shards[5], shards[1], shards[3]])
    assert key.to_bytes(32, "big").hex() == vector.root_key_hex


@pytest.fixture(autouse=True)
def process_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """`shards combine` hardens its process; here that process is the whole test run, whose
    core-file tests need it unhardened. The installed command's runs below do harden."""
    import custody.cli.shards

    monkeypatch.setattr(custody.cli.shards, "harden", lambda: None)


def cli_combine(vector: VectorSet, ids: tuple[int, ...], capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["shards", "combine", *(str(vector.file(i)) for i in ids)]
    assert main([*argv, "--threshold", str(vector.threshold), "--reveal-key", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ids"] == sorted(ids)
    return str(document["root_key"])


@pytest.mark.parametrize("vector", ALL, ids=lambda v: v.name)
def test_every_subset_in_every_order_through_the_cli_entry_point(
    vector: VectorSet, capsys: pytest.CaptureFixture[str]
) -> None:
    for subset in itertools.combinations(vector.ids, vector.threshold):
        for order in itertools.permutations(subset):
            assert cli_combine(vector, order, capsys) == vector.root_key_hex


def test_subsets_through_the_installed_command() -> None:
    jobs = []
    for vector in ALL:
        subsets = list(itertools.combinations(vector.ids, vector.threshold))
        jobs.append((vector, subsets[-1][::-1]))

    results = run_custody_many(
        [
            [
                "shards",
                "combine",
                *(v.file(i) for i in ids),
                "--threshold",
                str(v.threshold),
                "--reveal-key",
                "--json",
            ]
            for v, ids in jobs
        ]
    )
    for (vector, ids), (code, out, err) in zip(jobs, results, strict=True):
        assert code == 0, err
        document = json.loads(out)
        assert document["root_key"] == vector.root_key_hex
        assert len(document["root_key"]) == 64
        assert document["ids"] == sorted(ids)
        assert document["threshold"] == vector.threshold
        assert document["fingerprint"] == fingerprint_of(int(vector.root_key_hex, 16)).hex
        assert "exactly threshold shards" in err  # no commitments: the warning says so
        assert "Traceback" not in err


def tampered_folder(vector: VectorSet, where: Path, ids: list[int] | None = None) -> Path:
    """A copy of the set (or of `ids` of it) with the case's tampered shard in place."""
    tampered = vector.case["tampered_example"]
    folder = where / f"{vector.name}-tampered"
    folder.mkdir()
    for shard_id in ids or vector.ids:
        shutil.copyfile(vector.file(shard_id), folder / vector.file(shard_id).name)
    bad = tampered["tampered_id"]
    if bad in (ids or vector.ids):
        (folder / f"spike.recovery.{bad}.txt").write_text(
            f"spike:{bad}:{tampered['tampered_value_hex']}"
        )
    return folder


@pytest.mark.parametrize("vector", MAIN, ids=lambda v: v.name)
def test_the_tampered_example_rebuilds_the_recorded_wrong_key(vector: VectorSet) -> None:
    # The danger, shown: t shards, one bit flipped, "reconstruct" without complaint.
    tampered = vector.case["tampered_example"]
    shards = shards_of(vector)
    bad = Shard(tampered["tampered_id"], int(tampered["tampered_value_hex"], 16))
    chosen = [bad if i == bad.id else shards[i] for i in tampered["ids"]]
    assert combine(chosen) == int(tampered["recovered_hex"], 16)
    commitments = commit(fit_polynomial(list(shards.values()), vector.threshold), vector.ids)
    assert find_bad_shards(chosen, commitments) == (bad.id,)


@pytest.mark.parametrize("vector", MAIN, ids=lambda v: v.name)
def test_the_tampered_example_is_named_by_the_commitments(
    vector: VectorSet, tmp_path: Path, custody: RunCustody
) -> None:
    # B05: exactly t shards, one bit flipped: named, and never combined.
    tampered = vector.case["tampered_example"]
    t = str(vector.threshold)
    commitments = tmp_path / "commitments.json"
    code, _, err = custody(
        "shards", "commit", vector.folder, "--threshold", t, "--out", commitments
    )
    assert code == 0, err
    folder = tampered_folder(vector, tmp_path, tampered["ids"])
    (c1, out, err), (c2, out2, err2) = run_custody_many(
        [
            ["shards", "verify", folder, "--commitments", commitments, "--json"],
            [
                "shards",
                "combine",
                folder,
                "--threshold",
                t,
                "--commitments",
                commitments,
                "--reveal-key",
                "--json",
            ],
        ]
    )
    assert c1 == 1
    document = json.loads(out)
    assert document["bad_ids"] == [tampered["tampered_id"]]
    assert document["consistent"] is False
    assert f"shard(s) {tampered['tampered_id']} " in err
    assert c2 == 1
    assert out2 == ""
    assert err2.startswith("custody: error: ")
    secrets = [
        tampered["recovered_hex"],
        tampered["tampered_value_hex"],
        vector.root_key_hex,
        *(vector.value_hex(i) for i in vector.ids),
    ]
    assert_no_secret(secrets, out, err, out2, err2)


def test_the_tampered_shard_is_located_without_commitments_when_n_is_t_plus_2(
    tmp_path: Path,
) -> None:
    # B08: in the 3-of-5 sets, 5 >= 3 + 2.
    vectors = [v for v in MAIN if v.threshold == 3]
    folders = [tampered_folder(v, tmp_path) for v in vectors]
    results = run_custody_many(
        [["shards", "verify", f, "--threshold", "3", "--json"] for f in folders]
    )
    for vector, (code, out, err) in zip(vectors, results, strict=True):
        bad = vector.case["tampered_example"]["tampered_id"]
        assert code == 1
        assert json.loads(out)["bad_ids"] == [bad]
        assert f"shard {bad} disagrees" in err
        secrets = [vector.root_key_hex, vector.case["tampered_example"]["tampered_value_hex"]]
        assert_no_secret(secrets, out, err)


@pytest.mark.parametrize("vector", MAIN, ids=lambda v: v.name)
def test_with_n_equal_t_plus_1_the_bad_shard_cannot_be_located(
    vector: VectorSet, tmp_path: Path
) -> None:
    # B07.
    bad = vector.case["tampered_example"]["tampered_id"]
    ids = sorted([bad, *[i for i in vector.ids if i != bad][: vector.threshold]])
    folder = tampered_folder(vector, tmp_path, ids)
    t = str(vector.threshold)
    (c1, out, err), (c2, out2, err2) = run_custody_many(
        [
            ["shards", "verify", folder, "--threshold", t, "--json"],
            ["shards", "combine", folder, "--threshold", t, "--reveal-key"],
        ]
    )
    assert c1 == 1
    assert json.loads(out)["bad_ids"] == []
    assert "cannot be located" in err
    assert c2 == 1
    assert out2 == ""
    assert_no_secret(
        [vector.root_key_hex, vector.case["tampered_example"]["recovered_hex"]],
        out,
        err,
        out2,
        err2,
    )


@pytest.mark.parametrize(("main_name", "old_name"), PAIRS)
def test_mixed_generations_are_caught(main_name: str, old_name: str, tmp_path: Path) -> None:
    # B10: the same key split by SPIKE v0.8 and by SPIKE main gives different polynomials.
    main_set, old_set = BY_NAME[main_name], BY_NAME[old_name]
    assert main_set.root_key_hex == old_set.root_key_hex
    new, old = shards_of(main_set), shards_of(old_set)
    t = main_set.threshold
    commitments = commit(fit_polynomial(list(new.values()), t), main_set.ids)
    for foreign in main_set.ids:
        mixed = [old[i] if i == foreign else new[i] for i in main_set.ids]
        assert find_bad_shards(mixed, commitments) == (foreign,)
        with pytest.raises(InconsistentSetError) as caught:
            fit_polynomial(mixed, t)
        assert caught.value.bad_ids == ((foreign,) if len(mixed) >= t + 2 else ())
    # Two old shards among three new ones: still refused, not located (5 < 3 + 2*2).
    if t == 3:
        mixed = [old[1], old[2], new[3], new[4], new[5]]
        with pytest.raises(InconsistentSetError) as caught:
            fit_polynomial(mixed, t)
        assert caught.value.bad_ids == ()
        assert find_bad_shards(mixed, commitments) == (1, 2)


def test_mixed_generations_through_the_command(tmp_path: Path) -> None:
    main_set, old_set = BY_NAME["main-t3-n5-random-1"], BY_NAME["v0.8-t3-n5-random-1"]
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in main_set.ids:
        source = old_set if i == 2 else main_set
        shutil.copyfile(source.file(i), folder / source.file(i).name)
    commitments = tmp_path / "c.json"
    (c1, out1, err1), (c2, _, err2) = run_custody_many(
        [
            ["shards", "verify", folder, "--threshold", "3", "--json"],
            ["shards", "commit", main_set.folder, "--threshold", "3", "--out", commitments],
        ]
    )
    assert c1 == 1
    assert json.loads(out1)["bad_ids"] == [2]
    assert c2 == 0, err2
    [(c3, out3, err3)] = run_custody_many(
        [["shards", "verify", folder, "--commitments", commitments, "--json"]]
    )
    assert c3 == 1
    assert json.loads(out3)["bad_ids"] == [2]
    assert_no_secret([main_set.root_key_hex, old_set.value_hex(2)], out1, err1, out3, err3)


def test_the_db_vector_shards_rebuild_its_key() -> None:
    expected = json.loads((VECTORS / "db-t2-n3" / "expected.json").read_text())
    collected = load_shard_files([VECTORS / "db-t2-n3" / "recover"]).collect()
    assert collected.ids == tuple(expected["shard_ids"])
    key = fit_polynomial(collected.shards, expected["threshold"]).secret
    assert key.to_bytes(32, "big").hex() == expected["root_key_hex"]
