"""GnuPG, isolated: the only module in custody that runs `gpg` or `gpgconf`.

It owns one GnuPG home per `open_gpg` context: a directory the caller names, mode 0700, whose
agent socket fits the kernel's path limit. Every run is `--no-options --no-encrypt-to`
(so no gpg.conf can add a recipient or a keyserver), `--trust-model always` (custody's keyring
only ever holds keys pinned by full fingerprint, which is the trust decision) and `LC_ALL=C`.
python-gnupg drives the process and its status-fd; it is untyped, so `Any` stays in here and
callers get typed values. Every agent a context starts is stopped when it ends, and agents or
scratch homes left by a killed run are cleared when the next one opens (D12).

It refuses: a missing or too old gpg, an unsafe or too long home, a result that is empty or
lacks the status line that proves success. Judging keys is `certificate`'s job; judging
messages is `keyring`'s and `openpgp`'s.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import gnupg

from custody.errors import GpgUnavailableError

# GnuPG 2.2.8 escapes control characters in the messages that share stderr with the status
# lines python-gnupg reads (CVE-2018-12020); older 2.2 releases could be spoofed through it.
MIN_VERSION: Final = (2, 2, 8)
# sun_path holds 108 bytes with its NUL; the longest socket gpg-agent makes is this one.
_SOCKET_MAX: Final = 107
_LONGEST_SOCKET: Final = "S.gpg-agent.browser"
_BASE_OPTIONS: Final = ("--no-options", "--no-encrypt-to", "--trust-model", "always")
# Scratch homes live inside custody's home as `s.` + 8 characters (tempfile's choice).
_SCRATCH_PREFIX: Final = "s."
_SCRATCH_RE: Final = re.compile(r"s\.[a-z0-9_]{8}")
_SCRATCH_ROOM: Final = len("/s.12345678")
_PASSED_ENV: Final = ("PATH", "GPG_TTY", "TERM", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")

StatusLine = tuple[str, str]


class Gpg:
    """One GnuPG home, opened by `open_gpg`. Methods return bytes and status lines, never Any."""

    def __init__(self, home: Path, gpg_binary: str) -> None:
        self.home = home
        self._binary = gpg_binary
        self._env = {k: v for k, v in os.environ.items() if k in _PASSED_ENV}
        self._env |= {"LC_ALL": "C", "LANGUAGE": "C", "GNUPGHOME": str(home), "HOME": str(home)}
        try:
            self._gpg: Any = gnupg.GPG(
                gpgbinary=gpg_binary,
                gnupghome=str(home),
                options=list(_BASE_OPTIONS),
                env=self._env,
            )
        except (OSError, ValueError) as e:
            raise GpgUnavailableError(
                f"Cannot run GnuPG ({gpg_binary}) for {home}.",
                kind="gpg-missing",
                hint="install the 'gnupg' package (GnuPG 2.2 or later)",
            ) from e
        self.version: tuple[int, ...] = tuple(self._gpg.version or ())
        if self.version < MIN_VERSION:
            found = ".".join(map(str, self.version)) or "an unknown version"
            raise GpgUnavailableError(
                f"GnuPG {found} is too old; custody needs {'.'.join(map(str, MIN_VERSION))}.",
                kind="gpg-too-old",
                hint="install GnuPG 2.2.8 or later",
            )

    def import_keys(self, data: bytes) -> tuple[str, ...]:
        """Import key data; return the fingerprints gpg reports with IMPORT_OK, in order."""
        result = self._gpg.import_keys(data)
        return tuple(v.split()[1] for k, v in _status(result) if k == "IMPORT_OK" and " " in v)

    def list_keys(self) -> tuple[tuple[str, ...], ...]:
        """Every public key in this home as colon records (gpg's doc/DETAILS), split on ':'."""
        result = self._gpg.list_keys()
        if result.returncode != 0:
            raise _failure("list the keys", self.home, result)
        # surrogateescape keeps a user id's invalid UTF-8 bytes for `certificate` to show safely.
        text = bytes(result.data).decode("utf-8", "surrogateescape")
        return tuple(tuple(line.split(":")) for line in text.splitlines())

    def export_minimal(self, fingerprint: str) -> bytes:
        """The key without third-party signatures or superseded self-signatures."""
        data = self._gpg.export_keys(fingerprint, armor=False, minimal=True)
        if not isinstance(data, bytes) or not data:
            raise GpgUnavailableError(
                f"GnuPG exported nothing for {fingerprint} from {self.home}.",
                kind="gpg-failed",
                hint="run the same gpg command by hand with --homedir to see its full output",
            )
        return data

    def encrypt(self, plaintext: bytes, recipient: str) -> bytes:
        """Binary OpenPGP message to `recipient`, which must already name exactly one key."""
        result = self._gpg.encrypt(plaintext, [recipient], armor=False)
        if result.returncode != 0 or not result.ok or not result.data:
            raise _failure(f"encrypt to {recipient}", self.home, result)
        data: bytes = result.data
        return data

    def decrypt(
        self, message: bytes, passphrase: str | None
    ) -> tuple[bytes | None, tuple[StatusLine, ...]]:
        """Plaintext, or None when gpg did not prove success; the status says why."""
        result = self._gpg.decrypt(message, passphrase=passphrase)
        status = _status(result)
        keys = {k for k, _ in status}
        proven = result.returncode == 0 and result.ok and "DECRYPTION_OKAY" in keys
        failed = keys & {"DECRYPTION_FAILED", "BADMDC"}
        if proven and not failed and isinstance(result.data, bytes) and result.data:
            return result.data, status
        return None, status

    def generate_throwaway_key(self, name: str, *, expire: str = "3y") -> str:
        """A new ed25519/cv25519 key without passphrase, for rehearsals only; its fingerprint.

        A real custodian's key is made on their own smartcard, never by custody.
        """
        spec = self._gpg.gen_key_input(
            key_type="EDDSA", key_curve="ed25519", key_usage="sign",
            subkey_type="ECDH", subkey_curve="cv25519", subkey_usage="encrypt",
            name_real=name, expire_date=expire, no_protection=True,
        )  # fmt: skip
        result = self._gpg.gen_key(spec)
        if not result.fingerprint:
            raise _failure(f"generate a key for {name}", self.home, result)
        return str(result.fingerprint)

    def export_public(self, fingerprint: str) -> bytes:
        data = self._gpg.export_keys(fingerprint, armor=True)
        if not isinstance(data, str) or not data:
            raise _failure(f"export {fingerprint}", self.home, data)
        return data.encode("ascii")

    def sign_detached(self, data: bytes, fingerprint: str) -> bytes:
        """An armored detached signature over `data` by the secret key `fingerprint`."""
        result = self._gpg.sign(data, keyid=fingerprint, detach=True, clearsign=False)
        if result.returncode != 0 or not result.data:
            raise _failure(f"sign with {fingerprint}", self.home, result)
        signature: bytes = result.data
        return signature

    def verify_detached(self, data: bytes, signature: bytes) -> tuple[StatusLine, ...]:
        """gpg's status lines for checking `signature` over `data`; the caller judges them."""
        # python-gnupg takes a detached signature only as a file: one in this private home.
        handle, path = tempfile.mkstemp(prefix="sig.", dir=self.home)
        try:
            with os.fdopen(handle, "wb") as sig_file:
                sig_file.write(signature)
            result = self._gpg.verify_data(path, data)
        finally:
            os.unlink(path)
        return _status(result)

    @contextmanager
    def scratch(self) -> Iterator[Gpg]:
        """A throwaway home inside this one, for looking at keys that may be refused.

        `open_gpg` checked that this home leaves room for the scratch home's agent socket.
        """
        path = Path(tempfile.mkdtemp(prefix=_SCRATCH_PREFIX, dir=self.home))  # made 0700
        try:
            scratch = Gpg(path, self._binary)
            try:
                yield scratch
            finally:
                scratch.kill_agents()
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def kill_agents(self) -> None:
        """Stop every daemon of this home (python-gnupg never stops the agents gpg starts)."""
        _kill_agents(self.home, self._env)


@contextmanager
def open_gpg(home: Path, *, gpg_binary: str = "gpg") -> Iterator[Gpg]:
    """Open custody's GnuPG home (created 0700 if missing); stop its agents on the way out.

    A run killed half-way (D12) may have left agents and scratch homes: both go first.
    """
    gpg = Gpg(prepare_home(home), gpg_binary)
    for stale in gpg.home.iterdir():
        if _SCRATCH_RE.fullmatch(stale.name) and stale.is_dir() and not stale.is_symlink():
            _kill_agents(stale, {"PATH": os.defpath})
            shutil.rmtree(stale, ignore_errors=True)
    gpg.kill_agents()
    try:
        yield gpg
    finally:
        gpg.kill_agents()


def prepare_home(home: Path) -> Path:
    """Check (or create) a GnuPG home: absolute, a directory we own, 0700, and short enough
    for the agent socket of the scratch home inside it (`s.` + 8 characters)."""
    home = home.absolute()
    limit = _SOCKET_MAX - _SCRATCH_ROOM - len(f"/{_LONGEST_SOCKET}")
    if len(os.fsencode(home)) > limit:
        raise GpgUnavailableError(
            f"The GnuPG home {home} is too long for gpg-agent's socket: custody needs homes of"
            f" at most {limit} bytes (the socket path limit is {_SOCKET_MAX}).",
            kind="gnupg-home-too-long",
            hint=f"use a directory path of at most {limit} characters",
        )
    home.mkdir(mode=0o700, exist_ok=True)
    info = home.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise GpgUnavailableError(
            f"The GnuPG home {home} must be a directory owned by this user with mode 0700.",
            kind="gnupg-home-unsafe",
            hint=f"run: chmod 700 {home}",
        )
    return home


def _kill_agents(home: Path, env: dict[str, str]) -> None:
    gpgconf = shutil.which("gpgconf", path=env.get("PATH")) or "gpgconf"
    command = [gpgconf, "--homedir", str(home), "--kill", "all"]
    subprocess.run(command, env=env, capture_output=True, check=False, timeout=30)


def _status(result: Any) -> tuple[StatusLine, ...]:
    """The `[GNUPG:]` status lines of one run, as (keyword, rest) pairs."""
    lines = []
    for line in str(result.stderr or "").splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, _, rest = line[9:].partition(" ")
            lines.append((keyword, rest))
    return tuple(lines)


def _failure(action: str, home: Path, result: Any) -> GpgUnavailableError:
    errors = [f"{k} {v}".strip() for k, v in _status(result) if k in {"ERROR", "FAILURE"}]
    detail = f" ({'; '.join(errors)})" if errors else ""
    return GpgUnavailableError(
        f"GnuPG could not {action} in {home}: exit {result.returncode}{detail}.",
        kind="gpg-failed",
        hint="run the same gpg command by hand with --homedir to see its full output",
    )
