"""The software manifest (docs/spec/software-manifest.md): what the image installed, file by file.

The appliance image installs custody and its dependencies from wheels pinned by hash. Each
wheel's RECORD lists the sha256 of every file it installed; at build time the manifest copies
those hashes (and the hashes of the bytecode compiled then) into one file, and the host
self-check recomputes them from the disk (bad-inputs H05). `software_digest` names the
installed software in 32 hex digits, for checkpoints and sheets.

This module only reads the installation: it never repairs or reinstalls anything, and it
says nothing about the interpreter or the Debian packages (dpkg and image/packages.lock own
those). Files are hashed one at a time, streaming, so memory stays flat.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import re
import stat
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Final

from custody import __version__
from custody.atomicfile import write_file_atomic
from custody.formats.softwaremanifest import (
    DistributionEntry,
    SoftwareManifest,
    SoftwareManifestError,
    encode_software_manifest,
)

DIGEST_HEX_DIGITS: Final = 32
_CHUNK: Final = 1 << 20
_REQUIREMENT: Final = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER: Final = re.compile(r"\bextra\s*==")


@dataclass(frozen=True, slots=True)
class Installed:
    version: str
    distribution: metadata.Distribution


def site_packages() -> Path:
    """The running environment's site-packages (Python's purelib), where custody is installed."""
    return Path(sysconfig.get_paths()["purelib"])


def normalize_name(name: str) -> str:
    """PEP 503: lower case, each run of `-`, `_` and `.` one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(site: Path) -> dict[str, Installed]:
    """The distributions whose metadata lives in `site`, by normalized name."""
    found: dict[str, Installed] = {}
    for distribution in metadata.distributions(path=[str(site)]):
        meta = distribution.metadata  # parsed afresh on every access: read it once
        name = normalize_name(meta["Name"] or "")
        if name in found:
            raise SoftwareManifestError(
                f"Two distributions named {name} are installed in {site}.",
                kind="software-duplicate-distribution",
                hint="Reinstall the environment from its wheels.",
            )
        found[name] = Installed(meta["Version"] or "", distribution)
    return found


# --- building and checking ------------------------------------------------------------------


def build_software_manifest(site: Path | None = None) -> SoftwareManifest:
    """The manifest of the installation in `site` (default: the running environment's)."""
    site = site or site_packages()
    entries = []
    for name, installed in sorted(installed_distributions(site).items()):
        files = _recorded_hashes(name, installed.distribution)
        bytecode = _bytecode_hashes(site, installed.distribution, files)
        entries.append(
            DistributionEntry(
                name, installed.version, tuple(sorted(files.items())), tuple(sorted(bytecode))
            )
        )
    return SoftwareManifest(__version__, str(site), tuple(entries))


def compare_software(manifest: SoftwareManifest, site: Path | None = None) -> tuple[str, ...]:
    """Each way the installation in `site` differs from `manifest`, as a sentence; () if none."""
    site = site or site_packages()
    if os.path.realpath(manifest.site_packages) != os.path.realpath(site):
        return (f"the manifest describes {manifest.site_packages}, but custody runs from {site}",)
    problems: list[str] = []
    if manifest.custody != __version__:
        problems.append(f"custody {__version__} runs, but the manifest lists {manifest.custody}")
    installed = installed_distributions(site)
    for entry in manifest.distributions:
        problems.extend(_compare_distribution(entry, installed.get(entry.name), site))
    for name in sorted(installed.keys() - {e.name for e in manifest.distributions}):
        problems.append(f"{name} {installed[name].version} is installed but not in the manifest")
    return tuple(problems)


def write_software_manifest(path: Path, site: Path | None = None) -> SoftwareManifest:
    """Write the manifest of the installation (the image build's step, spec §2)."""
    manifest = build_software_manifest(site)
    problems = compare_software(manifest, site)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SoftwareManifestError(
            f"Cannot write the software manifest {path}: the installation already differs "
            f"from its RECORD files: {problems[0]}{more}.",
            kind="software-not-as-recorded",
            hint="Reinstall the environment from its wheels, then write the manifest again.",
        )
    write_file_atomic(path, encode_software_manifest(manifest), mode=0o644, overwrite=True)
    return manifest


def software_digest(site: Path | None = None) -> str:
    """32 hex digits naming custody's runtime software: versions and RECORD files (spec §4)."""
    installed = installed_distributions(site or site_packages())
    lines = [] if "custody" in installed else [f"custody=={__version__} -\n"]
    for name in sorted(_runtime_closure(installed)):
        record = installed[name].distribution.read_text("RECORD")
        digest = hashlib.sha256(record.encode()).hexdigest() if record is not None else "-"
        lines.append(f"{name}=={installed[name].version} {digest}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()[:DIGEST_HEX_DIGITS]


def _recorded_hashes(name: str, distribution: metadata.Distribution) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for file in distribution.files or ():
        if file.hash is None:
            continue  # RECORD itself, and bytecode pip compiled after unpacking
        raw = b""
        if file.hash.mode == "sha256":
            try:
                raw = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
            except (binascii.Error, ValueError):
                raw = b""
        if len(raw) != 32:
            raise SoftwareManifestError(
                f"The RECORD of {name} gives {file.as_posix()} a hash custody cannot use "
                f"({file.hash.mode}={file.hash.value}); it needs sha256.",
                kind="software-record-malformed",
                hint="Reinstall that distribution from its wheel.",
            )
        hashes[file.as_posix()] = raw.hex()
    return hashes


def _bytecode_hashes(
    site: Path, distribution: metadata.Distribution, recorded: Mapping[str, str]
) -> Iterator[tuple[str, str]]:
    tag = sys.implementation.cache_tag
    if tag is None:
        return
    for file in distribution.files or ():
        source = PurePosixPath(file.as_posix())
        if source.suffix != ".py":
            continue
        cache = source.parent / "__pycache__"
        for level in ("", ".opt-1", ".opt-2"):
            compiled = (cache / f"{source.stem}.{tag}{level}.pyc").as_posix()
            if compiled not in recorded:
                try:
                    yield compiled, sha256_of_file(f"{site}/{compiled}")
                except OSError:
                    continue  # not compiled at this level


def _compare_distribution(
    entry: DistributionEntry, installed: Installed | None, site: Path
) -> Iterator[str]:
    label = f"{entry.name} {entry.version}"
    if installed is None:
        yield f"{label} is not installed"
        return
    if installed.version != entry.version:
        yield f"{entry.name}: the manifest lists {entry.version}, {installed.version} is installed"
    for path, want in (*entry.files, *entry.bytecode):
        try:
            got = sha256_of_file(f"{site}/{path}")
        except FileNotFoundError:
            yield f"{label}: {path} is missing"
        except OSError as error:
            yield f"{label}: {path} cannot be read ({error.strerror or error})"
        else:
            if got != want:
                yield f"{label}: {path} differs from the manifest (sha256 {got[:16]}…)"


def _runtime_closure(installed: Mapping[str, Installed]) -> set[str]:
    # Requirements with an `extra` marker are optional; other markers are not evaluated (that
    # needs `packaging`): a requirement counts when it is installed.
    seen: set[str] = set()
    todo = ["custody"]
    while todo:
        name = todo.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for requirement in installed[name].distribution.requires or ():
            spec, _, marker = requirement.partition(";")
            match = _REQUIREMENT.match(spec)
            if match and not _EXTRA_MARKER.search(marker):
                todo.append(normalize_name(match[1]))
    return seen


def sha256_of_file(path: str) -> str:
    """The sha256 of a regular file, read in chunks of at most 1 MiB; OSError if not one."""
    # O_NONBLOCK: a FIFO put where a file was expected must not hang the check.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        # Plain os.read into the hash: hashlib.file_digest allocates 256 KiB per file, which
        # costs more than hashing the thousands of small files of an installation.
        digest = hashlib.sha256()
        size = min(status.st_size + 1, _CHUNK)
        while chunk := os.read(fd, size):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)
