"""The appliance home: where it is, creating it whole, and loading it (log.md §1).

This module owns the home's layout (`config.json`, `appliance.key`, `appliance.pub`,
`log.sqlite`), its permissions (directory 0700, key and config 0600), and the checks every
command relies on before it acts. It refuses to create a home over an existing path, to load
a missing, half-initialised or inconsistent one, and to read a key file that others can read.
It never repairs a home. The clock and the key seed are parameters, for reproducible tests.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from custody import __version__
from custody.errors import StateError
from custody.log.canonical import JSON, encode_canonical, parse_canonical
from custody.log.custody_log import CustodyLog, start_log
from custody.log.keys import (
    Signer,
    VerifierKey,
    encode_signing_key,
    encode_vkey,
    generate_signer,
    parse_signing_key,
    parse_vkey,
)
from custody.log.newdir import new_directory, write_new_file
from custody.log.reader import LogReader
from custody.log.store import LogStore, create_store, open_store
from custody.log.times import format_time, is_log_time, utc_now

HOME_ENV: Final = "CUSTODY_HOME"
CONFIG_FORMAT: Final = "custody-config/1"
CONFIG_FILE: Final = "config.json"
KEY_FILE: Final = "appliance.key"
PUB_FILE: Final = "appliance.pub"
LOG_FILE: Final = "log.sqlite"
_RESTORE_HINT: Final = "Restore the home from its backup; custody never repairs a home."


def resolve_home(home: str | os.PathLike[str] | None, env: Mapping[str, str] = os.environ) -> Path:
    """`--home`, else `$CUSTODY_HOME`, else `$XDG_DATA_HOME/custody`, else the XDG default."""
    if home is not None and str(home):
        return Path(home).absolute()
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).absolute()
    data = env.get("XDG_DATA_HOME", "")
    if data and os.path.isabs(data):
        return Path(data) / "custody"
    return Path(env.get("HOME") or Path.home()) / ".local" / "share" / "custody"


@dataclass(frozen=True, slots=True)
class Appliance:
    """A loaded, checked home and its public key."""

    home: Path
    created: str
    key: VerifierKey

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE

    @property
    def key_path(self) -> Path:
        return self.home / KEY_FILE

    @property
    def pub_path(self) -> Path:
        return self.home / PUB_FILE

    @property
    def log_path(self) -> Path:
        return self.home / LOG_FILE

    def load_signer(self) -> Signer:
        signer = parse_signing_key(_read_private(self.key_path), source=str(self.key_path))
        if signer.verifier != self.key:
            raise _inconsistent(self.home, f"{KEY_FILE} does not match {PUB_FILE}")
        return signer

    def open_store(self, *, writable: bool = False, check: bool = True) -> LogStore:
        return open_store(self.log_path, writable=writable, check=check)

    def read_log(self, *, check: bool = True) -> LogReader:
        """The log, open read-only; `check=False` skips SQLite's integrity check (for status)."""
        return LogReader(self.open_store(writable=False, check=check), self.key)

    def open_log(self, *, now: Callable[[], datetime] = utc_now) -> CustodyLog:
        """The log, open for appending: checked, writable, with the signing key loaded."""
        signer = self.load_signer()
        return CustodyLog(self.open_store(writable=True), signer, now=now)


def init_home(
    home: Path, *, now: Callable[[], datetime] = utc_now, seed: bytes | None = None
) -> Appliance:
    """Create a home at `home`: a new key, config and log, appearing whole or not at all."""
    signer = generate_signer(seed)
    created = format_time(now())
    try:
        with new_directory(home) as work:
            _write_home(work, signer, created, now)
    except FileExistsError:
        raise StateError(
            f"{home} already exists; custody init makes a new home and never reuses a path.",
            kind="home-exists",
            hint="Use that home as it is (custody status), or choose another --home.",
        ) from None
    except OSError as error:
        raise StateError(
            f"Cannot create the home {home}: {error.strerror or error}.",
            kind="home-unwritable",
            hint="Choose a --home on a writable disk with free space.",
        ) from None
    return Appliance(home, created, signer.verifier)


def _write_home(work: Path, signer: Signer, created: str, now: Callable[[], datetime]) -> None:
    fingerprint = signer.verifier.fingerprint
    config: dict[str, JSON] = {
        "created": created,
        "custody_version": __version__,
        "format": CONFIG_FORMAT,
        "key_fingerprint": fingerprint,
    }
    write_new_file(work / KEY_FILE, encode_signing_key(signer), mode=0o600)
    write_new_file(work / PUB_FILE, f"{encode_vkey(signer.verifier)}\n".encode(), mode=0o644)
    write_new_file(work / CONFIG_FILE, encode_canonical(config) + b"\n", mode=0o600)
    store = create_store(work / LOG_FILE)
    try:
        first = {"custody_version": __version__, "key_fingerprint": fingerprint}
        start_log(store, signer, first, now=now)
    finally:
        store.close()


def load_appliance(home: Path) -> Appliance:
    """The home at `home`, after checking it is whole and consistent."""
    if not home.is_dir():
        raise StateError(
            f"There is no appliance home at {home}.",
            kind="home-missing",
            hint=f"Create one with `custody init --home {home}`, or pass the right --home.",
        )
    missing = [n for n in (CONFIG_FILE, KEY_FILE, PUB_FILE, LOG_FILE) if not (home / n).exists()]
    if missing:
        raise StateError(
            f"The appliance home {home} is incomplete: {', '.join(missing)} missing.",
            kind="home-incomplete",
            hint=_RESTORE_HINT,
        )
    created, fingerprint = _load_config(home / CONFIG_FILE)
    key = _load_pub(home / PUB_FILE)
    if key.fingerprint != fingerprint:
        raise _inconsistent(home, f"{CONFIG_FILE} names another key than {PUB_FILE}")
    return Appliance(home, created, key)


def _load_config(path: Path) -> tuple[str, str]:
    try:
        config = parse_canonical(path.read_bytes().removesuffix(b"\n"))
    except (OSError, ValueError):
        config = None
    if (
        isinstance(config, dict)
        and config.keys() == {"created", "custody_version", "format", "key_fingerprint"}
        and config["format"] == CONFIG_FORMAT
    ):
        created, fingerprint = config["created"], config["key_fingerprint"]
        if isinstance(created, str) and is_log_time(created) and isinstance(fingerprint, str):
            return created, fingerprint
    raise StateError(f"{path} is not a custody config.", kind="home-incomplete", hint=_RESTORE_HINT)


def _load_pub(path: Path) -> VerifierKey:
    try:
        return parse_vkey(path.read_text("ascii").removesuffix("\n"))
    except (OSError, ValueError):
        raise StateError(
            f"{path} is not a custody verifier key.", kind="home-incomplete", hint=_RESTORE_HINT
        ) from None


def _read_private(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise StateError(
            f"Cannot read {path}: {error.strerror}.", kind="home-incomplete", hint=_RESTORE_HINT
        ) from None
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_mode & 0o077:
            raise StateError(
                f"{path} must be a regular file that only its owner can read (mode 0600).",
                kind="key-exposed",
                hint=f"Check who could have read it; then `chmod 600 {path}`.",
            )
        return file.read(4096)


def _inconsistent(home: Path, why: str) -> StateError:
    return StateError(
        f"The appliance home {home} is inconsistent: {why}.",
        kind="home-inconsistent",
        hint=_RESTORE_HINT,
    )
