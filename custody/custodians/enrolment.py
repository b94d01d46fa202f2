"""Enrolment and the other custodian steps on an appliance home, each recorded in its log.

This module owns where custody's own GnuPG home lives (`<home>/gnupg`, 0700, short enough for
gpg-agent's socket) and the steps that change the roster: enrol, send a challenge, take its
answer, override, retire. Each appends exactly one `custodian.*` entry, and only once its
checks passed; an enrolment appends only after the key is in custody's keyring, so the log
never names a key custody lacks (a key in the keyring that the log does not name is never
used: custodians are chosen from the roster). A refused enrolment is logged as
`custodian.enrol_refused` with the reason's kind and the file's digest, and changes nothing.

A challenge lasts between two invocations: the log keeps the SHA-256 of the expected answer
and of the message sent, never the answer, and only the newest challenge can be answered,
once. It refuses user ids that are not printable text, on top of `keyring`'s key policy:
they are only ever shown escaped, but a roster people compare aloud has no room for text
that hides itself (control characters, bidirectional overrides, broken UTF-8).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

from custody.custodians import openpgp
from custody.custodians.certificate import (
    CustodianKey,
    Fingerprint,
    display_user_id,
    parse_fingerprint,
    refusal,
)
from custody.custodians.gpg import Gpg, open_gpg
from custody.custodians.keyring import (
    Challenge,
    check_challenge_answer,
    import_custodian_key,
    load_custodian_key,
    make_challenge,
)
from custody.custodians.roster import (
    CHALLENGE,
    CHALLENGE_ISSUED,
    ENROL,
    ENROL_REFUSED,
    OVERRIDE,
    RETIRE,
    Custodian,
    LogEntry,
    PendingChallenge,
    Roster,
    parse_custodian_name,
    parse_reason,
)
from custody.errors import (
    BadInputError,
    CustodianKeyError,
    StateError,
    VerificationError,
)

GNUPG_DIR: Final = "gnupg"
# gpg.prepare_home takes GnuPG homes of at most 76 bytes (the 107-byte socket path, less room
# for a scratch home inside and the longest socket name); "/gnupg" takes 6 of them.
MAX_HOME_BYTES: Final = 70
MAX_ANSWER_BYTES: Final = 4096
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


class LogAppender(Protocol):
    """The log as these steps write it (custody.log's `CustodyLog`)."""

    def append(
        self, event: str, payload: Mapping[str, object], *, ceremony_id: str | None = None
    ) -> LogEntry: ...


def gnupg_home(home: Path) -> Path:
    """custody's GnuPG home inside the appliance home, refused if its socket could not fit."""
    home = home.absolute()
    if len(os.fsencode(home)) > MAX_HOME_BYTES:
        raise StateError(
            f"The appliance home {home} is too long for custody's GnuPG home inside it"
            f" ({home / GNUPG_DIR}): gpg-agent's socket path would pass the kernel's limit.",
            kind="home-too-long",
            hint=f"use an appliance home path of at most {MAX_HOME_BYTES} bytes,"
            " such as /var/lib/custody",
        )
    return home / GNUPG_DIR


@contextmanager
def open_custody_gpg(home: Path) -> Iterator[Gpg]:
    """custody's own keyring (public keys only); its agents stop when the block ends."""
    with open_gpg(gnupg_home(home)) as gpg:
        yield gpg


def enrol(
    log: LogAppender,
    gpg: Gpg,
    roster: Roster,
    *,
    name: str,
    key_bytes: bytes,
    key_sha256: str,
    fingerprint: str,
    horizon: timedelta,
    now: datetime | None = None,
) -> LogEntry:
    """Pin the key with primary fingerprint `fingerprint` as custodian `name`, or refuse it
    (the refusal is logged, the roster and keyring stay as they were)."""
    try:
        checked_name = parse_custodian_name(name)
        pinned = parse_fingerprint(fingerprint)  # D01, before anything reads the key
        roster.check_new(checked_name, pinned)
        _refuse_unprintable_user_ids(key_bytes, pinned)
        key = import_custodian_key(gpg, key_bytes, pinned, now=now, horizon=horizon)
    except (BadInputError, VerificationError) as refused:
        typed = fingerprint.upper() if _is_fingerprint(fingerprint) else None
        detail = {"kind": refused.kind, "fingerprint": typed, "key_sha256": key_sha256}
        log.append(ENROL_REFUSED, detail)
        raise
    return log.append(ENROL, _enrol_payload(checked_name, key, horizon, key_sha256))


def _enrol_payload(
    name: str, key: CustodianKey, horizon: timedelta, key_sha256: str
) -> dict[str, object]:
    return {
        "name": name,
        "fingerprint": key.fingerprint,
        "encryption_subkey": key.encryption_fingerprint,
        "algorithm": key.algorithm,
        "encryption_algorithm": key.encryption_algorithm,
        "created": key.created.strftime(_TIME_FORMAT),
        "expires": None if key.expires is None else key.expires.strftime(_TIME_FORMAT),
        "expiry_horizon_days": horizon.days,
        "key_sha256": key_sha256,
    }


def _is_fingerprint(text: str) -> bool:
    try:
        parse_fingerprint(text)
    except CustodianKeyError:
        return False
    return True


def _refuse_unprintable_user_ids(key_bytes: bytes, fingerprint: Fingerprint) -> None:
    """Look at the user ids of the pinned key, before GnuPG runs. Anything else about the
    file (framing, another key, several keys) is left to `import_custodian_key` to name."""
    try:
        armored = openpgp.is_armored(key_bytes)
        packets = openpgp.split_packets(
            openpgp.decode_armor(key_bytes).data if armored else key_bytes
        )
    except openpgp.FramingError:
        return
    primary = packets[0] if packets else None
    if primary is None or primary.tag != 6 or primary.body[:1] != b"\x04":
        return
    if openpgp.v4_fingerprint(primary.body) != fingerprint:
        return
    for packet in packets:
        text = packet.body.decode("utf-8", "surrogateescape") if packet.tag == 13 else ""
        if not text.isprintable():
            raise refusal(
                fingerprint,
                "user-id-policy",
                f"its user id '{display_user_id(text)}' holds control, invisible or"
                " undecodable characters",
                hint="the custodian can add a plain user id and revoke this one"
                " (gpg --quick-add-uid, gpg --quick-revoke-uid), then export the key again",
            )


def issue_challenge(
    log: LogAppender, gpg: Gpg, custodian: Custodian, *, now: datetime | None = None
) -> tuple[Challenge, LogEntry]:
    """Encrypt a fresh challenge to the custodian's key, re-checked against the policy now."""
    _refuse_retired(custodian)
    horizon = timedelta(days=custodian.horizon_days)
    key = load_custodian_key(gpg, custodian.fingerprint, now=now, horizon=horizon)
    challenge = make_challenge(gpg, key)
    entry = log.append(
        CHALLENGE_ISSUED,
        {
            "fingerprint": custodian.fingerprint,
            "answer_sha256": challenge.answer_digest.hex(),
            "message_sha256": hashlib.sha256(challenge.message).hexdigest(),
        },
    )
    return challenge, entry


def answer_challenge(log: LogAppender, custodian: Custodian, answer: str) -> LogEntry:
    """Check the custodian's answer to their pending challenge and log the result; a wrong
    answer is logged, uses the challenge up, and raises."""
    _refuse_retired(custodian)
    pending = custodian.pending
    if pending is None:
        raise BadInputError(
            f"No challenge for custodian {custodian.shown_name} ({custodian.fingerprint})"
            " is waiting for an answer.",
            kind="no-pending-challenge",
            hint=f"send one first: custody custodian challenge {custodian.fingerprint} --out FILE",
        )
    failure = _wrong_answer(custodian.fingerprint, pending, answer)
    payload = {"fingerprint": custodian.fingerprint, "passed": failure is None}
    entry = log.append(CHALLENGE, {**payload, "challenge": pending.seq})
    if failure is not None:
        raise VerificationError(
            f"Custodian {custodian.shown_name} ({custodian.fingerprint}) failed the challenge:"
            f" {failure}. The failure is logged and the challenge is used up.",
            kind="challenge-failed",
            hint="check the custodian decrypts with this very key (or card), then send a new"
            " challenge",
        )
    return entry


def _wrong_answer(fingerprint: Fingerprint, pending: PendingChallenge, answer: str) -> str | None:
    """Why the answer is wrong, or None. The custodian may give back the whole decrypted text
    (`custody challenge` / `custodian: FPR` / `answer: CODE`) or the code alone."""
    if len(answer.encode("utf-8", "surrogateescape")) > MAX_ANSWER_BYTES:
        return "the answer is far too long"
    lines = answer.strip().splitlines()
    code = answer
    if lines and lines[0].strip() == "custody challenge":
        fields = dict(line.partition(": ")[::2] for line in lines[1:])
        if fields.get("custodian", "").strip() != fingerprint:
            return "the decrypted text is the challenge for another custodian"
        code = fields.get("answer", "")
    # keyring's check reads only the fingerprint and the answer's digest; the message went
    # to the custodian and only its digest was kept, which stands in for it here.
    sent = Challenge(fingerprint, pending.message_digest, pending.answer_digest)
    try:
        check_challenge_answer(sent, code)
    except CustodianKeyError:
        return "the answer does not match"
    return None


def override(log: LogAppender, custodian: Custodian, reason: str) -> LogEntry:
    """Record the explicit decision to let a custodian without a passed challenge hold a shard."""
    _refuse_retired(custodian)
    if custodian.assignable:
        raise BadInputError(
            f"Custodian {custodian.shown_name} ({custodian.fingerprint}) needs no override:"
            f" their status is {custodian.status}.",
            kind="nothing-to-override",
        )
    text = parse_reason(reason)
    return log.append(OVERRIDE, {"fingerprint": custodian.fingerprint, "reason": text})


def retire(log: LogAppender, custodian: Custodian, reason: str) -> LogEntry:
    """Retire a custodian: kept in the roster's history, never deleted, never assigned again."""
    _refuse_retired(custodian)
    text = parse_reason(reason)
    return log.append(RETIRE, {"fingerprint": custodian.fingerprint, "reason": text})


def _refuse_retired(custodian: Custodian) -> None:
    if custodian.retired:
        raise BadInputError(
            f"Custodian {custodian.shown_name} ({custodian.fingerprint}) is retired.",
            kind="custodian-retired",
            hint="a retired custodian takes part in nothing; enrol a new key instead",
        )
