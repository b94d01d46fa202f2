"""Sealing custodian packets against bare `gpg --encrypt`, for 5, 50 and 255 custodians.

    .venv/bin/python bench/bench_packets.py [N ...]

For each N: N ed25519/cv25519 custodian keys are made and pinned into a custody GnuPG home
(not timed), then two things are timed, alternating packet by packet, best of >= 5 rounds:
  custody  load_custodian_keys (one listing) + N x (seal_packet + encode_packet, armored):
           encrypt via python-gnupg, recipient check in Python, Ed25519 header signature
  bare     N x `gpg --batch --no-options --trust-model always -e -r FPR` on the same plaintext
The goal is custody <= 1.3 x bare. Prints a table; exits 0 whatever the figures are.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nacl.signing import SigningKey

from custody.custodians import CustodianKey, Gpg, load_custodian_keys, open_gpg
from custody.formats.packet import PacketContent, encode_packet, seal_packet

ROUNDS = 5
SHARD_LINE = "spike:{id}:" + "af236f32fa2a813f8bcb40fbaf87b2f4ded823a83c257443fea67d20d4c431e9"
ROOT_KEY = "02" + "5a" * 32
DIGEST = "sha256:" + hashlib.sha256(b"commitments").hexdigest()
PLAINTEXT = b"x" * 420  # about the size of a packet's plaintext


class Signer:
    def __init__(self) -> None:
        self._key = SigningKey(bytes(range(32)))
        self.public_key = bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message).signature


def make_keys(maker: Path, count: int) -> tuple[list[str], bytes]:
    """`count` keys in one `gpg --gen-key` run; their fingerprints and public certificates."""
    spec = "".join(
        "Key-Type: eddsa\nKey-Curve: ed25519\nSubkey-Type: ecdh\nSubkey-Curve: cv25519\n"
        f"Name-Real: Custodian {i}\nExpire-Date: 5y\n%no-protection\n%commit\n"
        for i in range(count)
    )
    gpg = ["gpg", "--homedir", str(maker), "--batch", "--no-options"]
    subprocess.run([*gpg, "--gen-key"], input=spec.encode(), check=True, capture_output=True)
    listing = subprocess.run([*gpg, "--with-colons", "-k"], check=True, capture_output=True)
    lines = listing.stdout.decode().splitlines()
    fprs = [lines[i + 1].split(":")[9] for i, x in enumerate(lines) if x.startswith("pub:")]
    exported = subprocess.run([*gpg, "--export"], check=True, capture_output=True).stdout
    subprocess.run(["gpgconf", "--homedir", str(maker), "--kill", "all"], check=False)
    return fprs, exported


def seal_one(gpg: Gpg, key: CustodianKey, shard_id: int, n: int, signer: Signer) -> bytes:
    line = SHARD_LINE.format(id=shard_id)
    content = PacketContent("bench", key.fingerprint, shard_id, n, n, ROOT_KEY, DIGEST, line)
    return encode_packet(seal_packet(gpg, key, content, signer), armor=True)


def bare_one(home: Path, fingerprint: str) -> bytes:
    gpg = ["gpg", "--homedir", str(home), "--batch", "--no-options", "--trust-model", "always"]
    run = subprocess.run(
        [*gpg, "-e", "-r", fingerprint], input=PLAINTEXT, capture_output=True, check=True
    )
    return run.stdout


def one_round(gpg: Gpg, fprs: list[str], signer: Signer) -> tuple[float, float, float]:
    """Seconds for custody (one key listing, then every packet), for the bare runs, and for
    the listing alone.

    The two alternate packet by packet, so that noise from other work on the machine falls
    on both alike.
    """
    start = time.perf_counter()
    keys = load_custodian_keys(gpg, tuple(fprs))
    listing = time.perf_counter() - start
    custody, bare = listing, 0.0
    for shard_id, key in enumerate(keys, start=1):
        start = time.perf_counter()
        seal_one(gpg, key, shard_id, len(keys), signer)
        middle = time.perf_counter()
        bare_one(gpg.home, key.fingerprint)
        custody, bare = custody + middle - start, bare + time.perf_counter() - middle
    return custody, bare, listing


def bench(root: Path, count: int, signer: Signer) -> tuple[float, float, float, float]:
    """Best seconds: custody's sealing, the bare runs, the key listing, one open_gpg context."""
    maker = root / f"m{count}"
    maker.mkdir(mode=0o700)
    fprs, exported = make_keys(maker, count)
    with open_gpg(root / f"h{count}") as gpg:
        gpg.import_keys(exported)
        rounds = [one_round(gpg, fprs, signer) for _ in range(max(ROUNDS, 100 // count))]
    start = time.perf_counter()
    with open_gpg(root / f"h{count}"):
        context = time.perf_counter() - start
    custody, bare, listing = (min(column) for column in zip(*rounds, strict=True))
    return custody, bare, listing, context


def main(counts: list[int]) -> None:
    root = Path(tempfile.mkdtemp(prefix="cb", dir="/tmp"))
    signer = Signer()
    version = subprocess.run(["gpg", "--version"], capture_output=True, check=True).stdout
    print(version.decode().splitlines()[0])
    print(
        f"{'N':>5} {'custody s':>10} {'ms/packet':>10} {'listing ms':>10}"
        f" {'bare s':>8} {'ms/run':>7} {'ratio':>6} {'w/o listing':>11}"
    )
    try:
        for count in counts:
            custody, bare, listing, context = bench(root, count, signer)
            print(
                f"{count:>5} {custody:>10.3f} {1000 * custody / count:>10.2f}"
                f" {1000 * listing:>10.1f} {bare:>8.3f} {1000 * bare / count:>7.2f}"
                f" {custody / bare:>6.2f} {(custody - listing) / bare:>11.2f}"
            )
        print(
            f"one open_gpg context (version check, agents stopped twice): {1000 * context:.1f} ms"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5, 50, 255])
