"""`custody custodian …` through the installed command, with real GnuPG keys.

Each custodian's secret key lives in its own GnuPG home standing in for their smartcard; the
custodian's side is plain `gpg --decrypt`, no custody code. Homes are short /tmp paths
(gpg-agent's socket) and every agent is stopped at the end.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.appliance import init_home, load_appliance
from custody.custodians import DEFAULT_EXPIRY_HORIZON
from custody.custodians.enrolment import enrol, open_custody_gpg
from custody.custodians.roster import Roster, is_assignable, load_roster
from tests.cli.harness import Run, _compiled_once, custody_env  # noqa: F401 (fixture)
from tests.custodians import gpgkeys
from tests.custodians.gpgkeys import CardKey

CUSTODY = Path(sys.executable).parent / "custody"


def custody(*args: str | Path, stdin: bytes | None = None) -> Run:
    result = subprocess.run(
        [str(CUSTODY), *map(str, args)],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
        timeout=60,
        env=custody_env(),
    )
    return Run(result.returncode, result.stdout.decode(), result.stderr.decode())


def ok(*args: str | Path, stdin: bytes | None = None) -> str:
    run = custody(*args, stdin=stdin)
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    return run.out


def plain_gpg_decrypt(key: CardKey, data: bytes) -> bytes:
    """The custodian's side: their own gpg, their own home, no options, no custody code."""
    env = {"PATH": os.environ["PATH"], "GNUPGHOME": str(key.home)}
    result = subprocess.run(
        ["gpg", "--batch", "--decrypt"], input=data, capture_output=True, env=env, check=False
    )
    gpgkeys.kill_agents(key.home)
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass(frozen=True)
class World:
    root: Path
    keys: dict[str, CardKey]
    files: dict[str, Path]

    def key(self, name: str) -> CardKey:
        return self.keys[name]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = gpgkeys.make_root()
    g = gpgkeys.generate
    sub_expired = g(
        root, "Old Sub <oldsub@example.org>", usage="cert,sign", expire="0", years_ago=3
    )
    keys = {
        "alice": g(root, "Alice <alice@example.org>"),
        "lookalike": g(root, "Alice <alice@example.org>"),
        "bob": g(root, "Bob <bob@example.org>"),
        "expired": g(root, "Expired <expired@example.org>", expire="1y", years_ago=3),
        "revoked": gpgkeys.revoke(g(root, "Revoked <revoked@example.org>")),
        "sign_only": g(root, "Signer <signer@example.org>", algo="ed25519", usage="sign"),
        "subkey_expired": gpgkeys.add_subkey(sub_expired, "cv25519", "encr", "1y", years_ago=3),
        "control_uid": g(root, "Eve\x1b[31m\u202e <eve@example.org>"),
        "soon": g(root, "Soon <soon@example.org>", expire="1y"),
        "rsa2048": gpgkeys.vector_key(root, "rsa2048"),
    }
    alice = keys["alice"]
    secret = gpgkeys.run(alice.home, "--armor", "--export-secret-keys", alice.fingerprint).stdout
    contents = {name: key.public for name, key in keys.items()}
    contents |= {
        "secret": secret,
        "several": alice.public + keys["bob"].public,
        "same_uid": alice.public + keys["lookalike"].public,
    }
    folder = root / "keys"
    folder.mkdir()
    for name, data in contents.items():
        (folder / f"{name}.asc").write_bytes(data)
    gpgkeys.kill_agents(root)
    yield World(root, keys, {name: folder / f"{name}.asc" for name in contents})
    assert gpgkeys.cleanup(root) == []


def new_home() -> Path:
    """A fresh appliance home at a short path, made in-process (init is not under test here)."""
    return init_home(Path(tempfile.mkdtemp(prefix="ch", dir="/tmp")) / "h").home


@pytest.fixture
def home() -> Iterator[Path]:
    path = new_home()
    yield path
    assert gpgkeys.cleanup(path.parent) == []


def enrol_in_process(home: Path, name: str, key: CardKey) -> None:
    """Setup through the library, where the enrol command itself is not under test."""
    appliance = load_appliance(home)
    with appliance.open_log() as log, open_custody_gpg(home) as gpg:
        enrol(
            log,
            gpg,
            load_roster(log.entries()),
            name=name,
            key_bytes=key.public,
            key_sha256="00" * 32,
            fingerprint=key.fingerprint,
            horizon=DEFAULT_EXPIRY_HORIZON,
        )


def roster_of(home: Path) -> Roster:
    with load_appliance(home).read_log() as reader:
        reader.verify()
        return load_roster(reader.entries())


def keyring(home: Path) -> list[str]:
    out = gpgkeys.run(home / "gnupg", "--with-colons", "--fingerprint", "-k").stdout.decode()
    return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]


def log_text(home: Path) -> str:
    with load_appliance(home).read_log() as reader:
        return b"\n".join(record.line for record in reader.records()).decode()


def last_event(home: Path) -> tuple[str, dict[str, object]]:
    with load_appliance(home).read_log() as reader:
        entry = list(reader.entries())[-1]
    return entry.event, dict(entry.payload)


def test_enrol_list_show_transcript(world: World, home: Path) -> None:
    alice, bob = world.key("alice"), world.key("bob")
    out = ok(
        "custodian",
        "add",
        "Alice",
        "--key",
        world.files["alice"],
        "--fingerprint",
        alice.fingerprint,
        "--home",
        home,
    )
    lines = out.splitlines()
    assert lines[0] == "enrolled custodian Alice"
    assert lines[1] == f"fingerprint         {alice.fingerprint}"
    assert lines[2] == f"encryption subkey   {alice.subkey_fingerprints()[0]}"
    assert lines[3] == "algorithm           ed25519, encryption cv25519"
    assert lines[6:] == ["status              not challenged", "assignable          no"]
    added = json.loads(
        ok(
            "custodian",
            "add",
            "Bob",
            "--key",
            world.files["bob"],
            "--fingerprint",
            bob.fingerprint.lower(),
            "--json",
            "--home",
            home,
        )
    )
    assert added["fingerprint"] == bob.fingerprint and added["name"] == "Bob"
    assert (added["status"], added["assignable"], added["challenge_pending"]) == (
        "not challenged",
        False,
        False,
    )
    listing = ok("custodian", "list", "--home", home).splitlines()
    assert listing[0].split() == ["NAME", "FINGERPRINT", "ASSIGNABLE", "EXPIRES", "STATUS"]
    assert listing[1].split()[:3] == ["Alice", alice.fingerprint, "no"]
    assert listing[2].split()[:3] == ["Bob", bob.fingerprint, "no"]
    assert listing[1].endswith("  not challenged") and len(listing) == 3
    shown = ok("custodian", "show", "Alice", "--home", home)
    assert "user id             Alice <alice@example.org>\n" in shown
    assert "key check           ok\n" in shown and "custodian.enrol  enrolled" in shown
    document = json.loads(ok("custodian", "show", bob.fingerprint, "--json", "--home", home))
    assert document["user_ids"] == ["Bob <bob@example.org>"] and document["key_check"] == "ok"
    assert [h["event"] for h in document["history"]] == ["custodian.enrol"]
    # D02: only the pinned keys entered custody's keyring; the lookalike never did.
    assert set(keyring(home)) == {
        alice.fingerprint,
        bob.fingerprint,
        *alice.subkey_fingerprints(),
        *bob.subkey_fingerprints(),
    }
    assert world.key("lookalike").fingerprint not in keyring(home)
    assert ok("log", "verify", "--home", home).startswith("the log verifies")


@pytest.fixture(scope="module")
def enrolled(world: World) -> Iterator[Path]:
    """One home with Bob enrolled, shared by the refusals (which must change nothing)."""
    path = new_home()
    enrol_in_process(path, "Bob", world.key("bob"))
    yield path
    assert gpgkeys.cleanup(path.parent) == []


HARD_CASES: list[tuple[str, str, str, str]] = [
    # (key file, whose fingerprint is typed, kind logged, words of the reason)
    ("expired", "expired", "key-expired", "it has expired"),
    ("revoked", "revoked", "key-revoked", "it has been revoked"),
    ("sign_only", "sign_only", "no-encryption-subkey", "no valid encryption subkey"),
    ("subkey_expired", "subkey_expired", "no-encryption-subkey", "no valid encryption subkey"),
    ("rsa2048", "rsa2048", "algorithm-policy", "it uses RSA-2048"),
    ("several", "alice", "several-certificates", "several armor blocks"),
    ("secret", "alice", "secret-key", "PRIVATE KEY BLOCK"),
    ("same_uid", "alice", "several-certificates", "several armor blocks"),
    ("control_uid", "control_uid", "user-id-policy", "\\x1b[31m\\u202e <eve@example.org>"),
    ("lookalike", "alice", "fingerprint-mismatch", "the file holds key"),  # D04
]


@pytest.mark.parametrize("case", HARD_CASES, ids=[c[0] for c in HARD_CASES])
def test_hard_case_keys_are_refused_and_nothing_enters(
    world: World, enrolled: Path, case: tuple[str, str, str, str]
) -> None:
    file, typed, kind, reason = case
    before = (roster_of(enrolled), keyring(enrolled))
    fingerprint = world.key(typed).fingerprint
    run = custody(
        "custodian",
        "add",
        "Eve",
        "--key",
        world.files[file],
        "--fingerprint",
        fingerprint,
        "--home",
        enrolled,
    )
    assert (run.code, run.out) == (3, "")
    assert run.err.startswith(f"custody: error: Custodian key {fingerprint} is refused: ")
    assert reason in run.err and "custody: hint: " in run.err
    assert "Traceback" not in run.err and "\x1b" not in run.err and "\u202e" not in run.err
    assert (roster_of(enrolled), keyring(enrolled)) == before
    event, payload = last_event(enrolled)
    assert (event, payload["kind"], payload["fingerprint"]) == (
        "custodian.enrol_refused",
        kind,
        fingerprint,
    )


D01: list[Callable[[str], str]] = [
    lambda f: "Alice",
    lambda f: "alice@example.org",
    lambda f: f[-8:],  # short key id
    lambda f: f[-16:],  # long key id
    lambda f: " ".join(f[i : i + 4] for i in range(0, 40, 4)),  # as gpg prints it
]


@pytest.mark.parametrize("typed", D01, ids=["name", "email", "short", "long", "spaced"])
def test_only_a_full_fingerprint_names_the_key_d01(
    world: World, enrolled: Path, typed: Callable[[str], str]
) -> None:
    before = roster_of(enrolled)
    text = typed(world.key("alice").fingerprint)
    run = custody(
        "custodian",
        "add",
        "Alice",
        "--key",
        world.files["alice"],
        "--fingerprint",
        text,
        "--home",
        enrolled,
    )
    assert (run.code, run.out) == (3, "")
    assert "must be named by its full fingerprint" in run.err and "Traceback" not in run.err
    assert roster_of(enrolled) == before
    event, payload = last_event(enrolled)
    assert (event, payload["kind"], payload["fingerprint"]) == (
        "custodian.enrol_refused",
        "not-a-fingerprint",
        None,
    )


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Eve\x1b[31m", "must be printable"),
        ("B" * 40, "look like a fingerprint"),
        ("bob", "in use by custodian Bob"),
    ],
)
def test_bad_or_taken_names_are_refused(
    world: World, enrolled: Path, name: str, words: str
) -> None:
    run = custody(
        "custodian",
        "add",
        name,
        "--key",
        world.files["alice"],
        "--fingerprint",
        world.key("alice").fingerprint,
        "--home",
        enrolled,
    )
    assert run.code == 3 and words in run.err and "\x1b" not in run.err


def test_enrolling_a_key_twice_is_refused(world: World, enrolled: Path) -> None:
    run = custody(
        "custodian",
        "add",
        "Robert",
        "--key",
        world.files["bob"],
        "--fingerprint",
        world.key("bob").fingerprint,
        "--home",
        enrolled,
    )
    assert run.code == 3 and "is enrolled already, as custodian Bob" in run.err


def test_the_expiry_horizon_option(world: World, home: Path) -> None:
    soon = world.key("soon")
    add = (
        "custodian",
        "add",
        "Soon",
        "--key",
        world.files["soon"],
        "--fingerprint",
        soon.fingerprint,
    )
    refused = custody(*add, "--home", home)
    assert refused.code == 3 and "within 730 days" in refused.err
    assert custody(*add, "--expiry-horizon", "0", "--home", home).code == 2
    ok(*add, "--expiry-horizon", "100", "--home", home)
    assert roster_of(home).select("Soon").horizon_days == 100


def test_a_challenge_across_two_invocations(world: World, home: Path) -> None:
    alice = world.key("alice")
    enrol_in_process(home, "Alice", alice)
    challenge = home.parent / "challenge.asc"
    out = ok("custodian", "challenge", "Alice", "--out", challenge, "--home", home)
    assert out == f"wrote the challenge for Alice to {challenge}\n"
    assert challenge.read_bytes().startswith(b"-----BEGIN PGP MESSAGE-----\n")
    assert roster_of(home).select("Alice").status == "not challenged, challenge pending"
    answer = home.parent / "answer.txt"
    answer.write_bytes(plain_gpg_decrypt(alice, challenge.read_bytes()))
    assert answer.read_text().startswith(
        f"custody challenge\ncustodian: {alice.fingerprint}\nanswer: "
    )
    passed = ok(
        "custodian", "challenge", alice.fingerprint, "--answer-from", answer, "--home", home
    )
    assert passed.startswith("custodian Alice passed the challenge (entry ")
    assert is_assignable(roster_of(home), alice.fingerprint)
    code = answer.read_text().split("answer: ")[1].strip()
    assert code not in log_text(home) and code.replace("-", "") not in log_text(home)
    assert (
        custody("custodian", "challenge", "Alice", "--answer-from", answer, "--home", home).code
        == 3
    )  # used up
    assert (
        custody("custodian", "challenge", "Alice", "--out", challenge, "--home", home).code == 3
    )  # exists


def test_a_challenge_through_stdout_and_stdin(world: World, home: Path) -> None:
    bob = world.key("bob")
    enrol_in_process(home, "Bob", bob)
    message = ok("custodian", "challenge", "Bob", "--home", home)
    assert message.startswith("-----BEGIN PGP MESSAGE-----\n") and message.endswith(
        "-----END PGP MESSAGE-----\n"
    )
    decrypted = plain_gpg_decrypt(bob, message.encode())
    result = json.loads(
        ok(
            "custodian",
            "challenge",
            "Bob",
            "--answer-from",
            "-",
            "--json",
            "--home",
            home,
            stdin=decrypted,
        )
    )
    assert (result["fingerprint"], result["passed"]) == (bob.fingerprint, True)


def test_a_challenge_answered_at_the_terminal_prompt(world: World, home: Path) -> None:
    """With a terminal on stdin, the operator types the code the custodian reads out."""
    alice = world.key("alice")
    enrol_in_process(home, "Alice", alice)
    challenge = home.parent / "challenge.asc"
    terminal, other_end = pty.openpty()
    command = [str(w) for w in (CUSTODY, "custodian", "challenge", "Alice", "--out", challenge)]
    pipe = subprocess.PIPE
    with subprocess.Popen(
        [*command, "--home", str(home)],
        stdin=other_end,
        stdout=pipe,
        stderr=pipe,
        env=custody_env(),
    ) as process:
        os.close(other_end)
        deadline = time.monotonic() + 30
        while not challenge.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        code = plain_gpg_decrypt(alice, challenge.read_bytes()).decode().split("answer: ")[1]
        os.write(terminal, code.encode())
        out, err = process.communicate(timeout=60)
    os.close(terminal)
    assert process.returncode == 0, err
    assert b"type the answer Alice read from the decrypted challenge" in err
    assert out.decode().splitlines()[-1].startswith("custodian Alice passed the challenge")


def test_a_wrong_answer_fails_and_is_logged(world: World, home: Path) -> None:
    alice = world.key("alice")
    enrol_in_process(home, "Alice", alice)
    ok("custodian", "challenge", "Alice", "--out", home.parent / "c1.asc", "--home", home)
    wrong = home.parent / "wrong.txt"
    wrong.write_text("aaaa-bbbb-cccc-dddd-eeee-ffff-gg\n")
    run = custody("custodian", "challenge", "Alice", "--answer-from", wrong, "--home", home)
    assert (run.code, run.out) == (
        1,
        "",
    ) and "failed the challenge: the answer does not match" in run.err
    assert last_event(home) == (
        "custodian.challenge",
        {
            "fingerprint": alice.fingerprint,
            "passed": False,
            "challenge": roster_of(home).select("Alice").history[1].seq,
        },
    )
    assert roster_of(home).select("Alice").status == "challenge failed"
    again = custody("custodian", "challenge", "Alice", "--answer-from", wrong, "--home", home)
    assert again.code == 3 and "is waiting for an answer" in again.err
    # A mistake that is not an answer at all leaves a new challenge waiting.
    ok("custodian", "challenge", "Alice", "--out", home.parent / "c2.asc", "--home", home)
    empty = home.parent / "empty.txt"
    empty.write_bytes(b"\n")
    assert (
        custody("custodian", "challenge", "Alice", "--answer-from", empty, "--home", home).code == 3
    )
    assert roster_of(home).select("Alice").status == "challenge failed, challenge pending"


def test_an_unchallenged_custodian_needs_the_logged_override(world: World, home: Path) -> None:
    bob = world.key("bob")
    enrol_in_process(home, "Bob", bob)
    assert not is_assignable(roster_of(home), bob.fingerprint)
    bad = custody("custodian", "override", "Bob", "--reason", "two\nlines", "--home", home)
    assert bad.code == 3 and "printable characters on one line" in bad.err
    out = ok(
        "custodian",
        "override",
        "Bob",
        "--reason",
        "card reader broken; witnessed by Carol",
        "--home",
        home,
    )
    shown = f"Bob ({bob.fingerprint})"
    assert out == f"recorded an override for custodian {shown}, entry 3; status: overridden\n"
    assert is_assignable(roster_of(home), bob.fingerprint)
    assert last_event(home) == (
        "custodian.override",
        {"fingerprint": bob.fingerprint, "reason": "card reader broken; witnessed by Carol"},
    )
    assert custody("custodian", "override", "Bob", "--reason", "again", "--home", home).code == 3


def test_retire_keeps_the_history(world: World, home: Path) -> None:
    alice = world.key("alice")
    enrol_in_process(home, "Alice", alice)
    retired = json.loads(
        ok("custodian", "retire", "Alice", "--reason", "left the company", "--json", "--home", home)
    )
    assert (retired["status"], retired["retired"], retired["assignable"]) == (
        "retired",
        True,
        False,
    )
    shown = ok("custodian", "show", "Alice", "--home", home)
    assert "custodian.retire  reason: left the company" in shown
    by_name = custody("custodian", "challenge", "Alice", "--home", home)
    assert by_name.code == 3 and "No active custodian is named Alice" in by_name.err
    by_key = custody("custodian", "challenge", alice.fingerprint, "--home", home)
    assert by_key.code == 3 and "is retired" in by_key.err
    again = custody(
        "custodian",
        "add",
        "Alice",
        "--key",
        world.files["alice"],
        "--fingerprint",
        alice.fingerprint,
        "--home",
        home,
    )
    assert again.code == 3 and "was retired already" in again.err
    lookalike = world.key("lookalike")
    ok(
        "custodian",
        "add",
        "Alice",
        "--key",
        world.files["lookalike"],
        "--fingerprint",
        lookalike.fingerprint,
        "--home",
        home,
    )
    assert [c.fingerprint for c in roster_of(home).custodians] == [
        alice.fingerprint,
        lookalike.fingerprint,
    ]


def test_an_unknown_custodian_or_home(world: World, home: Path) -> None:
    run = custody("custodian", "show", "Nobody", "--home", home)
    assert run.code == 3 and "No active custodian is named Nobody" in run.err
    missing = custody("custodian", "list", "--home", home.parent / "missing")
    assert missing.code == 4 and "no appliance home" in missing.err


def test_a_home_too_long_for_the_agent_socket_is_named(world: World) -> None:
    root = Path(tempfile.mkdtemp(prefix="ch", dir="/tmp"))
    try:
        long_home = init_home(root / ("h" * (71 - len(str(root)) - 1))).home
        assert len(str(long_home)) == 71
        run = custody(
            "custodian",
            "add",
            "Alice",
            "--key",
            world.files["alice"],
            "--fingerprint",
            world.key("alice").fingerprint,
            "--home",
            long_home,
        )
        assert run.code == 4 and "is too long for custody's GnuPG home inside it" in run.err
        assert "at most 70 bytes" in run.err and "Traceback" not in run.err
    finally:
        assert gpgkeys.cleanup(root) == []


def test_the_cli_default_horizon_is_the_library_default() -> None:
    from custody.cli.custodian import _DEFAULT_HORIZON_DAYS

    assert DEFAULT_EXPIRY_HORIZON.days == _DEFAULT_HORIZON_DAYS
