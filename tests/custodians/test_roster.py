"""The roster, folded from a real signed log, and the enrolment steps with real GnuPG."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from custody.appliance import init_home
from custody.custodians import DEFAULT_EXPIRY_HORIZON, Gpg, decrypt, open_gpg
from custody.custodians.enrolment import (
    MAX_HOME_BYTES,
    answer_challenge,
    enrol,
    gnupg_home,
    issue_challenge,
    open_custody_gpg,
    override,
    retire,
)
from custody.custodians.roster import (
    Custodian,
    Roster,
    is_assignable,
    load_roster,
    parse_custodian_name,
    parse_reason,
    verify_assignable,
)
from custody.errors import BadInputError, CustodianKeyError, StateError, VerificationError
from custody.log import CustodyLog
from tests.custodians import gpgkeys
from tests.custodians.conftest import Keys
from tests.custodians.gpgkeys import CardKey


@dataclass
class Home:
    """An appliance home, its log open for appending, custody's keyring open beside it."""

    path: Path
    log: CustodyLog
    gpg: Gpg

    def roster(self) -> Roster:
        self.log.verify()
        return load_roster(self.log.entries())

    def enrol(
        self,
        name: str,
        key: CardKey,
        *,
        horizon: timedelta = DEFAULT_EXPIRY_HORIZON,
        key_sha256: str = "00" * 32,
    ) -> Custodian:
        enrol(
            self.log,
            self.gpg,
            self.roster(),
            name=name,
            key_bytes=key.public,
            key_sha256=key_sha256,
            fingerprint=key.fingerprint,
            horizon=horizon,
        )
        return self.roster().select(key.fingerprint)

    def keyring(self) -> list[str]:
        out = gpgkeys.run(self.gpg.home, "--with-colons", "--fingerprint", "-k").stdout.decode()
        return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]

    def lines(self) -> bytes:
        return b"\n".join(record.line for record in self.log.records())


@pytest.fixture
def home() -> Iterator[Home]:
    root = Path(tempfile.mkdtemp(prefix="ch", dir="/tmp"))  # short: the agent socket
    appliance = init_home(root / "h")
    try:
        with appliance.open_log() as log, open_custody_gpg(appliance.home) as gpg:
            yield Home(appliance.home, log, gpg)
    finally:
        assert gpgkeys.cleanup(root) == []


def answer_of(key: CardKey, message: bytes) -> str:
    """What the custodian reads back: their own gpg decrypts the challenge (their 'card')."""
    with open_gpg(key.home) as theirs:
        return decrypt(theirs, message).decode("ascii")


def test_enrolment_is_one_log_entry_and_the_key_only(home: Home, keys: Keys) -> None:
    alice = home.enrol("Alice", keys.alice)
    assert (alice.name, alice.fingerprint, alice.algorithm) == (
        "Alice",
        keys.alice.fingerprint,
        "ed25519",
    )
    assert alice.status == "not challenged" and not alice.assignable
    assert alice.expires is not None and alice.horizon_days == DEFAULT_EXPIRY_HORIZON.days
    assert home.keyring() == [keys.alice.fingerprint, *keys.alice.subkey_fingerprints()]
    last = list(home.log.entries())[-1]
    assert last.event == "custodian.enrol"
    assert last.payload["encryption_subkey"] == alice.encryption_subkey


def test_a_challenge_passes_across_two_steps_and_logs_no_answer(home: Home, keys: Keys) -> None:
    alice = home.enrol("Alice", keys.alice)
    challenge, issued = issue_challenge(home.log, home.gpg, alice)
    assert home.roster().select("Alice").status == "not challenged, challenge pending"
    text = answer_of(keys.alice, challenge.message)
    code = text.split("answer: ")[1].strip()
    # The second step starts from the log alone, as a second invocation would.
    answer_challenge(home.log, home.roster().select(alice.fingerprint), text)
    alice = home.roster().select("Alice")
    assert alice.status == "challenge passed" and alice.assignable
    assert [e.event for e in alice.history][-2:] == [
        "custodian.challenge_issued",
        "custodian.challenge",
    ]
    assert code.encode() not in home.lines() and code.replace("-", "").encode() not in home.lines()
    assert issued.payload["answer_sha256"] == challenge.answer_digest.hex()


def test_the_code_alone_is_an_answer_too(home: Home, keys: Keys) -> None:
    alice = home.enrol("Alice", keys.alice)
    challenge, _ = issue_challenge(home.log, home.gpg, alice)
    code = answer_of(keys.alice, challenge.message).split("answer: ")[1]
    answer_challenge(home.log, home.roster().select("Alice"), f"  {code.upper()}  ")
    assert home.roster().select("Alice").assignable


@pytest.mark.parametrize(
    "wrong", ["not the code", "custody challenge\ncustodian: {other}\nanswer: {code}\n"]
)
def test_a_wrong_answer_is_logged_and_uses_the_challenge_up(
    home: Home, keys: Keys, wrong: str
) -> None:
    alice = home.enrol("Alice", keys.alice)
    challenge, _ = issue_challenge(home.log, home.gpg, alice)
    code = answer_of(keys.alice, challenge.message).split("answer: ")[1].strip()
    with pytest.raises(VerificationError) as failed:
        answer_challenge(
            home.log,
            home.roster().select("Alice"),
            wrong.format(other=keys.bob.fingerprint, code=code),
        )
    assert failed.value.kind == "challenge-failed"
    alice = home.roster().select("Alice")
    assert alice.status == "challenge failed" and alice.pending is None and not alice.assignable
    with pytest.raises(BadInputError) as again:
        answer_challenge(home.log, alice, code)
    assert again.value.kind == "no-pending-challenge"


def test_only_the_newest_challenge_can_be_answered(home: Home, keys: Keys) -> None:
    alice = home.enrol("Alice", keys.alice)
    first, _ = issue_challenge(home.log, home.gpg, alice)
    issue_challenge(home.log, home.gpg, home.roster().select("Alice"))
    with pytest.raises(VerificationError):
        answer_challenge(
            home.log, home.roster().select("Alice"), answer_of(keys.alice, first.message)
        )


def test_override_and_its_limits(home: Home, keys: Keys) -> None:
    bob = home.enrol("Bob", keys.bob)
    roster = home.roster()
    assert not is_assignable(roster, bob.fingerprint)
    with pytest.raises(VerificationError) as refused:
        verify_assignable(roster, bob.fingerprint)
    assert (
        refused.value.kind == "custodian-not-assignable" and "no override" in refused.value.message
    )
    override(home.log, bob, "Bob's card reader is broken; witnessed by Carol")
    roster = home.roster()
    assert is_assignable(roster, bob.fingerprint) and roster.select("Bob").status == "overridden"
    verify_assignable(roster, bob.fingerprint)
    with pytest.raises(BadInputError) as twice:
        override(home.log, roster.select("Bob"), "again")
    assert twice.value.kind == "nothing-to-override"
    # A later failed challenge wins over the earlier override: the latest decision counts.
    issue_challenge(home.log, home.gpg, roster.select("Bob"))
    with pytest.raises(VerificationError):
        answer_challenge(home.log, home.roster().select("Bob"), "wrong")
    assert not is_assignable(home.roster(), bob.fingerprint)


def test_retire_keeps_the_history_and_frees_the_name(home: Home, keys: Keys) -> None:
    alice = home.enrol("Alice", keys.alice)
    override(home.log, alice, "enrolled before challenges existed")
    retire(home.log, home.roster().select("Alice"), "left the company")
    roster = home.roster()
    retired = roster.select(alice.fingerprint, retired=True)
    assert retired.retired and retired.status == "retired" and not retired.assignable
    assert [e.event for e in retired.history] == [
        "custodian.enrol",
        "custodian.override",
        "custodian.retire",
    ]
    assert "left the company" in retired.history[-1].detail
    with pytest.raises(VerificationError, match="is retired"):
        verify_assignable(roster, alice.fingerprint)
    for text in ("Alice", alice.fingerprint):
        with pytest.raises(BadInputError):
            roster.select(text)
    with pytest.raises(BadInputError) as again:
        retire(home.log, retired, "twice")
    assert again.value.kind == "custodian-retired"
    with pytest.raises(BadInputError) as reenrol:
        home.enrol("Alice again", keys.alice)
    assert reenrol.value.kind == "custodian-exists"
    assert home.enrol("Alice", keys.lookalike).fingerprint == keys.lookalike.fingerprint
    assert len(home.roster().custodians) == 2


def test_a_name_selects_and_the_fingerprint_is_what_counts_d01(home: Home, keys: Keys) -> None:
    alice = home.enrol("Alice", keys.alice)
    roster = home.roster()
    assert roster.select("Alice") == roster.select(keys.alice.fingerprint.lower()) == alice
    for text in ("alice", "Alice <alice@example.org>", keys.alice.fingerprint[-16:]):
        with pytest.raises(BadInputError) as unknown:
            roster.select(text)
        assert unknown.value.kind == "custodian-unknown"
    with pytest.raises(BadInputError) as taken:
        home.enrol("ALICE", keys.bob)
    assert taken.value.kind == "custodian-name-in-use"


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "Eve\x1b[31m", "Mallory\u202e", " Alice", "Alice ", "Bad\udcff", "C" * 40],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(BadInputError) as refused:
        parse_custodian_name(name)
    assert refused.value.kind == "bad-custodian-name"


def test_good_names_and_reasons() -> None:
    for name in ("a", "Zoë Ånström", "O'Brien (ops)", "\\back", "x" * 64, "C" * 39):
        assert parse_custodian_name(name) == name
    assert parse_reason("card lost, see ticket 4471") == "card lost, see ticket 4471"
    for reason in ("", "   ", "two\nlines", "x" * 1025):
        with pytest.raises(BadInputError):
            parse_reason(reason)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("control_uid", "user-id-policy"),
        ("expired", "key-expired"),
        ("sign_only", "no-encryption-subkey"),
    ],
)
def test_a_refused_key_leaves_roster_and_keyring_unchanged(
    home: Home, keys: Keys, name: str, kind: str
) -> None:
    home.enrol("Alice", keys.alice)
    before = (home.roster(), home.keyring())
    key: CardKey = getattr(keys, name)
    with pytest.raises(CustodianKeyError) as refused:
        home.enrol("Eve", key, key_sha256="ab" * 32)
    assert refused.value.kind == kind
    assert (home.roster(), home.keyring()) == before
    last = list(home.log.entries())[-1]
    assert last.event == "custodian.enrol_refused"
    assert last.payload == {"fingerprint": key.fingerprint, "key_sha256": "ab" * 32, "kind": kind}


def test_a_control_character_user_id_is_shown_escaped_in_the_refusal(
    home: Home, keys: Keys
) -> None:
    with pytest.raises(CustodianKeyError) as refused:
        home.enrol("Eve", keys.control_uid)
    assert "\x1b" not in refused.value.message and "\u202e" not in refused.value.message
    assert "\\x1b[31m\\u202e" in refused.value.message


def test_the_horizon_is_kept_and_used_again(home: Home, keys: Keys) -> None:
    with pytest.raises(CustodianKeyError, match="within 730 days"):
        home.enrol("Soon", keys.soon)
    soon = home.enrol("Soon", keys.soon, horizon=timedelta(days=100))
    assert soon.horizon_days == 100
    issue_challenge(home.log, home.gpg, soon)  # re-checked with the custodian's own horizon


@dataclass(frozen=True)
class FakeEntry:
    seq: int
    event: str
    payload: Mapping[str, object]
    time: str = "2026-12-01T09:00:00Z"


FPR = "C32A9DBDCC64B2358B64DD85B429FB4677234301"
ENROLLED = FakeEntry(
    2,
    "custodian.enrol",
    {
        "name": "Alice",
        "fingerprint": FPR,
        "encryption_subkey": "0" * 40,
        "algorithm": "ed25519",
        "encryption_algorithm": "cv25519",
        "created": "2026-12-01T09:00:00Z",
        "expires": None,
        "expiry_horizon_days": 730,
    },
)


@pytest.mark.parametrize(
    "bad",
    [
        FakeEntry(3, "custodian.promote", {"fingerprint": FPR}),
        FakeEntry(3, "custodian.enrol", ENROLLED.payload),
        FakeEntry(3, "custodian.retire", {"fingerprint": "D" * 40, "reason": "x"}),
        FakeEntry(3, "custodian.challenge", {"fingerprint": FPR, "passed": True, "challenge": 2}),
        FakeEntry(3, "custodian.challenge_issued", {"fingerprint": FPR, "answer_sha256": "x"}),
        FakeEntry(3, "custodian.override", {"fingerprint": FPR.lower(), "reason": "x"}),
    ],
)
def test_a_log_the_roster_cannot_explain_is_refused(bad: FakeEntry) -> None:
    with pytest.raises(StateError) as refused:
        load_roster([ENROLLED, bad])
    assert refused.value.kind == "roster-inconsistent" and "Entry 3" in refused.value.message


def test_other_entries_and_refusals_leave_the_roster_alone() -> None:
    refused = FakeEntry(3, "custodian.enrol_refused", {"kind": "key-expired"})
    note = FakeEntry(4, "log.note", {"text": "hello"})
    assert load_roster([ENROLLED, refused, note]) == load_roster([ENROLLED])


def test_the_home_must_leave_room_for_the_agent_socket() -> None:
    root = Path(tempfile.mkdtemp(prefix="ch", dir="/tmp"))
    try:
        longest = root / ("h" * (MAX_HOME_BYTES - len(str(root)) - 1))
        longest.mkdir(mode=0o700)
        assert len(str(longest)) == MAX_HOME_BYTES
        with open_custody_gpg(longest) as gpg:  # gpg's own limit agrees
            assert gpg.home == longest / "gnupg"
        with pytest.raises(StateError) as refused:
            gnupg_home(Path(f"{longest}x"))
        assert refused.value.kind == "home-too-long" and "at most 70 bytes" in str(
            refused.value.hint
        )
    finally:
        assert gpgkeys.cleanup(root) == []
