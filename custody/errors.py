"""The CustodyError tree: every failure custody expects, written for the person at the keyboard.

Each error's message is a full sentence that names the file, line, shard id or fingerprint
involved, and never contains secret bytes. `hint` says what to do next. `kind` is a short,
stable identifier (for `--json` output and tests) naming the class of problem, such as
`bad-shard-length` or `inconsistent-set`.

Caller mistakes (bugs) are `ValueError`/`TypeError` and are deliberately not part of this tree.
"""

from __future__ import annotations


class CustodyError(Exception):
    """Base of every expected failure. The CLI catches it in exactly one place."""

    exit_code: int = 3

    def __init__(self, message: str, *, kind: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.hint = hint

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields do not survive Exception's default pickling; a worker process
        # (the sheets' self-test) hands its errors back whole this way.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[CustodyError], message: str, fields: dict[str, object]) -> CustodyError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


class VerificationError(CustodyError):
    """Something was checked and did not hold: a shard, a set, a key, a signature, the log."""

    exit_code: int = 1


class BadInputError(CustodyError):
    """Input that cannot be used at all: malformed, out of range, missing or unreadable."""

    exit_code: int = 3


class StateError(CustodyError):
    """The appliance's own state or environment is not usable (home, log, tools)."""

    exit_code: int = 4


class ShardFormatError(BadInputError):
    """A shard that does not parse, or parses to an impossible value."""


class ShardSetError(BadInputError):
    """A collection of shards that cannot form a set: duplicates, conflicts, too few."""

    def __init__(
        self, message: str, *, kind: str, ids: tuple[int, ...] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.ids = ids


class InconsistentSetError(VerificationError):
    """The shards do not all lie on one polynomial of the expected degree."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        bad_ids: tuple[int, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.bad_ids = bad_ids


class CommitmentsError(BadInputError):
    """A commitments document that does not parse or describes an impossible set."""


class SpikeDbError(BadInputError):
    """A spike.db backup that is missing, locked, corrupt or not a SPIKE database."""


class GpgUnavailableError(StateError):
    """GnuPG is missing, too old, or failed in a way that says nothing about the input."""


class CustodianKeyError(BadInputError):
    """A custodian's OpenPGP certificate that custody refuses (mismatch, expired, weak...)."""


class PacketFormatError(BadInputError):
    """A custodian packet that does not parse."""


class PacketMismatchError(VerificationError):
    """A packet that parses but is forged, tampered, or belongs to another ceremony or custodian."""


class LogIntegrityError(VerificationError):
    """The custody log or a checkpoint failed verification.

    `kind` names what was found (`log-modified`, `log-deleted`, `log-reordered`,
    `log-duplicated`, `log-truncated`, `log-forked`, `log-unknown-signer`, `log-torn-tail`,
    `log-corrupt`, `checkpoint-bad-signature`); `seq` is the first entry that failed, where
    there is one.
    """

    def __init__(
        self, message: str, *, kind: str, seq: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.seq = seq
