"""Printing a sheet through CUPS: the adapter for its clients `lp`, `lpstat` and `cancel`.

These are the only programs this module runs, and it prints only bytes the caller checked
(custody.paper.readback.verify_printable_sheet). `print_pdf` hands them to `lp` on its
standard input, so no file is read twice and no temporary file holds the sheet; sets a
neutral job title (CUPS keeps the title in the job's attributes, and cups-pdf names its
output file after it), no banner page, A4, and `job-hold-until=no-hold` (`no` is not a valid
value: CUPS holds such a job); then waits until the job leaves the queue. A printer that is
missing, refuses jobs, is stopped, holds the job, or does not finish in time is a
PrintError, and a job already submitted is cancelled with its files purged. CUPS does not
tell `lpstat` how a finished job ended, so a job that left the queue while the printer
stayed enabled counts as printed; the appliance's CUPS keeps `ErrorPolicy stop-printer`, so
that a failing printer stops and keeps the job (docs/paper.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from custody.errors import BadInputError, StateError

JOB_TITLE: Final = "custody sheet"
DEFAULT_TIMEOUT: Final = 120.0
POLL_SECONDS: Final = 0.25
COMMAND_SECONDS: Final = 30.0
PRINTER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,126}", re.ASCII)
LP_JOB_OPTIONS: Final = ("job-hold-until=no-hold", "job-sheets=none", "media=A4")
"""`lp -o` options besides the title (-t) and one copy (-n 1); the PDF goes to its stdin."""
_REQUEST_ID: Final = re.compile(r"request id is (\S+) \(", re.ASCII)


class PrintError(StateError):
    """The printer or CUPS did not print the sheet; `cancelled` says the job was withdrawn."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        job: str | None = None,
        cancelled: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.job = job
        self.cancelled = cancelled


@dataclass(frozen=True, slots=True)
class PrintedJob:
    printer: str
    job: str
    """The CUPS request id, e.g. custody-pdf-12."""
    seconds: float


def print_pdf(
    pdf: bytes,
    printer: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PrintedJob:
    """Print `pdf` on the CUPS queue `printer` and wait until the job has left the queue."""
    verify_printer_ready(printer)
    started = clock()
    job = _submit(pdf, printer)
    try:
        _wait(job, printer, deadline=started + timeout, timeout=timeout, clock=clock, sleep=sleep)
    except PrintError as error:
        cancelled = _cancel(job, printer)
        raise PrintError(
            error.message if cancelled else f"{error.message} Cancelling it failed too.",
            kind=error.kind,
            job=job,
            cancelled=cancelled,
            hint=error.hint,
        ) from error
    return PrintedJob(printer=printer, job=job, seconds=clock() - started)


def verify_printer_ready(printer: str) -> None:
    """Raise unless `printer` is a CUPS queue that is enabled and accepting jobs."""
    if not PRINTER_NAME.fullmatch(printer):
        raise BadInputError(
            f"{printer!a} is not a printer name custody uses.",
            kind="bad-printer-name",
            hint="Name the CUPS queue as `lpstat -p` lists it (letters, digits, . _ -).",
        )
    status = _run_cups("lpstat", "-p", printer)
    stopped = printer_stopped_reason(status)
    if stopped is not None:
        raise PrintError(
            f"The printer {printer} is stopped ({stopped}).",
            kind="printer-stopped",
            hint=f"Fix the printer, then `cupsenable {printer}`, and print again.",
        )
    accepting = _run_cups("lpstat", "-a", printer)
    if " not accepting " in accepting:
        raise PrintError(
            f"The printer {printer} is not accepting jobs.",
            kind="printer-rejecting",
            hint=f"`cupsaccept {printer}` once it is ready, then print again.",
        )


def _submit(pdf: bytes, printer: str) -> str:
    options = [word for option in LP_JOB_OPTIONS for word in ("-o", option)]
    out = _run_cups("lp", "-d", printer, "-t", JOB_TITLE, "-n", "1", *options, stdin=pdf)
    job = parse_request_id(out)
    if job is None:
        raise PrintError(
            f"`lp` accepted the sheet for {printer} but named no job ({_shown(out)}).",
            kind="print-failed",
        )
    return job


def _wait(
    job: str,
    printer: str,
    *,
    deadline: float,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    while True:
        alerts = queued_job_alerts(
            _run_cups("lpstat", "-l", "-W", "not-completed", "-o", printer), job
        )
        if alerts is None:
            return
        held = [alert for alert in alerts if "hold" in alert or "held" in alert]
        if held:
            raise PrintError(
                f"CUPS holds job {job} on {printer} ({', '.join(held)}).", kind="print-held"
            )
        stopped = printer_stopped_reason(_run_cups("lpstat", "-p", printer))
        if stopped is not None:
            raise PrintError(
                f"The printer {printer} stopped while printing job {job} ({stopped}).",
                kind="printer-stopped",
                hint=f"Fix the printer, `cupsenable {printer}`, and print the sheet again.",
            )
        if clock() >= deadline:
            raise PrintError(
                f"Job {job} on {printer} did not finish within {timeout:g} seconds.",
                kind="print-timeout",
                hint="Check the printer (paper, cable, power) and print the sheet again.",
            )
        sleep(POLL_SECONDS)


def _cancel(job: str, printer: str) -> bool:
    """Withdraw `job` and purge its files; True once it is no longer queued."""
    try:
        _run_cups("cancel", "-x", job)
    except PrintError:
        return False
    try:
        queue = _run_cups("lpstat", "-l", "-W", "not-completed", "-o", printer)
    except PrintError:
        return False
    return queued_job_alerts(queue, job) is None


def parse_request_id(lp_output: str) -> str | None:
    """The job id in `lp`'s "request id is custody-pdf-12 (1 file(s))", or None."""
    match = _REQUEST_ID.search(lp_output)
    return None if match is None else match.group(1)


def queued_job_alerts(lpstat_long: str, job: str) -> tuple[str, ...] | None:
    """The job's state reasons in `lpstat -l -o` output; None when the job is not listed."""
    alerts: tuple[str, ...] | None = None
    current = False
    for line in lpstat_long.splitlines():
        if line and not line[0].isspace():
            current = line.split()[0] == job
            if current:
                alerts = ()
        elif current and line.strip().startswith("Alerts:"):
            alerts = tuple(line.split(":", 1)[1].split())
    return alerts


def printer_stopped_reason(lpstat_p: str) -> str | None:
    """Why `lpstat -p` says the printer is stopped (disabled), or None when it is not."""
    lines = lpstat_p.splitlines()
    if not lines or " disabled since " not in lines[0]:
        return None
    reasons = [line.strip() for line in lines[1:] if line[:1].isspace() and line.strip()]
    return "; ".join(reasons) or "no reason given"


def _run_cups(program: str, *args: str, stdin: bytes = b"") -> str:
    # The C locale keeps CUPS's messages in the English this module parses.
    environment = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        result = subprocess.run(
            [program, *args],
            input=stdin,
            capture_output=True,
            env=environment,
            timeout=COMMAND_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise PrintError(
            f"The CUPS program `{program}` is not installed.",
            kind="cups-missing",
            hint="Install the Debian packages cups and cups-client.",
        ) from None
    except subprocess.TimeoutExpired:
        raise PrintError(
            f"`{program}` did not answer within {COMMAND_SECONDS:g} seconds.",
            kind="cups-unavailable",
            hint="Check that the CUPS scheduler runs (`lpstat -r`).",
        ) from None
    if result.returncode != 0:
        said = _shown(result.stderr.decode("utf-8", "replace"))
        raise PrintError(
            f"`{program} {' '.join(args)}` failed: {said}",
            kind="cups-refused",
            hint="Check the printer's name (`lpstat -p`) and that CUPS runs (`lpstat -r`).",
        )
    return result.stdout.decode("utf-8", "replace")


def _shown(text: str, limit: int = 300) -> str:
    """CUPS's words, on one line, without control characters, and bounded."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat[:limit] or "no message"
