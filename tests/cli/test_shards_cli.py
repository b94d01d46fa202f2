"""`custody shards …` end to end through the installed command: outputs, exit codes, refusals.

Every case with a shard value checks (the canary) that no value, and no root key unless
`--reveal-key` was given, reaches stdout or stderr.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from custody.field import N
from tests.conftest import RunCustody, VectorSet, assert_no_secret, run_custody_many, vector_sets

SET = next(v for v in vector_sets("main-t3-n5-random-1"))
SMALL = next(v for v in vector_sets("main-t2-n3-counting"))
HEX = SET.value_hex(1)
ALL_SECRETS = [SET.root_key_hex, *(SET.value_hex(i) for i in SET.ids)]


def copy_set(vector: VectorSet, folder: Path, ids: list[int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for shard_id in ids or vector.ids:
        shutil.copyfile(vector.file(shard_id), folder / vector.file(shard_id).name)
    return folder


def assert_clean_error(code: int, out: str, err: str, expected_code: int) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err + out
    # Warnings (e.g. a duplicate noted) may come first; then the error, one per line.
    lines = err.splitlines()
    assert lines
    assert all(line.startswith("custody: ") for line in lines), err
    assert any(line.startswith("custody: error: ") for line in lines)


# --- A rows, all files in one `inspect --json` run (inspect reports every file's problem) ---

A_ROWS: dict[str, tuple[bytes, str]] = {
    "a01-empty": (b"", "empty-shard-file"),
    "a02-63-digits": (f"spike:1:{HEX[:63]}".encode(), "bad-shard-length"),
    "a03-65-digits": (f"spike:1:{HEX}0".encode(), "bad-shard-length"),
    "a03-128-digits": (f"spike:1:{HEX}{HEX}".encode(), "bad-shard-length"),
    "a04-g": (f"spike:1:{HEX[:63]}g".encode(), "bad-hex"),
    "a04-z": (f"spike:1:z{HEX[1:]}".encode(), "bad-hex"),
    "a07-lf-lf": (f"spike:1:{HEX}\n\n".encode(), "trailing-garbage"),
    "a07-spaces": (f"spike:1:{HEX}  ".encode(), "trailing-garbage"),
    "a07-cr": (f"spike:1:{HEX}\r".encode(), "trailing-garbage"),
    "a08-bom": (b"\xef\xbb\xbf" + f"spike:1:{HEX}".encode(), "bad-encoding"),
    "a08-utf16": (f"spike:1:{HEX}".encode("utf-16"), "bad-encoding"),
    "a09-id-0": (f"spike:0:{HEX}".encode(), "invalid-shard-id"),
    "a11-id-1001": (f"spike:1001:{HEX}".encode(), "invalid-shard-id"),
    "a11-id-2-64": (f"spike:{2**64}:{HEX}".encode(), "invalid-shard-id"),
    "a11-id-n": (f"spike:{N}:{HEX}".encode(), "invalid-shard-id"),
    "a11-id-01": (f"spike:01:{HEX}".encode(), "invalid-shard-id"),
    "a12-upper-prefix": (f"SPIKE:1:{HEX}".encode(), "bad-shard-format"),
    "a12-space": (f"spike 1:{HEX}".encode(), "bad-shard-format"),
    "a12-no-prefix": (f":1:{HEX}".encode(), "bad-shard-format"),
    "a13-zero": (b"spike:1:" + b"0" * 64, "zero-shard"),
    "a14-ff": (b"spike:1:" + b"f" * 64, "non-canonical-scalar"),
    "a14-n": (f"spike:1:{N:064x}".encode(), "non-canonical-scalar"),
    "a14-n-plus-5": (f"spike:1:{N + 5:064x}".encode(), "non-canonical-scalar"),
    "a15-name-2-content-1": (f"spike:1:{HEX}".encode(), "id-mismatch"),
    "b01-forged-id-0": (f"spike:0:{SET.value_hex(2)}".encode(), "invalid-shard-id"),
    "b02-forged-id-n": (f"spike:{N}:{SET.value_hex(2)}".encode(), "invalid-shard-id"),
    "legacy-non-canonical-base64": (
        b"spike:1:" + base64.b64encode(bytes.fromhex(HEX))[:42] + b"B=",
        "bad-hex",
    ),
}


def a_row_path(folder: Path, name: str) -> Path:
    # A15 needs a SPIKE file name; the others are named after their row.
    return folder / ("spike.recovery.2.txt" if name.startswith("a15") else f"{name}.txt")


def test_a_rows_are_refused_and_named(tmp_path: Path, custody: RunCustody) -> None:
    paths = {}
    for name, (data, _) in A_ROWS.items():
        paths[name] = a_row_path(tmp_path, name)
        paths[name].write_bytes(data)
    code, out, err = custody("shards", "inspect", *paths.values(), "--json")
    assert code == 3
    document = json.loads(out)
    assert document["shards"] == []
    problems = {p["file"]: p for p in document["problems"]}
    for name, (_, kind) in A_ROWS.items():
        problem = problems[str(paths[name])]
        assert problem["kind"] == kind, name
        assert problem["message"].startswith(f"{paths[name]}: "), name
        if kind not in ("empty-shard-file", "bad-encoding"):
            assert f"{paths[name]}: line 1 " in problem["message"], name
    assert_no_secret([*ALL_SECRETS, f"{N:064x}"], out, err)


def test_the_same_refusals_in_text_mode(tmp_path: Path, custody: RunCustody) -> None:
    names = list(A_ROWS)
    for name in names:
        a_row_path(tmp_path, name).write_bytes(A_ROWS[name][0])
    code, out, err = custody("shards", "inspect", *(a_row_path(tmp_path, n) for n in names))
    assert code == 3
    assert out.strip() == "0 distinct shard(s): ids none"
    lines = err.splitlines()
    assert len(lines) == len(names)
    assert all(line.startswith("custody: error: ") for line in lines)
    assert_no_secret(ALL_SECRETS, out, err)


@pytest.mark.parametrize("verb", ["combine", "verify"])
def test_a_bad_file_stops_combine_and_verify_with_exit_3(
    tmp_path: Path, custody: RunCustody, verb: str
) -> None:
    folder = copy_set(SET, tmp_path / "set")
    (folder / "spike.recovery.4.txt").write_bytes(f"spike:4:{SET.value_hex(4)[:63]}".encode())
    extra = "--reveal-key" if verb == "combine" else "--json"
    code, out, err = custody("shards", verb, folder, "--threshold", "3", extra)
    assert_clean_error(code, out, err, 3)
    assert out == ""
    assert f"{folder / 'spike.recovery.4.txt'}: line 1 " in err
    assert_no_secret(ALL_SECRETS, out, err)


def test_a05_upper_case_is_the_same_shard(tmp_path: Path, custody: RunCustody) -> None:
    lower = SET.file(1)
    upper = tmp_path / "upper.txt"
    upper.write_bytes(f"spike:1:{HEX.upper()}".encode())
    code, out, err = custody("shards", "inspect", lower, upper, "--json")
    assert code == 0, err
    document = json.loads(out)
    rows = {row["file"]: row for row in document["shards"]}
    assert rows[str(lower)]["digest"] == rows[str(upper)]["digest"]
    assert rows[str(lower)]["file_sha256"] != rows[str(upper)]["file_sha256"]
    assert rows[str(upper)]["notes"] == ["upper-case hex read as lower-case"]
    assert rows[str(lower)]["notes"] == []
    assert document["ids"] == [1]
    assert document["count"] == 1
    assert_no_secret(ALL_SECRETS, out, err)


def test_a07_a_line_ending_is_accepted_and_reported(tmp_path: Path) -> None:
    endings = {b"\n": "trailing newline ignored", b"\r\n": "trailing CRLF ignored"}
    folders = []
    for number, ending in enumerate(endings):
        folder = copy_set(SET, tmp_path / f"set{number}", [1, 3, 5])
        path = folder / "spike.recovery.3.txt"
        path.write_bytes(path.read_bytes() + ending)
        folders.append(folder)
    results = run_custody_many(
        [["shards", "inspect", f, "--json"] for f in folders]
        + [["shards", "combine", f, "--threshold", "3", "--json"] for f in folders]
    )
    for note, (code, out, err) in zip(endings.values(), results[:2], strict=True):
        assert code == 0, err
        rows = {row["id"]: row for row in json.loads(out)["shards"]}
        assert rows[3]["notes"] == [note]
        assert rows[1]["notes"] == rows[5]["notes"] == []
    for code, out, err in results[2:]:
        assert code == 0, err
        assert json.loads(out)["ids"] == [1, 3, 5]
    assert_no_secret(ALL_SECRETS, *(out + err for _, out, err in results))


def test_legacy_base64_is_read(tmp_path: Path) -> None:
    folder = copy_set(SET, tmp_path / "set", [2, 3])
    legacy = base64.b64encode(bytes.fromhex(HEX)).decode()
    (folder / "spike.recovery.1.txt").write_text(f"spike:1:{legacy}")
    (c1, out1, err1), (c2, out2, _) = run_custody_many(
        [
            ["shards", "combine", folder, "--threshold", "3", "--json", "--reveal-key"],
            ["shards", "inspect", folder / "spike.recovery.1.txt", "--json"],
        ]
    )
    assert c1 == 0, err1
    assert json.loads(out1)["root_key"] == SET.root_key_hex
    assert c2 == 0
    assert json.loads(out2)["shards"][0]["format"] == "legacy-base64"
    assert json.loads(out2)["shards"][0]["notes"] == ["legacy base64 value"]


def test_a16_identical_copies_are_counted_once_with_a_warning(
    tmp_path: Path, custody: RunCustody
) -> None:
    copy = copy_set(SET, tmp_path / "copy", [2])
    code, out, err = custody(
        "shards",
        "combine",
        SET.file(1),
        SET.file(2),
        copy,
        SET.file(3),
        "--threshold",
        "3",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["ids"] == [1, 2, 3]
    assert err.startswith(f"custody: warning: {copy / 'spike.recovery.2.txt'}: an exact copy")
    assert_no_secret(ALL_SECRETS, out, err)


def test_a17_conflicting_copies_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other" / "spike.recovery.2.txt"
    other.parent.mkdir()
    changed = f"{int(SET.value_hex(2), 16) ^ 1:064x}"
    other.write_text(f"spike:2:{changed}")
    (c1, out1, err1), (c2, out2, err2) = run_custody_many(
        [
            ["shards", "combine", SET.folder, other, "--threshold", "3"],
            ["shards", "inspect", SET.folder, other, "--json"],
        ]
    )
    assert_clean_error(c1, out1, err1, 3)
    assert str(SET.file(2)) in err1
    assert str(other) in err1
    assert c2 == 3
    assert [p["kind"] for p in json.loads(out2)["problems"]] == ["conflicting-shards"]
    assert_no_secret([*ALL_SECRETS, changed], out1, err1, out2, err2)


def test_b04_the_same_shard_twice_then_another() -> None:
    # B04: no panic; the ceremony can go on once another custodian's shard comes.
    twice = ["shards", "combine", SMALL.file(1), SMALL.file(1)]
    (c1, out1, err1), (c2, out2, err2) = run_custody_many(
        [
            [*twice, "--threshold", "2"],
            [*twice, SMALL.file(3), "--threshold", "2", "--json"],
        ]
    )
    assert_clean_error(c1, out1, err1, 3)
    assert "1 more needed" in err1
    assert c2 == 0, err2
    assert json.loads(out2)["ids"] == [1, 3]


def test_b09_too_few_shards(custody: RunCustody) -> None:
    code, out, err = custody("shards", "combine", SET.file(1), SET.file(4), "--threshold", "3")
    assert_clean_error(code, out, err, 3)
    assert "2 shard(s) given but the threshold is 3: 1 more needed" in err
    assert out == ""


def test_b13_threshold_lower_than_spike_used(custody: RunCustody) -> None:
    code, out, err = custody("shards", "verify", SET.folder, "--threshold", "2", "--json")
    assert_clean_error(code, out, err, 1)
    document = json.loads(out)
    assert document["consistent"] is False
    assert document["fingerprint"] is None
    assert_no_secret(ALL_SECRETS, out, err)


def test_threshold_higher_than_spike_used() -> None:
    (c1, out1, err1), (c2, out2, err2) = run_custody_many(
        [
            ["shards", "verify", SMALL.folder, "--threshold", "3", "--json"],
            ["shards", "combine", SMALL.folder, "--threshold", "3", "--reveal-key"],
        ]
    )
    assert_clean_error(c1, out1, err1, 1)
    assert json.loads(out1)["consistent"] is False
    assert "looks like 2" in err1
    assert_clean_error(c2, out2, err2, 1)
    assert out2 == ""
    assert_no_secret(SMALL.root_key_hex, out1, err1, out2, err2)


# --- JSON documents and exit codes ---


def test_verify_json(custody: RunCustody) -> None:
    code, out, err = custody("shards", "verify", SET.folder, "--threshold", "3", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"consistent", "bad_ids", "fingerprint", "threshold", "ids"}
    assert document["consistent"] is True
    assert document["bad_ids"] == []
    assert document["threshold"] == 3
    assert document["ids"] == [1, 2, 3, 4, 5]
    assert (
        document["fingerprint"]
        == "03c26b7926753434d407d6cd14fae1cdd47479ca6e9a77c773d3dc885470df5476"
    )
    assert err == ""
    assert_no_secret(ALL_SECRETS, out, err)


def test_verify_text_and_the_exactly_threshold_warning(custody: RunCustody) -> None:
    code, out, err = custody(
        "shards", "verify", SET.file(1), SET.file(2), SET.file(5), "--threshold", "3"
    )
    assert code == 0
    assert out.startswith("consistent: 3 shards lie on one polynomial (threshold 3)\n")
    assert "short fingerprint: " in out
    assert err.startswith("custody: warning: exactly threshold shards")
    assert_no_secret(ALL_SECRETS, out, err)


def test_combine_json_shows_the_key_only_when_asked() -> None:
    combine = ["shards", "combine", SET.folder, "--threshold", "3", "--json"]
    (c1, out1, err1), (c2, out2, err2) = run_custody_many([combine, [*combine, "--reveal-key"]])
    assert c1 == 0, err1
    document = json.loads(out1)
    assert set(document) == {"fingerprint", "fingerprint_short", "threshold", "ids"}
    assert_no_secret(ALL_SECRETS, out1, err1)
    assert c2 == 0, err2
    revealed = json.loads(out2)
    assert set(revealed) == {"fingerprint", "fingerprint_short", "threshold", "ids", "root_key"}
    assert revealed["root_key"] == SET.root_key_hex
    assert {k: v for k, v in revealed.items() if k != "root_key"} == document


def test_combine_text() -> None:
    combine = ["shards", "combine", SET.folder, "--threshold", "3"]
    (c1, out1, err1), (c2, out2, _) = run_custody_many([combine, [*combine, "--reveal-key"]])
    assert c1 == 0
    assert out1.splitlines()[0].startswith("fingerprint: 03c26b79")
    assert "root key" not in out1
    assert_no_secret(ALL_SECRETS, out1, err1)
    assert c2 == 0
    assert out2.splitlines()[-1] == f"root key: {SET.root_key_hex}"


def test_commit_then_verify_and_combine_against_the_commitments(
    tmp_path: Path, custody: RunCustody
) -> None:
    commitments = tmp_path / "commitments.json"
    code, out, err = custody(
        "shards", "commit", SET.folder, "--threshold", "3", "--out", commitments, "--json"
    )
    assert code == 0, err
    assert set(json.loads(out)) == {"out", "fingerprint", "threshold", "ids"}
    assert stat.S_IMODE(commitments.stat().st_mode) == 0o644
    broken = tmp_path / "broken.json"
    broken.write_text(commitments.read_text().replace('"threshold": 3', '"threshold": 2'))
    results = run_custody_many(
        [
            ["shards", "verify", SET.file(2), SET.file(4), "--commitments", commitments, "--json"],
            [
                "shards",
                "combine",
                SET.file(2),
                SET.file(4),
                SET.file(5),
                "--commitments",
                commitments,
                "--threshold",
                "3",
                "--json",
            ],
            ["shards", "combine", SET.folder, "--commitments", commitments, "--threshold", "2"],
            ["shards", "commit", SET.folder, "--threshold", "3", "--out", commitments],
            ["shards", "verify", SMALL.folder, "--commitments", commitments, "--json"],
            ["shards", "verify", SET.folder, "--commitments", broken],
        ]
    )
    (c1, o1, e1), (c2, o2, e2), (c3, o3, e3), (c4, o4, e4), (c5, o5, e5), (c6, o6, e6) = results
    assert c1 == 0, e1
    assert json.loads(o1) == {
        "consistent": True,
        "bad_ids": [],
        "threshold": 3,
        "ids": [2, 4],
        "fingerprint": json.loads(out)["fingerprint"],
    }
    assert c2 == 0, e2
    assert e2 == ""  # checked against the commitments: no "exactly threshold" warning
    assert json.loads(o2)["fingerprint"] == json.loads(out)["fingerprint"]
    assert_clean_error(c3, o3, e3, 3)
    assert "--threshold 2 disagrees" in e3
    assert_clean_error(c4, o4, e4, 3)
    assert "already exists" in e4
    assert_clean_error(c5, o5, e5, 1)
    assert json.loads(o5)["bad_ids"] == [1, 2, 3]
    assert_clean_error(c6, o6, e6, 3)
    assert e6.startswith(f"custody: error: {broken} must hold exactly one commitment")
    assert_no_secret([*ALL_SECRETS, SMALL.root_key_hex], o1, e1, o2, e2, o3, e3, o5, e5)


def test_exactly_threshold_shards_without_commitments_warn(custody: RunCustody) -> None:
    code, _, err = custody(
        "shards", "combine", SET.file(1), SET.file(2), SET.file(3), "--threshold", "3"
    )
    assert code == 0
    assert err.startswith("custody: warning: exactly threshold shards")
    assert "--commitments" in err


def test_usage_errors_exit_2() -> None:
    usage_errors: list[list[str | Path]] = [
        [],
        ["shards"],
        ["shards", "frobnicate"],
        ["shards", "combine", "x"],  # --threshold missing
        ["shards", "combine", "x", "--threshold", "three"],
        ["shards", "verify", "x"],  # neither --threshold nor --commitments
        ["shards", "split", "--threshold", "2", "--out", "o"],  # --shares missing
        ["shards", "inspect"],
        ["spike", "check-db", "x", "--threshold", "2"],  # --db missing
    ]
    for args, (code, out, err) in zip(usage_errors, run_custody_many(usage_errors), strict=True):
        assert code == 2, args
        assert out == ""
        assert "usage: custody" in err
        assert "error: " in err
        assert "Traceback" not in err


def test_a_threshold_outside_2_to_1000_is_bad_input() -> None:
    thresholds = ["1", "0", "-3", "1001"]
    results = run_custody_many(
        [["shards", "verify", SET.folder, "--threshold", t] for t in thresholds]
    )
    for threshold, (code, out, err) in zip(thresholds, results, strict=True):
        assert_clean_error(code, out, err, 3)
        assert f"threshold {threshold} is outside 2..1000" in err


# --- files that are not shard files (C07, C08, C10, C13) ---


def test_files_that_must_be_refused(tmp_path: Path) -> None:
    link = tmp_path / "link" / "spike.recovery.1.txt"
    link.parent.mkdir()
    link.symlink_to(SET.file(1))
    to_zero = tmp_path / "zero" / "spike.recovery.1.txt"
    to_zero.parent.mkdir()
    to_zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo" / "spike.recovery.1.txt"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    folder = copy_set(SET, tmp_path / "folder", [2, 3])
    (folder / "spike.recovery.1.txt").symlink_to(SET.file(1))
    linked_folder = tmp_path / "linked-folder"
    linked_folder.symlink_to(SET.folder)
    sparse = tmp_path / "sparse" / "spike.recovery.1.txt"
    sparse.parent.mkdir()
    with sparse.open("wb") as handle:
        handle.truncate(2 * 1024**3)
    cases = [
        (link, "a symbolic link"),
        (to_zero, "a symbolic link"),
        (fifo, "not a regular file"),
        (folder, "a symbolic link"),
        (linked_folder, "a symbolic link"),
        (sparse, "2147483648 bytes"),
    ]
    results = run_custody_many(
        [
            [
                "shards",
                "combine",
                path,
                SET.file(2),
                SET.file(3),
                "--threshold",
                "3",
                "--reveal-key",
            ]
            for path, _ in cases
        ],
        timeout=10,  # a FIFO opened without O_NONBLOCK would hang here
    )
    for (path, words), (code, out, err) in zip(cases, results, strict=True):
        assert_clean_error(code, out, err, 3)
        assert out == ""
        assert str(path) in err
        assert words in err, err
        assert_no_secret(ALL_SECRETS, out, err)


# --- split ---


def test_split_from_a_key_file_then_combine(tmp_path: Path) -> None:
    # The edge keys: a leading zero byte (B15) and the largest valid key, N-1.
    vectors = vector_sets("main-t3-n5-leading-zero-byte") + vector_sets("main-t3-n5-n-minus-1")
    folders = [tmp_path / v.name for v in vectors]
    splits = run_custody_many(
        [
            [
                "shards",
                "split",
                "--threshold",
                "3",
                "--shares",
                "5",
                "--out",
                folder,
                "--key-file",
                vector.folder / "root_key.hex",
                "--json",
            ]
            for vector, folder in zip(vectors, folders, strict=True)
        ]
    )
    combines = run_custody_many(
        [
            [
                "shards",
                "combine",
                *(folder / f"spike.recovery.{i}.txt" for i in (5, 1, 3)),
                "--threshold",
                "3",
                "--reveal-key",
                "--json",
            ]
            for folder in folders
        ]
    )
    for vector, folder, split, combined in zip(vectors, folders, splits, combines, strict=True):
        code, out, err = split
        assert code == 0, err
        document = json.loads(out)
        assert set(document) == {"files", "fingerprint", "threshold", "shares"}
        files = sorted(folder.iterdir())
        assert [f.name for f in files] == [f"spike.recovery.{i}.txt" for i in range(1, 6)]
        assert document["files"] == [str(f) for f in files]
        for i, path in enumerate(files, start=1):
            data = path.read_bytes()
            assert re.fullmatch(rb"spike:%d:[0-9a-f]{64}" % i, data)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert_no_secret(vector.root_key_hex, out, err)
        code, out, err = combined
        assert code == 0, err
        assert json.loads(out)["root_key"] == vector.root_key_hex
        assert len(json.loads(out)["root_key"]) == 64
        assert json.loads(out)["fingerprint"] == document["fingerprint"]


def test_split_refusals(tmp_path: Path) -> None:
    bad_key = tmp_path / "bad.hex"
    bad_key.write_text(SET.root_key_hex.upper())
    zero_key = tmp_path / "zero.hex"
    zero_key.write_text("0" * 64)
    taken = copy_set(SET, tmp_path / "taken", [3])
    results = run_custody_many(
        [
            [
                "shards",
                "split",
                "--threshold",
                "2",
                "--shares",
                "3",
                "--out",
                tmp_path / "a",
                "--key-file",
                bad_key,
            ],
            [
                "shards",
                "split",
                "--threshold",
                "2",
                "--shares",
                "3",
                "--out",
                tmp_path / "b",
                "--key-file",
                zero_key,
            ],
            ["shards", "split", "--threshold", "2", "--shares", "3", "--out", taken],
            ["shards", "split", "--threshold", "4", "--shares", "3", "--out", tmp_path / "c"],
            ["shards", "split", "--threshold", "2", "--shares", "1001", "--out", tmp_path / "d"],
            [
                "shards",
                "split",
                "--threshold",
                "2",
                "--shares",
                "3",
                "--out",
                tmp_path / "e",
                "--key-file",
                tmp_path / "missing.hex",
            ],
        ]
    )
    for code, out, err in results:
        assert_clean_error(code, out, err, 3)
        assert_no_secret(SET.root_key_hex, out, err)
    assert sorted(p.name for p in taken.iterdir()) == ["spike.recovery.3.txt"]
    assert not any(
        (tmp_path / name).exists() and any((tmp_path / name).iterdir()) for name in "abcde"
    )


def test_split_makes_a_fresh_key_each_time(tmp_path: Path) -> None:
    results = run_custody_many(
        [
            [
                "shards",
                "split",
                "--threshold",
                "2",
                "--shares",
                "2",
                "--out",
                tmp_path / d,
                "--json",
            ]
            for d in ("one", "two")
        ]
    )
    fingerprints = {json.loads(out)["fingerprint"] for _, out, _ in results}
    assert len(fingerprints) == 2
