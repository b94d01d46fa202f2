"""G08 and G09 (design/bad-inputs.md): a canary root key through the ceremonies, then hunted.

G08 takes a fresh, recognisable root key (its hex starts `ca4a27`, the rest random), splits
it 2-of-3 with custody's own `split`, puts the three SPIKE shard files on the intake stick
and runs intake → checkin → drill → restore through the installed `custody` command. Then
the key (lower and upper hex, raw bytes, base64, decimal) and each shard value (the same
encodings) are searched for in: every command's stdout and stderr; every file under the
test's root, which holds the appliance home (log.sqlite and any -wal/-shm, the GnuPG home,
the ceremonies work folder), the custodians' stand-in keyrings, the media, papers and
receipts folders, the stick, custody's TMPDIR and the restore output; PDFs are searched raw,
with every Flate stream inflated, and as text extracted by pypdfium2; every file is also
searched with its whitespace removed (hex or base64 broken across lines); and /dev/shm.
The environment is checked twice: /proc/<pid>/environ of the running `custody restore`,
read while it runs (this only shows what the test handed it), and the environment custody
itself gives every gpg and gpgconf it starts, read from /proc/<pid>/environ by a shim that
stands first on PATH and then execs the real program (the same process, so that is the very
environment gpg runs with). The log runs in WAL mode and custody removes -wal/-shm when it
closes the log, so those are searched only if a run left them. Files are searched each time
the intake stops for a custodian's receipt (before its wipe step: only the stick may then
hold shards) and once more after the restore.

Expected: the key appears nowhere; a shard value only in the restore's
`spike.recovery.<id>.txt` (the product's purpose); the stick is wiped.

Out of reach here: "all disks". The media are plain folders on the test machine's
filesystem; the free blocks of a real stick (and flash's remapped blocks, see
custody/media/wipe.py) cannot be scanned from a test, so the wipe is checked at the
filesystem level only (the files are gone and nothing readable in the folder holds a shard).

G09 is informational: how many copies of the rebuilt key a custody process still holds in
its memory after it drops them. See its test's docstring.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from custody.appliance import load_appliance
from custody.field import N
from custody.formats.spike import encode_shard_line, shard_file_name
from custody.shamir import split
from custody.shards import Shard
from tests.ceremonies.conftest import CUSTODY, Appliance, sign_pending_receipts

CANARY_MARK = "ca4a27"  # "canar(y)": the first three bytes of every canary key
PRESENTED = (1, 3)  # the quorum brought to the drill and the restore
MAX_SCANNED_FILE = 64 * 1024 * 1024


def canary_key() -> int:
    key = int(CANARY_MARK + secrets.token_hex(29), 16)
    assert 0 < key < N
    return key


def encodings(value: int) -> dict[str, bytes]:
    raw = value.to_bytes(32, "big")
    return {
        "lowercase hex": raw.hex().encode(),
        "uppercase hex": raw.hex().upper().encode(),
        "raw bytes": raw,
        "base64": base64.b64encode(raw),
        "decimal": str(value).encode(),
    }


@dataclass
class Canary:
    key: int
    shards: tuple[Shard, ...]

    def needles(self) -> dict[str, bytes]:
        """Label → bytes; labels name what was found, never the secret itself."""
        found = {f"root key as {k}": v for k, v in encodings(self.key).items()}
        for shard in self.shards:
            found |= {f"shard {shard.id} as {k}": v for k, v in encodings(shard.value).items()}
        return found


def variants(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The bytes as stored, without whitespace, and for PDFs inflated and as text."""
    yield "as stored", data
    yield "whitespace removed", re.sub(rb"\s+", b"", data)
    if data.startswith(b"%PDF"):
        for number, stream in enumerate(re.findall(rb"stream\r?\n(.*?)endstream", data, re.S)):
            try:
                yield f"stream {number} inflated", zlib.decompressobj().decompress(stream)
            except zlib.error:
                continue
        text = pdf_text(data).encode("utf-8")
        yield "pdfium text", text
        yield "pdfium text, whitespace removed", re.sub(rb"\s+", b"", text)


def pdf_text(data: bytes) -> str:
    """The text pdfium extracts from every page; "" when pdfium cannot open it at all."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return ""  # its inflated streams are still searched
    try:
        return "\n".join(
            str(document[i].get_textpage().get_text_range()) for i in range(len(document))
        )
    finally:
        document.close()


def files_under(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every regular file under `folder` (links not followed); vanished files are skipped."""
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            try:
                info = path.lstat()
                if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_SCANNED_FILE:
                    yield str(path), path.read_bytes()
            except OSError:
                continue


@dataclass
class Evidence:
    """Everything the ceremony left that could hold a secret: (where, bytes) pieces."""

    pieces: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, where: str, data: bytes) -> None:
        self.pieces.append((where, data))

    def hits(self, needles: dict[str, bytes]) -> dict[tuple[str, str], list[str]]:
        """(where, what) → the forms of the piece it was found in."""
        found: dict[tuple[str, str], list[str]] = {}
        for where, data in self.pieces:
            for form, variant in variants(data):
                for label, needle in needles.items():
                    if needle in variant:
                        found.setdefault((where, label), []).append(form)
        return found


@dataclass
class Ceremony:
    app: Appliance
    env: dict[str, str]
    evidence: Evidence = field(default_factory=Evidence)

    def run(self, label: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [CUSTODY, *args], capture_output=True, env=self.env, timeout=120, check=False
        )
        self.keep(label, result.stdout, result.stderr)
        return result

    def keep(self, label: str, stdout: bytes, stderr: bytes) -> None:
        self.evidence.add(f"{label} stdout", stdout)
        self.evidence.add(f"{label} stderr", stderr)

    def home_args(self) -> list[str]:
        return ["--home", str(self.app.home), "--answers", str(self.app.answers)]

    def intake_args(self) -> list[str]:
        """The fixture's intake without --db: the sample spike.db belongs to another key."""
        args = self.app.intake_args()
        at = args.index("--db")
        return args[:at] + args[at + 2 :]


def report(hits: set[tuple[str, str]] | list[tuple[str, str]]) -> str:
    return "\n".join(f"  {where}: {what}" for where, what in sorted(hits))


def put_canary_on_the_stick(stick: Path, shards: tuple[Shard, ...]) -> None:
    for old in stick.iterdir():
        old.unlink()
    for shard in shards:
        fd = os.open(stick / shard_file_name(shard.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(encode_shard_line(shard))


def install_environ_shims(root: Path) -> tuple[Path, Path]:
    """gpg and gpgconf shims that save their /proc/<pid>/environ, then exec the real tool.

    Returns (the folder to put first on PATH, the folder the environments land in).
    """
    shims, seen = root / "shims", root / "environ"
    shims.mkdir()
    seen.mkdir()
    cat = shutil.which("cat") or "/bin/cat"
    for tool in ("gpg", "gpgconf"):
        real = shutil.which(tool)
        assert real is not None, f"{tool} is not installed"
        script = shims / tool
        script.write_text(
            f'#!/bin/sh\n{cat} /proc/$$/environ > "{seen}/{tool}.$$"\nexec {real} "$@"\n'
        )
        script.chmod(0o755)
    return shims, seen


def intake_ceremony_id(app: Appliance) -> str:
    with load_appliance(app.home).read_log() as log:
        starts = [
            e.ceremony_id
            for e in log.entries()
            if e.event == "ceremony.start" and e.payload["script"] == "intake"
        ]
    assert starts and starts[-1] is not None, "no intake ceremony in the log"
    return starts[-1]


def present(app: Appliance, ceremony: str, ids: tuple[int, ...]) -> Path:
    folder = app.root / "presented"
    folder.mkdir()
    for i in ids:
        packet = next((app.root / "media").glob(f"*/{ceremony}-shard-{i}.asc"))
        shutil.copy(packet, folder / packet.name)
    return folder


def restore_watching_environ(c: Ceremony, *args: str) -> tuple[int, bytes | None]:
    """`custody restore`, reading its /proc/<pid>/environ while it runs."""
    process = subprocess.Popen(
        [CUSTODY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=c.env
    )
    try:
        environ: bytes | None = Path(f"/proc/{process.pid}/environ").read_bytes()
    except OSError:
        environ = None  # it ended first; the gpg shims still show what custody passes on
    stdout, stderr = process.communicate(timeout=120)
    c.keep("restore", stdout, stderr)
    return process.returncode, environ


def test_g08_a_canary_key_appears_only_in_the_restored_shard_files(
    appliance: Appliance, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    root = appliance.root
    key = canary_key()
    _, shards = split(key, 2, 3)
    canary = Canary(key, shards)
    put_canary_on_the_stick(appliance.intake_folder, shards)
    shims, seen = install_environ_shims(root)
    (root / "tmp").mkdir()
    dropped = {"CUSTODY_HOME", "XDG_DATA_HOME", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped} | {
        "PATH": f"{shims}:{os.environ.get('PATH', os.defpath)}",
        "TMPDIR": str(root / "tmp"),
        # custody compiled once per test, outside the scanned root (it is custody's code).
        "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"),
    }
    c = Ceremony(appliance, env)

    # 1. The intake stops for each custodian's receipt (step 8), before its wipe (step 9);
    #    at each stop only the stick may hold shards. Then it wipes the stick and closes.
    needles = canary.needles()
    on_the_stick = {
        (str(appliance.intake_folder / shard_file_name(s.id)), f"shard {s.id} as lowercase hex")
        for s in shards
    }
    resume: list[str] = []
    for attempt in range(1, 6):
        intake = c.run(f"intake run {attempt}", *c.intake_args(), *resume)
        if intake.returncode == 0:
            break
        assert b"receipt" in intake.stderr, intake.stderr
        resume = ["--resume", intake_ceremony_id(appliance)]
        before_wipe = Evidence(list(c.evidence.pieces))
        for where, data in files_under(root):
            before_wipe.add(where, data)
        stops = set(before_wipe.hits(needles))
        assert on_the_stick <= stops, "the scan did not find the shards on the stick: it is broken"
        assert stops == on_the_stick, "before the wipe:\n" + report(stops - on_the_stick)
        sign_pending_receipts(appliance)
    assert intake.returncode == 0 and attempt > 1, intake.stderr
    ceremony = intake_ceremony_id(appliance)
    assert not list(appliance.intake_folder.glob("spike.recovery.*")), "the stick was not wiped"

    # 2. A check-in, a drill and a restore by custodians 1 and 3 (no --db: the sample
    #    spike.db belongs to another key).
    packet = next((root / "media").glob(f"*/{ceremony}-shard-2.asc"))
    keyrings = ["--keyrings", str(appliance.keyrings)]
    checkin = c.run(
        "checkin", "checkin", *c.home_args(), "--of", ceremony, "--packet", str(packet), *keyrings
    )
    assert checkin.returncode == 0, checkin.stderr
    packets = present(appliance, ceremony, PRESENTED)
    drill = c.run(
        "drill", "drill", *c.home_args(), "--of", ceremony, "--packets", str(packets), *keyrings
    )
    assert drill.returncode == 0, drill.stderr
    out = root / "restored"
    code, restore_environ = restore_watching_environ(
        c, "restore", *c.home_args(), "--of", ceremony, "--packets", str(packets), *keyrings,
        "--to", str(out),
    )  # fmt: skip
    assert code == 0, c.evidence.pieces[-1][1]
    for shard in shards:
        emitted = out / shard_file_name(shard.id)
        assert emitted.exists() == (shard.id in PRESENTED)
        if shard.id in PRESENTED:
            assert emitted.read_bytes() == encode_shard_line(shard)

    # 3. The environments: custody's own (as the test gave it) and each gpg's (as custody did).
    if restore_environ is not None:
        c.evidence.add("/proc/<custody restore>/environ", restore_environ)
    gpg_environs = sorted(seen.iterdir())
    assert any(p.name.startswith("gpg.") for p in gpg_environs), "no gpg run was seen"
    for path in gpg_environs:
        c.evidence.add(f"/proc/<{path.name}>/environ", path.read_bytes())

    # 4. Everything on disk, then the verdict. (pdfium must read custody's sheets: a text
    #    search of PDFs it could not open would pass for the wrong reason.)
    for sheet in ("summary.pdf", "sheet-shard-1.pdf"):
        assert ceremony in pdf_text((root / "papers" / sheet).read_bytes()), sheet
    for where, data in [*files_under(root), *files_under(Path("/dev/shm"))]:
        c.evidence.add(where, data)
    hits = set(c.evidence.hits(needles))
    intended = {(str(out / shard_file_name(i)), f"shard {i} as lowercase hex") for i in PRESENTED}
    assert intended <= hits, "the scan did not find the restored shards: it is broken"
    leaks = sorted(hits - intended)
    assert not leaks, "canary material outside the restored shard files:\n" + report(leaks)
    record_property("g08_pieces_scanned", len(c.evidence.pieces))
    record_property("g08_bytes_scanned", sum(len(d) for _, d in c.evidence.pieces))
    record_property("g08_gpg_environments_seen", len(gpg_environs))
    record_property("g08_restore_environ_caught", restore_environ is not None)
    record_property("g08_seconds", round(time.monotonic() - started, 1))


# The G09 scanner runs in a process of its own. It reads /proc/self/mem region by region
# into one preallocated mmap buffer (excluded from the scan), and it never holds the key as
# one contiguous run of bytes: it gets two halves and checks the second only where the
# first was found, by comparing memoryview slices (no copies). Its own work therefore adds
# no copy of the key to the memory it counts.
MEMORY_SCAN = r"""
import ctypes, gc, json, mmap, os, sys
from pathlib import Path

from custody.commitments import fingerprint_of
from custody.formats.spike import parse_shard_text
from custody.shamir import combine

CHUNK = 4 << 20
halves = json.loads(sys.stdin.read())
NEEDLES = {
    "raw": (bytes.fromhex(halves[0]), bytes.fromhex(halves[1])),
    "hex": (halves[0].encode(), halves[1].encode()),
}
del halves
BUFFER = mmap.mmap(-1, CHUNK)
VIEW = memoryview(BUFFER)
OWN = ctypes.addressof(ctypes.c_char.from_buffer(BUFFER))
WIDTH = max(len(a) + len(b) for a, b in NEEDLES.values())


def spans():
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1]:
                continue
            for a, b in ((start, min(end, OWN)), (max(start, OWN + CHUNK), end)):
                if a < b:
                    found.append((a, b))
    return found


def count_in(got, limit, counts):
    for name, (first, second) in NEEDLES.items():
        i = BUFFER.find(first, 0, got)
        while i != -1 and i < limit:
            j = i + len(first)
            if j + len(second) <= got and VIEW[j : j + len(second)] == second:
                counts[name] += 1
            i = BUFFER.find(first, i + 1, got)


def scan():
    counts = {name: 0 for name in NEEDLES}
    scanned = skipped = regions = 0
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        for start, end in spans():
            regions += 1
            pos = start
            while pos < end:
                want = min(CHUNK, end - pos)
                try:
                    got = os.preadv(fd, [VIEW[:want]], pos)
                except (OSError, OverflowError, ValueError):
                    got = 0
                if got <= 0:
                    skipped += 1
                    break
                last = pos + got >= end or got < want
                limit = got if last else got - WIDTH + 1
                count_in(got, limit, counts)
                scanned += limit
                if got < want:
                    skipped += 1
                    break
                pos += limit
    finally:
        os.close(fd)
    return {"scanned_bytes": scanned, "regions": regions, "regions_cut_short": skipped, **counts}


# What restore does: parse each decrypted shard line, combine at the quorum, check the
# fingerprint, hand the key's 32 bytes to the spike.db check, then drop everything.
shards = [parse_shard_text(Path(p).read_bytes(), source=Path(p).name).shard for p in sys.argv[1:]]
key = combine(shards)
fingerprint = fingerprint_of(key)
raw = key.to_bytes(32, "big")
live = scan()
del raw, key, shards
gc.collect()
after = scan()
print(json.dumps({"live": live, "after": after}))
"""


class CanaryMemoryReport(UserWarning):
    """G09's figures: copies of a canary key left in a custody process's memory."""


def test_g09_copies_of_the_key_left_in_process_memory_are_counted(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Informational: after custody's combine, `del` and gc.collect(), how many copies remain?

    The known CPython limitation: ints and bytes are immutable, arithmetic and conversions
    make copies, and freed objects are not cleared, so custody cannot erase a key from its
    own memory (the README says so under "What custody cannot promise"). The count is
    reported, never asserted to be zero. The appliance's defence is elsewhere: RAM-only
    operation, no swap or hibernation, a non-dumpable process, and power-off after the
    ceremony. The live key is held as a Python int (30-bit digits, not its 32 raw bytes), so
    raw-byte copies come from `to_bytes`, and hex copies from any formatting of the key.
    The process makes restore's library calls (parse the shard lines, combine, fingerprint,
    `to_bytes` for the spike.db check) on two shard files; gpg's decryption and OpenSSL's
    AES-GCM, which run in other code, are not part of it.

    The test asserts only that the scan ran: more than 1 MB read, and the 32 bytes found
    while `raw` is still alive (a positive control that the scanner can see them at all).
    """
    key = canary_key()
    _, shards = split(key, 2, 3)
    paths = []
    for shard in shards[:2]:
        path = tmp_path / shard_file_name(shard.id)
        path.write_bytes(encode_shard_line(shard))
        paths.append(str(path))
    hexed = key.to_bytes(32, "big").hex()
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCAN, *paths],
        input=json.dumps([hexed[:32], hexed[32:]]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    live, after = figures["live"], figures["after"]
    report = (
        f"G09: canary key copies in a custody process's memory: while held: {live['raw']} raw, "
        f"{live['hex']} hex; after del + gc.collect(): {after['raw']} raw, {after['hex']} hex "
        f"({after['scanned_bytes'] / 2**20:.1f} MiB in {after['regions']} regions scanned, "
        f"{after['regions_cut_short']} unreadable or cut short)"
    )
    warnings.warn(report, CanaryMemoryReport, stacklevel=1)
    for phase, counts in figures.items():
        for name, value in counts.items():
            record_property(f"g09_{phase}_{name}", value)
    assert after["scanned_bytes"] > 2**20 and live["scanned_bytes"] > 2**20
    assert live["raw"] >= 1, "the scanner did not see the key's bytes while they were alive"
