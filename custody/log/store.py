"""The log's storage: one SQLite database in WAL mode with `synchronous=FULL` (log.md §5).

This module owns the file: creating it, refusing one that is a link, not a regular file, not
writable (when appending) or not a custody log, running `integrity_check`, the append
transaction, and reading rows back in order. It never interprets an entry beyond handing its
line on, never repairs or truncates the file, and turns every SQLite failure into a
CustodyError: damage is `log-corrupt`, anything else (disk full, I/O, locked) is
`log-unavailable`.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, NamedTuple

from custody.errors import CustodyError, LogIntegrityError, StateError
from custody.log.entry import Entry

APPLICATION_ID: Final = 1129534553  # "CSTY"
SCHEMA_VERSION: Final = 1
_INTENTS: Final = "'intent.begin', 'intent.complete', 'intent.abandon'"
_SCHEMA: Final = f"""
CREATE TABLE entries (
    seq      INTEGER PRIMARY KEY,
    event    TEXT NOT NULL,
    ceremony TEXT,
    line     BLOB NOT NULL
);
CREATE INDEX entries_by_ceremony ON entries (ceremony) WHERE ceremony IS NOT NULL;
CREATE INDEX entries_intents ON entries (event) WHERE event IN ({_INTENTS});
CREATE TRIGGER entries_append_only_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
"""
_ROWS: Final = "SELECT seq, event, ceremony, line FROM entries"
_CORRUPT: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})


class Record(NamedTuple):
    """One stored entry line, where it was found, and the row's index copies (SQLite only)."""

    position: int
    line: bytes
    columns: tuple[object, object] | None = None


class LogStore:
    """An open log database. Use `create_store` or `open_store`; close it when done."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    def close(self) -> None:
        self._db.close()

    def records(self, *, where: str = "", args: tuple[object, ...] = ()) -> Iterator[Record]:
        with self._errors():
            for seq, event, ceremony, line in self._db.execute(f"{_ROWS} {where}", args):
                yield Record(seq, line if type(line) is bytes else b"", (event, ceremony))

    def all_records(self) -> Iterator[Record]:
        return self.records(where="ORDER BY seq")

    def ceremony_records(self, ceremony_id: str) -> Iterator[Record]:
        return self.records(where="WHERE ceremony = ? ORDER BY seq", args=(ceremony_id,))

    def intent_records(self, since: int = 1) -> Iterator[Record]:
        """The intent entries from entry `since` on (an intent is closed only after it begins)."""
        # The same condition as the partial index, so that SQLite reads only the index.
        return self.records(
            where=f"WHERE event IN ({_INTENTS}) AND seq >= ? ORDER BY seq", args=(since,)
        )

    def last_record(self) -> Record | None:
        """The newest row; an empty log has none."""
        with self._errors():
            row = self._db.execute(f"{_ROWS} ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return None
        seq, event, ceremony, line = row
        return Record(seq, line if type(line) is bytes else b"", (event, ceremony))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, committed (and fsynced) only if the block succeeds."""
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            with self._errors():
                self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def insert(self, entry: Entry) -> None:
        with self._errors():
            self._db.execute(
                "INSERT INTO entries (seq, event, ceremony, line) VALUES (?, ?, ?, ?)",
                (entry.seq, entry.event, entry.ceremony_id, entry.line),
            )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise sqlite_failure(self.path, error) from None


def sqlite_failure(path: Path, error: sqlite3.Error) -> CustodyError:
    name = getattr(error, "sqlite_errorname", "")
    if name in _CORRUPT:
        return LogIntegrityError(
            f"{path} is damaged ({error}); custody does not repair it.",
            kind="log-corrupt",
            hint="Keep the file as evidence; restore the home from a backup or an export.",
        )
    return StateError(
        f"The custody log {path} cannot be used ({error}); nothing was recorded.",
        kind="log-unavailable",
        hint="Free disk space or fix the file, then run the command again.",
    )


def create_store(path: Path) -> LogStore:
    """A new, empty log at `path` (mode 0600); refuses an existing file."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    store = LogStore(_connect(path, writable=True), path)
    with store._errors():
        store._db.execute("PRAGMA journal_mode=WAL")
        store._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        store._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        store._db.executescript(_SCHEMA)
    return store


def open_store(path: Path, *, writable: bool, check: bool = True) -> LogStore:
    """Open the log at `path`, refusing a link, a foreign or damaged file (log.md §5)."""
    before = _examine(path, writable=writable)
    db = _connect(path, writable=writable)
    store = LogStore(db, path)
    try:
        with store._errors():
            ident = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if (ident, version) != (APPLICATION_ID, SCHEMA_VERSION):
                raise sqlite3.DatabaseError("not a custody log, version 1")
            if check:
                verdict = [row[0] for row in db.execute("PRAGMA integrity_check")]
                if verdict != ["ok"]:
                    raise _integrity_failure(path, verdict[0])
        after = _examine(path, writable=writable)
        if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino):
            raise _unavailable(path, "it was replaced while custody opened it")
    except BaseException:
        db.close()
        raise
    return store


def _integrity_failure(path: Path, first: str) -> LogIntegrityError:
    return LogIntegrityError(
        f"{path} fails SQLite's integrity check ({' '.join(first.split())}); custody does not "
        "repair it.",
        kind="log-corrupt",
        hint="Keep the file as evidence; restore the home from a backup or an export.",
    )


def _connect(path: Path, *, writable: bool) -> sqlite3.Connection:
    uri = f"{path.absolute().as_uri()}?mode={'rw' if writable else 'ro'}"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10.0)
        db.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as error:
        raise sqlite_failure(path, error) from None
    return db


def _examine(path: Path, *, writable: bool) -> os.stat_result:
    """The log file's status; StateError for a link, a non-file, or an unwritable log."""
    for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            status = os.lstat(side)
        except FileNotFoundError:
            if side == path:
                raise _unavailable(path, "it does not exist") from None
            continue
        if stat.S_ISLNK(status.st_mode):
            raise _unavailable(side, "it is a symbolic link")
        if not stat.S_ISREG(status.st_mode):
            raise _unavailable(side, "it is not a regular file")
        writable_file = bool(status.st_mode & stat.S_IWUSR) and os.access(side, os.W_OK)
        if writable and not writable_file:
            raise _unavailable(side, "it is not writable")
    return os.lstat(path)


def _unavailable(path: Path, why: str) -> StateError:
    return StateError(
        f"The custody log {path} cannot be used: {why}. custody takes no action without it.",
        kind="log-unavailable",
        hint="Restore the log file from the home's backup, as a regular writable file.",
    )
