"""Printing through real CUPS: a private cupsd with a cups-pdf queue, started by the tests.

The scheduler runs from its own ServerRoot in a temporary folder, listens only on a socket
there (no port, so parallel runs and a system cupsd are left alone), and keeps neither job
files nor job history, as the appliance's does (docs/paper.md). cups-pdf reads its settings
from /etc/cups only (its config path is compiled in), so the queue's device URI names a
private instance, `cups-pdf:/<name>`, whose `/etc/cups/cups-pdf-<name>.conf` the fixture
writes for the run and removes after it; the PDF lands in the temporary folder. Where the
machine does not allow this (not root, no cupsd, no cups-pdf), those tests skip and say why;
the parsing of CUPS's output and the refusals before CUPS is reached are tested regardless.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.errors import BadInputError
from custody.paper.printing import (
    PrintError,
    parse_request_id,
    print_pdf,
    printer_stopped_reason,
    queued_job_alerts,
)
from custody.paper.scan import read_pdf_metadata, scan_payload
from tests.paper.helpers import NAME, custodian_context, packet

CUPSD = Path("/usr/sbin/cupsd")
CUPS_PDF_BACKEND = Path("/usr/lib/cups/backend/cups-pdf")
CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
CUPS_PDF_CONFIG_DIR = Path("/etc/cups")
CLIENTS = ("lp", "lpstat", "lpadmin", "cancel", "cupsenable", "cupsdisable")
QUEUE = "custody-pdf"

# What CUPS 2.4 printed for these states (captured from the private scheduler below).
LP_SAID = "request id is custody-pdf-6 (0 file(s))\n"
QUEUE_SAID = (
    "custody-pdf-6           root             79872   Tue Dec  1 04:25:03 2026\n"
    "\tStatus: \n"
    "\tAlerts: job-printing\n"
    "\tqueued for custody-pdf\n"
    "custody-pdf-7           root             79872   Tue Dec  1 04:25:04 2026\n"
    "\tAlerts: job-hold-until-specified\n"
    "\tqueued for custody-pdf\n"
)
STOPPED_SAID = "printer custody-fail disabled since Tue Dec  1 04:25:57 2026 -\n\tpaper jam\n"
IDLE_SAID = "printer custody-pdf is idle.  enabled since Tue Dec  1 04:23:51 2026\n"


@dataclass(frozen=True)
class PrivateCups:
    """A running private cupsd: its socket (for CUPS_SERVER), its folders and its queue."""

    root: Path
    server: str
    queue: str

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CUPS_SERVER": self.server, "LC_ALL": "C"}
        return subprocess.run(args, capture_output=True, text=True, env=env, check=False)

    def printed(self, before: set[Path]) -> list[Path]:
        return sorted(set(self.out.glob("*.pdf")) - before)

    def spooled(self) -> list[str]:
        """Files CUPS or cups-pdf still holds for any job (documents, control files, temps)."""
        return sorted(str(p.relative_to(self.spool)) for p in self.spool.rglob("*") if p.is_file())


class CupsDidNotStart(RuntimeError):
    """The machine has what a private cupsd needs, but it would not run here."""


def cups_unavailable_reason() -> str | None:
    """Why this machine cannot run a private cupsd with a cups-pdf queue, or None."""
    if os.geteuid() != 0:
        return "needs root: cups-pdf's settings live in /etc/cups and its backend runs as root"
    for path, package in (
        (CUPSD, "cups-daemon"),
        (CUPS_PDF_BACKEND, "printer-driver-cups-pdf"),
        (CUPS_PDF_PPD, "printer-driver-cups-pdf"),
    ):
        if not path.exists():
            return f"{path} is missing (Debian package {package})"
    missing = [name for name in CLIENTS if shutil.which(name) is None]
    if missing:
        return f"CUPS clients missing: {', '.join(missing)} (Debian package cups-client)"
    if not os.access(CUPS_PDF_CONFIG_DIR, os.W_OK):
        return f"{CUPS_PDF_CONFIG_DIR} is not writable: cups-pdf reads its instance config there"
    return None


def _write_config(root: Path) -> tuple[Path, Path]:
    for name in ("etc", "spool/tmp", "cache", "run", "log", "out"):
        (root / name).mkdir(parents=True)
    (root / "out").chmod(0o1777)
    files = root / "etc" / "cups-files.conf"
    files.write_text(
        f"ServerRoot {root}/etc\nRequestRoot {root}/spool\nTempDir {root}/spool/tmp\n"
        f"CacheDir {root}/cache\nStateDir {root}/run\nErrorLog {root}/log/error_log\n"
        f"AccessLog {root}/log/access_log\nPageLog {root}/log/page_log\nSystemGroup root\n"
    )
    conf = root / "etc" / "cupsd.conf"
    conf.write_text(
        f"LogLevel warn\nListen {root}/run/cups.sock\nBrowsing No\nWebInterface No\n"
        "ErrorPolicy stop-printer\nPreserveJobFiles No\nPreserveJobHistory No\n"
        "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    )
    return conf, files


def _wait_until_running(cups: PrivateCups, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            break
        if "scheduler is running" in cups.run("lpstat", "-r").stdout:
            return
        time.sleep(0.1)
    log = (cups.root / "log" / "error_log").read_text(errors="replace")[-1000:]
    raise CupsDidNotStart(f"the private cupsd did not start: {log}")


@contextmanager
def private_cups() -> Iterator[PrivateCups]:
    """A private cupsd with a cups-pdf queue writing into its own folder; stopped after."""
    # Filters run as the `lp` user and read the spool: the folder must be traversable.
    root = Path(tempfile.mkdtemp(prefix="custody-cups-", dir="/tmp"))
    root.chmod(0o755)
    instance = f"custodytest{secrets.token_hex(4)}"
    instance_config = CUPS_PDF_CONFIG_DIR / f"cups-pdf-{instance}.conf"
    conf, files = _write_config(root)
    log = (root / "log" / "cupsd.out").open("wb")
    daemon = subprocess.Popen(
        [str(CUPSD), "-f", "-c", str(conf), "-s", str(files)], stdout=log, stderr=log
    )
    cups = PrivateCups(root=root, server=str(root / "run" / "cups.sock"), queue=QUEUE)
    try:
        instance_config.write_text(
            f"Out {root}/out\nAnonDirName {root}/out\nSpool {root}/spool/cups-pdf\n"
            f"Log {root}/log\nGrp root\n"
        )
        _wait_until_running(cups, daemon)
        device = f"cups-pdf:/{instance}"
        added = cups.run("lpadmin", "-p", QUEUE, "-v", device, "-E", "-P", str(CUPS_PDF_PPD))
        if added.returncode != 0:
            raise CupsDidNotStart(f"lpadmin could not add the cups-pdf queue: {added.stderr}")
        yield cups
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        instance_config.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)


def started_cups() -> Iterator[PrivateCups]:
    """A private cupsd for a fixture, or a skip that says why this machine cannot run one."""
    reason = cups_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no private CUPS here: {reason}")
    with ExitStack() as stack:
        try:
            cups = stack.enter_context(private_cups())
        except CupsDidNotStart as error:
            pytest.skip(f"no private CUPS here: {error}")
        yield cups


@pytest.fixture(scope="module")
def cups_server() -> Iterator[PrivateCups]:
    yield from started_cups()


@pytest.fixture
def cups(cups_server: PrivateCups, monkeypatch: pytest.MonkeyPatch) -> PrivateCups:
    monkeypatch.setenv("CUPS_SERVER", cups_server.server)
    return cups_server


# --- What CUPS says, read without a scheduler -------------------------------------------


def test_lp_and_lpstat_output_is_read_as_cups_writes_it() -> None:
    assert parse_request_id(LP_SAID) == "custody-pdf-6"
    assert parse_request_id("lp: Error - The printer or class does not exist.\n") is None
    assert queued_job_alerts(QUEUE_SAID, "custody-pdf-6") == ("job-printing",)
    assert queued_job_alerts(QUEUE_SAID, "custody-pdf-7") == ("job-hold-until-specified",)
    assert queued_job_alerts(QUEUE_SAID, "custody-pdf-60") is None
    assert queued_job_alerts("", "custody-pdf-6") is None
    assert printer_stopped_reason(STOPPED_SAID) == "paper jam"
    assert printer_stopped_reason(IDLE_SAID) is None


@pytest.mark.parametrize("name", ["-dother", "custody pdf", "", "q/1", "caf\u00e9", "a" * 128])
def test_a_printer_name_that_is_not_a_plain_queue_name_is_refused(name: str) -> None:
    with pytest.raises(BadInputError) as caught:
        print_pdf(b"%PDF-1.4", name)
    assert caught.value.kind == "bad-printer-name"


def test_without_cups_clients_printing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrintError) as caught:
        print_pdf(b"%PDF-1.4", QUEUE)
    assert caught.value.kind == "cups-missing"
    assert "`lpstat` is not installed" in caught.value.message


# --- Real CUPS --------------------------------------------------------------------------


def test_a_printed_sheet_scans_back_and_cups_keeps_nothing(cups: PrivateCups, sheet: bytes) -> None:
    before = set(cups.out.glob("*.pdf"))
    job = print_pdf(sheet, cups.queue, timeout=60)
    assert job.printer == cups.queue and job.job.startswith(f"{cups.queue}-")
    # print_pdf returns once the job has left the queue: the file is whole by then (cups-pdf
    # creates it empty when the job starts).
    [printed] = cups.printed(before)
    data = printed.read_bytes()
    assert data.startswith(b"%PDF-")
    payload = scan_payload([(printed.name, data)], binding=custodian_context().binding)
    assert payload == packet(600)
    # F11: no job file, control file or cups-pdf spool file is left behind, and neither the
    # printed file's metadata nor CUPS's logs name the custodian (the job title is neutral).
    assert cups.spooled() == []
    assert NAME not in " ".join(read_pdf_metadata(data).values())
    logs = (p.read_text(errors="replace") for p in (cups.root / "log").iterdir() if p.is_file())
    assert not any(NAME in log for log in logs)


def test_an_unknown_printer_is_named(cups: PrivateCups) -> None:
    with pytest.raises(PrintError) as caught:
        print_pdf(b"%PDF-1.4", "no-such-queue")
    assert caught.value.kind == "cups-refused"
    assert "no-such-queue" in caught.value.message
    assert caught.value.job is None


def test_a_stopped_printer_is_refused_before_anything_is_queued(
    cups: PrivateCups, sheet: bytes
) -> None:
    assert cups.run("cupsdisable", "-r", "paper jam", cups.queue).returncode == 0
    try:
        with pytest.raises(PrintError) as caught:
            print_pdf(sheet, cups.queue)
    finally:
        cups.run("cupsenable", cups.queue)
    assert caught.value.kind == "printer-stopped" and caught.value.job is None
    assert cups.spooled() == []


def test_a_job_that_does_not_finish_is_cancelled_and_purged(
    cups: PrivateCups, sheet: bytes
) -> None:
    # Nothing listens on port 1, so the socket backend keeps retrying: the job never ends.
    queue = "custody-nowhere"
    added = cups.run("lpadmin", "-p", queue, "-v", "socket://127.0.0.1:1", "-E")
    assert added.returncode == 0, added.stderr
    started = time.monotonic()
    with pytest.raises(PrintError) as caught:
        print_pdf(sheet, queue, timeout=1.5)
    assert time.monotonic() - started < 15
    error = caught.value
    assert error.kind == "print-timeout" and error.cancelled
    assert error.job is not None and error.job.startswith(f"{queue}-")
    assert "did not finish within 1.5 seconds" in error.message
    assert cups.run("lpstat", "-W", "not-completed", "-o", queue).stdout == ""
    assert cups.spooled() == []
