"""Test keys made with real GnuPG, each in its own short home standing in for a smartcard.

Nothing here uses custody code: the keys, revocations and expiries come straight from `gpg`,
so custody's checks are tried against what GnuPG really produces. Homes live under one
`/tmp/cg*` root (short, for the agent socket); `kill_agents` stops every agent under it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "keys"
YEAR = 365 * 86400
# Passphrases are never cached and protected keys stay fast to make (ecosystem notes).
AGENT_CONF = "default-cache-ttl 0\nmax-cache-ttl 0\ns2k-count 65536\nallow-loopback-pinentry\n"


@dataclass(frozen=True)
class CardKey:
    """A custodian key: its fingerprint, its public certificate, and the home with its secret."""

    fingerprint: str
    public: bytes
    home: Path

    def subkey_fingerprints(self) -> list[str]:
        out = run(self.home, "--with-colons", "--fingerprint", "--fingerprint", "-k").stdout
        lines = out.decode().splitlines()
        return [lines[i + 1].split(":")[9] for i, x in enumerate(lines) if x.startswith("sub:")]


def make_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="cg", dir="/tmp"))


def new_home(root: Path) -> Path:
    home = Path(tempfile.mkdtemp(prefix="k", dir=root))
    home.chmod(0o700)
    (home / "gpg-agent.conf").write_text(AGENT_CONF)
    return home


def run(
    home: Path, *args: str, stdin: bytes = b"", faked_time: int | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """gpg in `home`, batch mode, no options file, an empty passphrase by loopback."""
    cmd = ["gpg", "--homedir", str(home), "--batch", "--no-options", "--yes", "--utf8-strings"]
    cmd += ["--pinentry-mode", "loopback", "--passphrase", ""]
    if faked_time is not None:
        cmd += ["--faked-system-time", f"{faked_time}!"]
    env = {"PATH": os.environ["PATH"], "LC_ALL": "C", "GNUPGHOME": str(home)}
    result = subprocess.run([*cmd, *args], input=stdin, capture_output=True, env=env, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"gpg {args} failed: {result.stderr.decode(errors='replace')}")
    return result


def generate(
    root: Path,
    uid: str,
    *,
    algo: str = "future-default",
    usage: str = "default",
    expire: str = "5y",
    years_ago: int = 0,
    passphrase: str = "",
) -> CardKey:
    """A fresh key in its own home; `years_ago` makes it under a faked clock."""
    home = new_home(root)
    faked = int(time.time()) - years_ago * YEAR if years_ago else None
    args = ("--passphrase", passphrase, "--quick-gen-key", uid, algo, usage, expire)
    run(home, *args, faked_time=faked)
    fingerprint = primary_fingerprint(home)
    return CardKey(fingerprint, export_public(home, fingerprint), home)


def primary_fingerprint(home: Path) -> str:
    out = run(home, "--with-colons", "--fingerprint", "-k").stdout.decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def export_public(home: Path, fingerprint: str, *, armor: bool = True) -> bytes:
    return run(home, *(["--armor"] if armor else []), "--export", fingerprint).stdout


def add_subkey(key: CardKey, algo: str, usage: str, expire: str, *, years_ago: int = 0) -> CardKey:
    faked = int(time.time()) - years_ago * YEAR if years_ago else None
    run(key.home, "--quick-add-key", key.fingerprint, algo, usage, expire, faked_time=faked)
    return CardKey(key.fingerprint, export_public(key.home, key.fingerprint), key.home)


def revoke(key: CardKey) -> CardKey:
    """Import the revocation certificate gpg made at generation (its first ':' disarms it)."""
    cert = (key.home / "openpgp-revocs.d" / f"{key.fingerprint}.rev").read_text()
    run(key.home, "--import", stdin=cert.replace(":-----BEGIN", "-----BEGIN").encode())
    return CardKey(key.fingerprint, export_public(key.home, key.fingerprint), key.home)


def revoke_first_subkey(key: CardKey) -> CardKey:
    commands = b"key 1\nrevkey\ny\n0\n\ny\nsave\n"
    run(key.home, "--command-fd", "0", "--edit-key", key.fingerprint, stdin=commands)
    return CardKey(key.fingerprint, export_public(key.home, key.fingerprint), key.home)


def import_into(root: Path, *data: bytes) -> Path:
    """A home holding these keys (for example a secret key file, as a custodian's card)."""
    home = new_home(root)
    for item in data:
        run(home, "--import", stdin=item)
    return home


def vector_key(root: Path, name: str) -> CardKey:
    """A committed key (tests/vectors/keys); its home holds the secret key when there is one."""
    fingerprint = (VECTORS / f"{name}.fpr").read_text().strip()
    secret = VECTORS / f"{name}.sec.asc"
    home = import_into(root, *([secret.read_bytes()] if secret.exists() else []))
    return CardKey(fingerprint, (VECTORS / f"{name}.pub.asc").read_bytes(), home)


def kill_agents(root: Path) -> list[str]:
    """Stop the agents of every home under `root`; return those still alive afterwards."""
    homes = {p.parent for p in root.rglob("S.gpg-agent")}
    for home in homes:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
    time.sleep(0.1)
    return live_agents(root)


def live_agents(root: Path) -> list[str]:
    """Command lines of running (not zombie) gpg-agents whose home is under `root`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if "gpg-agent" in cmdline and str(root) in cmdline and state != "Z":
            found.append(cmdline)
    return found


def cleanup(root: Path) -> list[str]:
    left = kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)
    return left
