"""The host self-check: custody refuses to hold a secret where the kernel could copy it out.

While a ceremony runs, a shard or the root key lives in custody's memory, and the kernel can
copy that memory elsewhere: to a swap device, into a hibernation image, into a core file when
custody crashes, or to another process of the same user through ptrace or /proc/<pid>/mem.
`harden_process` closes what the process itself can close (core files, dumpability);
`check_host` reports what it cannot (swap, hibernation, Yama's ptrace scope) and whether the
installed software is the software the image was built with (the software manifest,
custody.software; bad-inputs G06, G10, H05); `require_safe_host` raises when a fatal check
fails.

This module reads /proc, /sys and installed files and changes nothing but the process's own
limits: turning swap off or rebooting without hibernation is the operator's decision. No
finding or message ever contains secret material.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.errors import StateError
from custody.formats.softwaremanifest import SoftwareManifestError, load_software_manifest

MANIFEST_ENV: Final = "CUSTODY_SOFTWARE_MANIFEST"
DEFAULT_MANIFEST: Final = Path("/usr/lib/custody/software-manifest.json")
IMAGE_RELEASE: Final = Path("etc/custody-image-release")  # under the root: only images have it
PR_GET_DUMPABLE: Final = 3  # <linux/prctl.h>
PR_SET_DUMPABLE: Final = 4
_SHOWN_PROBLEMS: Final = 10
_DISK_MODE: Final = re.compile(r"\[([a-z-]+)\]")


class HostCheckError(StateError):
    """A fatal host check failed: custody will not handle secrets on this machine as it is."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result. `fatal` says whether a failure of this check stops custody."""

    name: str
    ok: bool
    detail: str
    fatal: bool

    @property
    def failed(self) -> bool:
        return self.fatal and not self.ok


@dataclass(frozen=True, slots=True)
class HostReport:
    findings: tuple[Finding, ...]

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.failed)

    @property
    def is_safe(self) -> bool:
        return not self.failures


def harden_process() -> None:
    """Make this process unable to leave a core file or be read by other processes."""
    # No core file can ever hold a shard: soft and hard limit 0, so neither this process
    # nor any child it starts can raise it again (lowering a hard limit is one-way).
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Non-dumpable: no core either, and processes of the same user can no longer ptrace
    # custody or read /proc/<pid>/mem (the kernel asks for CAP_SYS_PTRACE instead). Programs
    # custody starts (gpg) are dumpable again after exec; they keep the core limit of 0.
    # Where prctl is missing (not Linux) nothing happens here and check_host reports it.
    libc = _libc()
    if libc is not None:
        libc.prctl(PR_SET_DUMPABLE, *_args(0))


def check_host(
    *,
    root: Path = Path("/"),
    software_manifest: Path | None = None,
    env: Mapping[str, str] = os.environ,
) -> HostReport:
    """Every check, in a fixed order. /proc and /sys are read under `root` (tests give a
    fake tree); the process's own dumpability and core limit are always the real ones."""
    proc, sys_ = root / "proc", root / "sys"
    return HostReport(
        (
            _check_swap(proc),
            _check_dumpable(),
            _check_core_limit(),
            _check_ptrace_scope(proc),
            _check_hibernation(sys_, proc),
            *_check_installed_software(root, software_manifest, env),
        )
    )


def require_safe_host(report: HostReport) -> None:
    """Raise HostCheckError naming every failed fatal check and what to do about it."""
    failures = report.failures
    if not failures:
        return
    names = list(dict.fromkeys(f.name for f in failures))  # unique, in the report's order
    reasons = "; ".join(_summary(name, [f for f in failures if f.name == name]) for name in names)
    raise HostCheckError(
        f"This host is not safe for secrets ({len(names)} failed "
        f"check{'s' if len(names) > 1 else ''}): {reasons}.",
        kind="unsafe-host",
        hint="Run `custody selfcheck` to see every check; the appliance image passes them all.",
    )


def check_software(manifest_path: Path) -> list[Finding]:
    """The installed software against the manifest at `manifest_path`: one finding per problem,
    at most ten and a summary, or one ok finding."""
    # Imported here: importlib.metadata is a third of this module's import time, and a
    # machine without a manifest (a developer's) never needs it.
    from custody.software import compare_software

    try:
        manifest = load_software_manifest(manifest_path)
        problems = compare_software(manifest)
    except SoftwareManifestError as error:
        return [Finding("software", False, error.message.rstrip("."), fatal=True)]
    if not problems:
        detail = (
            f"{len(manifest.distributions)} distributions, {manifest.file_count} files match "
            f"{manifest_path}"
        )
        return [Finding("software", True, detail, fatal=True)]
    findings = [Finding("software", False, p, fatal=True) for p in problems[:_SHOWN_PROBLEMS]]
    if len(problems) > _SHOWN_PROBLEMS:
        more = f"and {len(problems) - _SHOWN_PROBLEMS} more differences from {manifest_path}"
        findings.append(Finding("software", False, more, fatal=True))
    return findings


def resolve_software_manifest(
    given: Path | None, env: Mapping[str, str] = os.environ
) -> tuple[Path, bool]:
    """The manifest to check and whether it was named (option or environment) explicitly."""
    if given is not None:
        return given, True
    if env.get(MANIFEST_ENV):
        return Path(env[MANIFEST_ENV]), True
    return DEFAULT_MANIFEST, False


def _check_installed_software(
    root: Path, given: Path | None, env: Mapping[str, str]
) -> list[Finding]:
    path, explicit = resolve_software_manifest(given, env)
    if explicit or path.exists():
        return check_software(path)
    if (root / IMAGE_RELEASE).exists():
        detail = (
            f"this is an appliance image (/{IMAGE_RELEASE}) without its software manifest "
            f"{path}: the image is incomplete; rebuild it with image/build.sh"
        )
        return [Finding("software", False, detail, fatal=True)]
    detail = (
        f"not an appliance install: no software manifest at {path} (name one with "
        f"--software-manifest or ${MANIFEST_ENV})"
    )
    return [Finding("software", False, detail, fatal=False)]


def _check_swap(proc: Path) -> Finding:
    try:
        lines = (proc / "swaps").read_text().splitlines()[1:]
    except OSError as error:
        detail = f"cannot tell whether swap is on: {proc / 'swaps'}: {error.strerror or error}"
        return Finding("swap", False, detail, fatal=True)
    devices = [line.split()[0] for line in lines if line.strip()]
    if devices:
        detail = (
            f"swap is on ({', '.join(devices)}): run swapoff -a; the appliance image has no swap"
        )
        return Finding("swap", False, detail, fatal=True)
    return Finding("swap", True, "no swap device is active", fatal=True)


def _check_dumpable() -> Finding:
    libc = _libc()
    if libc is None:
        return Finding("dumpable", False, f"cannot ask prctl on {sys.platform}", fatal=True)
    value = int(libc.prctl(PR_GET_DUMPABLE, *_args()))
    if value == 0:
        return Finding("dumpable", True, "the process is not dumpable", fatal=True)
    detail = (
        f"the process is dumpable (PR_GET_DUMPABLE={value}): its memory can be dumped or read "
        "by other processes of the same user; custody must harden itself first"
    )
    return Finding("dumpable", False, detail, fatal=True)


def _check_core_limit() -> Finding:
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if (soft, hard) == (0, 0):
        return Finding("core-limit", True, "core files are off (RLIMIT_CORE 0, hard 0)", fatal=True)
    detail = (
        f"core files are possible (RLIMIT_CORE soft {_limit(soft)}, hard {_limit(hard)}): "
        "custody must set both to 0 first"
    )
    return Finding("core-limit", False, detail, fatal=True)


def _check_ptrace_scope(proc: Path) -> Finding:
    path = proc / "sys/kernel/yama/ptrace_scope"
    try:
        scope = int(path.read_text().strip())
    except (OSError, ValueError):
        detail = (
            "Yama is not active (no kernel.yama.ptrace_scope): processes of the same user "
            "may ptrace each other; custody is non-dumpable, which refuses them anyway"
        )
        return Finding("ptrace-scope", False, detail, fatal=False)
    if scope < 1:
        detail = (
            "kernel.yama.ptrace_scope is 0: any process of the same user may ptrace another; "
            "custody is non-dumpable, which refuses them anyway (sysctl kernel.yama.ptrace_scope=1)"
        )
        return Finding("ptrace-scope", False, detail, fatal=False)
    return Finding("ptrace-scope", True, f"kernel.yama.ptrace_scope is {scope}", fatal=False)


def _check_hibernation(sys_: Path, proc: Path) -> Finding:
    reasons = []
    try:
        mode = _DISK_MODE.search((sys_ / "power/disk").read_text())
    except OSError:
        mode = None  # no hibernation support in this kernel
    if mode is not None and mode[1] != "disabled":
        reasons.append(f"/sys/power/disk offers [{mode[1]}]")
    try:
        cmdline = (proc / "cmdline").read_text().split()
    except OSError:
        cmdline = []
    reasons += [f"the kernel command line has {w}" for w in cmdline if w.startswith("resume=")]
    if reasons:
        detail = (
            f"hibernation is possible ({'; '.join(reasons)}): memory would be written to "
            "disk; boot with nohibernate (the appliance image does not hibernate)"
        )
        return Finding("hibernation", False, detail, fatal=False)
    return Finding("hibernation", True, "hibernation is not possible", fatal=False)


def _summary(name: str, failures: list[Finding]) -> str:
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"{name}: {failures[0].detail}{more}"


def _limit(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def _args(*values: int) -> list[ctypes.c_ulong]:
    # prctl(2) is variadic and reads four unsigned longs: a bare Python int would be passed
    # as a 32-bit int with undefined upper bits.
    return [ctypes.c_ulong(v) for v in (*values, 0, 0, 0, 0)[:4]]


def _libc() -> ctypes.CDLL | None:
    # The running program's own symbols include libc's: no library search (find_library
    # would run ldconfig) and nothing to load.
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(None, use_errno=True)
