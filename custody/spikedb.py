"""Checking a root key against a `spike.db` backup, read-only and without side files.

SPIKE's store is SQLite; every secret version and metadata field is AES-256-GCM under the
root key (12-byte nonce in its own column, tag appended, no associated data; metadata fields
use the row nonce XOR a fixed 12-byte label). A key that decrypts the rows is the key of
that backup: GCM's tag makes a wrong key fail on every row.

The backup is opened with SQLite's `immutable` flag, so no `-wal`/`-shm`/journal file is
created beside it and nothing in it can change. This module decrypts only to prove the key:
plaintexts are dropped at once and never returned.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custody.errors import SpikeDbError

SQLITE_MAGIC: Final = b"SQLite format 3\x00"
NONCE_BYTES: Final = 12
METADATA_FIELDS: Final = (
    ("encrypted_current_version", b"current_ver_"),
    ("encrypted_oldest_version", b"oldest_ver__"),
    ("encrypted_created_time", b"created_tim_"),
    ("encrypted_updated_time", b"updated_tim_"),
    ("encrypted_max_versions", b"max_versions"),
)


@dataclass(frozen=True, slots=True)
class DbCheck:
    path: Path
    sha256: str
    integrity: str
    """`ok`, or SQLite's first integrity_check complaint."""
    rows_checked: int
    rows_decrypted: int
    wal_present: bool
    """A `-wal` file lies beside the backup; its content is not part of what was checked."""

    @property
    def key_matches(self) -> bool:
        return self.rows_decrypted > 0

    @property
    def ok(self) -> bool:
        return (
            self.integrity == "ok" and self.key_matches and self.rows_decrypted == self.rows_checked
        )


def check_spike_db(path: Path, root_key: bytes) -> DbCheck:
    """Open the backup read-only, run integrity_check, and count the rows the key decrypts."""
    if len(root_key) != 32:
        raise ValueError("a SPIKE root key is 32 bytes")
    digest = _inspect_file(path)
    with _open_immutable(path) as connection:
        integrity = _integrity(connection, path)
        checked, decrypted = _count_decryptable(connection, path, AESGCM(root_key), integrity)
    if checked == 0:
        raise SpikeDbError(
            f"{path}: the database holds no encrypted rows, so nothing in it can prove a key.",
            kind="empty-db",
        )
    return DbCheck(
        path=path,
        sha256=digest,
        integrity=integrity,
        rows_checked=checked,
        rows_decrypted=decrypted,
        wal_present=Path(f"{path}-wal").exists(),
    )


def _inspect_file(path: Path) -> str:
    """The file's SHA-256, after checking it is a regular, unlocked SQLite file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise SpikeDbError(
            f"{path}: cannot open it ({error.strerror}; links are not followed).",
            kind="db-unreadable",
        ) from None
    # fstat before fdopen: opening a folder's descriptor as a file object raises at once.
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SpikeDbError(f"{path}: not a regular file.", kind="db-unreadable")
    with os.fdopen(fd, "rb") as handle:
        try:
            magic = handle.read(len(SQLITE_MAGIC))
            if magic == SQLITE_MAGIC:
                _refuse_if_locked(fd, path)
                handle.seek(0)
                return hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as error:
            raise SpikeDbError(
                f"{path}: cannot read it ({error.strerror}).", kind="db-unreadable"
            ) from None
    raise SpikeDbError(
        f"{path}: not an SQLite database, so not a spike.db backup.", kind="not-spike-db"
    )


def _refuse_if_locked(fd: int, path: Path) -> None:
    # SQLite writers hold POSIX write locks on the file's lock bytes; a shared lock over the
    # whole file fails while one does, which means the copy is being written right now.
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise SpikeDbError(
            f"{path}: locked by a program writing to it.",
            kind="db-locked",
            hint="Stop SPIKE (or finish the copy) and check a quiet copy of the database.",
        ) from None
    fcntl.lockf(fd, fcntl.LOCK_UN)


class _open_immutable:
    def __init__(self, path: Path) -> None:
        uri = f"file:{urllib.parse.quote(str(path.absolute()))}?mode=ro&immutable=1"
        try:
            self.connection = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as error:
            raise SpikeDbError(
                f"{path}: SQLite cannot open it ({error}).", kind="db-unreadable"
            ) from None

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()


def _integrity(connection: sqlite3.Connection, path: Path) -> str:
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as error:
        raise SpikeDbError(
            f"{path}: the database is corrupt ({error}).", kind="corrupt-db"
        ) from None
    return "ok" if rows == [("ok",)] else str(rows[0][0])


def _count_decryptable(
    connection: sqlite3.Connection, path: Path, cipher: AESGCM, integrity: str
) -> tuple[int, int]:
    try:
        secrets = connection.execute("SELECT nonce, encrypted_data FROM secrets").fetchall()
        columns = ", ".join(name for name, _ in METADATA_FIELDS)
        metadata = connection.execute(f"SELECT nonce, {columns} FROM secret_metadata").fetchall()  # noqa: S608
    except sqlite3.DatabaseError as error:
        # Damage can surface here rather than in integrity_check (or garble the schema into
        # a missing column): only an intact file without SPIKE's tables is "not SPIKE's".
        if integrity != "ok" or error.sqlite_errorname == "SQLITE_CORRUPT":
            raise SpikeDbError(
                f"{path}: the database is corrupt ({error}).", kind="corrupt-db"
            ) from None
        raise SpikeDbError(
            f"{path}: not a SPIKE database (no secrets or secret_metadata table: {error}).",
            kind="not-spike-db",
        ) from None
    decrypted = sum(_decrypts(cipher, nonce, data) for nonce, data in secrets)
    decrypted += sum(_metadata_decrypts(cipher, row) for row in metadata)
    return len(secrets) + len(metadata), decrypted


def _metadata_decrypts(cipher: AESGCM, row: tuple[object, ...]) -> bool:
    nonce, fields = row[0], row[1:]
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        return False
    return all(
        _decrypts(cipher, bytes(a ^ b for a, b in zip(nonce, label, strict=True)), data)
        for (_, label), data in zip(METADATA_FIELDS, fields, strict=True)
    )


def _decrypts(cipher: AESGCM, nonce: object, data: object) -> bool:
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES or not isinstance(data, bytes):
        return False
    try:
        cipher.decrypt(nonce, data, None)
    except InvalidTag:
        return False
    return True
