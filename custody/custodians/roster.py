"""The roster: the custodians enrolled in an appliance home, folded from its signed log.

This module owns what a custodian is to the appliance: a `Custodian` made only from the log's
`custodian.*` entries (enrol, challenge issued and answered, override, retire), the rules for
custodian names, selection (a name on the command line resolves to exactly one active
custodian, and from then on only the full fingerprint is used and logged: D01), and the
predicate the ceremonies call before a shard is assigned (`is_assignable`,
`verify_assignable`). The log is the only source of truth, so the roster cannot be edited
behind its back; custody's keyring merely holds the enrolled public keys. Nothing here writes
or runs anything: `enrolment` appends the entries this module reads.

It refuses names that are empty, over 64 characters, not printable, padded with spaces,
shaped like a fingerprint, or taken (ignoring case and Unicode form) by an active custodian;
and a log whose custodian entries contradict each other (`roster-inconsistent`), since a
roster it cannot explain is not one to assign shards from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal, Protocol

from custody.custodians.certificate import Fingerprint, display_user_id, parse_fingerprint
from custody.errors import BadInputError, StateError, VerificationError

ENROL: Final = "custodian.enrol"
ENROL_REFUSED: Final = "custodian.enrol_refused"
CHALLENGE_ISSUED: Final = "custodian.challenge_issued"
CHALLENGE: Final = "custodian.challenge"
OVERRIDE: Final = "custodian.override"
RETIRE: Final = "custodian.retire"
_EVENTS: Final = frozenset({ENROL, ENROL_REFUSED, CHALLENGE_ISSUED, CHALLENGE, OVERRIDE, RETIRE})
MAX_NAME_CHARACTERS: Final = 64
MAX_REASON_CHARACTERS: Final = 1024
_FINGERPRINT_SHAPE: Final = re.compile(r"[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}")
_FULL_FINGERPRINT: Final = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")

Decision = Literal["passed", "failed", "overridden"]


class LogEntry(Protocol):
    """What the roster reads of a log entry (custody.log's `Entry` has these and more)."""

    @property
    def seq(self) -> int: ...

    @property
    def time(self) -> str: ...

    @property
    def event(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, object]: ...


@dataclass(frozen=True, slots=True)
class PendingChallenge:
    """A challenge sent and not yet answered: only digests were logged, never the answer."""

    seq: int
    answer_digest: bytes
    message_digest: bytes


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a custodian's history, as `custody custodian show` prints it."""

    seq: int
    time: str
    event: str
    detail: str


@dataclass(frozen=True, slots=True)
class Custodian:
    """One enrolled custodian as the log tells it. `decision` is the latest challenge result
    or override; `pending` the newest challenge still waiting for its answer."""

    name: str
    fingerprint: Fingerprint
    encryption_subkey: Fingerprint
    algorithm: str
    encryption_algorithm: str
    created: str
    expires: str | None
    horizon_days: int
    history: tuple[Event, ...]
    decision: Decision | None = None
    pending: PendingChallenge | None = None
    retired: bool = False

    @property
    def shown_name(self) -> str:
        return display_user_id(self.name)

    @property
    def assignable(self) -> bool:
        return not self.retired and self.decision in ("passed", "overridden")

    @property
    def status(self) -> str:
        if self.retired:
            return "retired"
        state = {
            None: "not challenged",
            "passed": "challenge passed",
            "failed": "challenge failed",
            "overridden": "overridden",
        }[self.decision]
        return f"{state}, challenge pending" if self.pending else state


@dataclass(frozen=True, slots=True)
class Roster:
    """Every custodian ever enrolled, in enrolment order; retired ones stay, marked."""

    custodians: tuple[Custodian, ...] = ()

    @property
    def active(self) -> tuple[Custodian, ...]:
        return tuple(c for c in self.custodians if not c.retired)

    def find(self, fingerprint: str) -> Custodian | None:
        return next((c for c in self.custodians if c.fingerprint == fingerprint), None)

    def select(self, text: str, *, retired: bool = False) -> Custodian:
        """The custodian `text` names: a full fingerprint, or the name of one active custodian
        (with `retired`, of exactly one retired custodian when no active one has it)."""
        if _FINGERPRINT_SHAPE.fullmatch(text):
            return self._by_fingerprint(parse_fingerprint(text), retired=retired)
        named = [c for c in self.active if c.name == text]
        if not named and retired:
            named = [c for c in self.custodians if c.name == text]
        if len(named) == 1:
            return named[0]
        if named:
            listed = ", ".join(c.fingerprint for c in named)
            raise BadInputError(
                f"Several retired custodians were named {display_user_id(text)}: {listed}.",
                kind="custodian-ambiguous",
                hint="name the custodian by full fingerprint",
            )
        raise BadInputError(
            f"No active custodian is named {display_user_id(text)}.",
            kind="custodian-unknown",
            hint="see the names and fingerprints with: custody custodian list",
        )

    def _by_fingerprint(self, fingerprint: Fingerprint, *, retired: bool) -> Custodian:
        found = self.find(fingerprint)
        if found is None:
            raise BadInputError(
                f"No custodian with the key {fingerprint} is enrolled.",
                kind="custodian-unknown",
                hint="see the enrolled custodians with: custody custodian list",
            )
        if found.retired and not retired:
            raise BadInputError(
                f"Custodian {found.shown_name} ({fingerprint}) is retired.",
                kind="custodian-retired",
                hint="a retired custodian takes part in nothing; enrol a new key instead",
            )
        return found

    def check_new(self, name: str, fingerprint: Fingerprint) -> None:
        """Refuse a key enrolled before (active or retired) and a name an active custodian has."""
        known = self.find(fingerprint)
        if known is not None:
            state = "was retired" if known.retired else "is enrolled"
            raise BadInputError(
                f"The key {fingerprint} {state} already, as custodian {known.shown_name}.",
                kind="custodian-exists",
                hint="each key is enrolled once; a retired custodian enrols a new key",
            )
        taken = [c for c in self.active if _fold(c.name) == _fold(name)]
        if taken:
            raise BadInputError(
                f"The name {display_user_id(name)} is in use by custodian "
                f"{taken[0].shown_name} ({taken[0].fingerprint}).",
                kind="custodian-name-in-use",
                hint="choose a name that tells the custodians apart",
            )


def _fold(name: str) -> str:
    """Names that differ only in case or Unicode form are one name to people reading them."""
    return unicodedata.normalize("NFKC", name).casefold()


def parse_custodian_name(text: str) -> str:
    """A custodian's name: 1-64 printable characters, not padded, not fingerprint-shaped."""
    problem = None
    if not 1 <= len(text) <= MAX_NAME_CHARACTERS:
        problem = f"must be 1 to {MAX_NAME_CHARACTERS} characters"
    elif not text.isprintable():
        problem = "must be printable: no control, format or undecodable characters"
    elif text != text.strip():
        problem = "must not start or end with spaces"
    elif _FINGERPRINT_SHAPE.fullmatch(text):
        problem = "must not look like a fingerprint, which selects a custodian by key"
    if problem:
        raise BadInputError(
            f"The custodian name '{display_user_id(text)}' is refused: it {problem}.",
            kind="bad-custodian-name",
            hint="use the custodian's everyday name, such as 'Alice Example'",
        )
    return text


def parse_reason(text: str) -> str:
    """The reason for an override or a retirement: 1-1024 printable characters on one line."""
    if not 1 <= len(text.strip()) <= MAX_REASON_CHARACTERS or not text.isprintable():
        raise BadInputError(
            f"A reason is 1 to {MAX_REASON_CHARACTERS} printable characters on one line.",
            kind="bad-reason",
            hint="say why in one quoted argument, for the log's readers",
        )
    return text


def verify_assignable(roster: Roster, fingerprint: str) -> None:
    """Raise unless the custodian may be assigned a shard: enrolled, not retired, and either
    their latest challenge passed or an override was logged after it."""
    custodian = roster.find(fingerprint)
    if custodian is not None and custodian.assignable:
        return
    if custodian is None:
        reason = "is not enrolled"
    elif custodian.retired:
        reason = "is retired"
    elif custodian.decision == "failed":
        reason = "failed their latest challenge"
    else:
        reason = "has not passed a challenge, and no override was logged"
    raise VerificationError(
        f"Custodian {fingerprint} {reason}; a shard cannot be assigned to them.",
        kind="custodian-not-assignable",
        hint=f"custody custodian challenge {fingerprint} --out FILE, or, with a reason for the"
        f" log: custody custodian override {fingerprint} --reason TEXT",
    )


def is_assignable(roster: Roster, fingerprint: str) -> bool:
    custodian = roster.find(fingerprint)
    return custodian is not None and custodian.assignable


def load_roster(entries: Iterable[LogEntry]) -> Roster:
    """Fold the `custodian.*` entries of a log, in order, into the roster."""
    roster = Roster()
    for entry in entries:
        roster = fold_entry(roster, entry)
    return roster


def fold_entry(roster: Roster, entry: LogEntry) -> Roster:
    """The roster after one more entry; entries of other kinds leave it as it is."""
    if not entry.event.startswith("custodian."):
        return roster
    if entry.event not in _EVENTS:
        raise _inconsistent(entry, "is a custodian event this version of custody does not know")
    if entry.event == ENROL_REFUSED:  # recorded for the audit trail; nobody was enrolled
        return roster
    if entry.event == ENROL:
        return Roster((*roster.custodians, _enrolled(roster, entry)))
    custodian = roster.find(_fingerprint(entry, "fingerprint"))
    if custodian is None or custodian.retired:
        raise _inconsistent(entry, "names a custodian who is not enrolled, or is retired")
    if entry.event == CHALLENGE_ISSUED:
        changed, detail = _challenge_issued(custodian, entry)
    elif entry.event == CHALLENGE:
        changed, detail = _challenge_answered(custodian, entry)
    else:
        changed, detail = _overridden_or_retired(custodian, entry)
    event = Event(entry.seq, entry.time, entry.event, detail)
    changed = replace(changed, history=(*changed.history, event))
    return Roster(tuple(changed if c is custodian else c for c in roster.custodians))


def _enrolled(roster: Roster, entry: LogEntry) -> Custodian:
    fingerprint = _fingerprint(entry, "fingerprint")
    if roster.find(fingerprint) is not None:
        raise _inconsistent(entry, f"enrols the key {fingerprint} a second time")
    expires, horizon = entry.payload.get("expires"), entry.payload.get("expiry_horizon_days")
    if not (expires is None or isinstance(expires, str)) or type(horizon) is not int:
        raise _inconsistent(entry, "has a malformed expiry or horizon")
    return Custodian(
        name=_text(entry, "name"),
        fingerprint=fingerprint,
        encryption_subkey=_fingerprint(entry, "encryption_subkey"),
        algorithm=_text(entry, "algorithm"),
        encryption_algorithm=_text(entry, "encryption_algorithm"),
        created=_text(entry, "created"),
        expires=expires,
        horizon_days=horizon,
        history=(Event(entry.seq, entry.time, entry.event, "enrolled"),),
    )


def _challenge_issued(custodian: Custodian, entry: LogEntry) -> tuple[Custodian, str]:
    # A newer challenge replaces one still pending: only the latest can be answered.
    pending = PendingChallenge(entry.seq, _digest(entry, "answer"), _digest(entry, "message"))
    detail = f"challenge sent (message sha256:{pending.message_digest.hex()})"
    return replace(custodian, pending=pending), detail


def _challenge_answered(custodian: Custodian, entry: LogEntry) -> tuple[Custodian, str]:
    passed = entry.payload.get("passed")
    if custodian.pending is None or entry.payload.get("challenge") != custodian.pending.seq:
        raise _inconsistent(entry, "answers a challenge that is not the pending one")
    if not isinstance(passed, bool):
        raise _inconsistent(entry, "has no passed: true or false")
    decided = replace(custodian, decision="passed" if passed else "failed", pending=None)
    return decided, f"answer to entry {custodian.pending.seq}: {'passed' if passed else 'FAILED'}"


def _overridden_or_retired(custodian: Custodian, entry: LogEntry) -> tuple[Custodian, str]:
    reason = f"reason: {display_user_id(_text(entry, 'reason'))}"
    if entry.event == RETIRE:  # the last decision stays in the history, but counts no more
        return replace(custodian, retired=True, pending=None), reason
    return replace(custodian, decision="overridden"), reason


def _text(entry: LogEntry, key: str) -> str:
    value = entry.payload.get(key)
    if not isinstance(value, str) or not value:
        raise _inconsistent(entry, f"has no {key}")
    return value


def _fingerprint(entry: LogEntry, key: str) -> Fingerprint:
    value = _text(entry, key)
    if not _FULL_FINGERPRINT.fullmatch(value):
        raise _inconsistent(entry, f"has a malformed {key}")
    return Fingerprint(value)


def _digest(entry: LogEntry, name: str) -> bytes:
    value = _text(entry, f"{name}_sha256")
    if not _SHA256_HEX.fullmatch(value):
        raise _inconsistent(entry, f"has a malformed {name}_sha256")
    return bytes.fromhex(value)


def _inconsistent(entry: LogEntry, why: str) -> StateError:
    return StateError(
        f"Entry {entry.seq} of the log ({entry.event}) {why}: the roster cannot be trusted.",
        kind="roster-inconsistent",
        hint="run custody log verify, and compare the log with its last export",
    )
