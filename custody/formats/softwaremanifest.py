"""The software manifest file (docs/spec/software-manifest.md §1), read strictly.

A JSON object naming every file of custody's environment with its sha256. It is read at the
start of every command that runs the host self-check, from a path an operator may name, so
it is parsed like any untrusted input: size first, UTF-8, JSON without repeated keys or
non-finite numbers, then exactly the known keys with exactly the expected types and shapes.
Every refusal is one `SoftwareManifestError` naming the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from custody.errors import StateError
from custody.formats.strictjson import decode_strict

FORMAT: Final = "custody-software-manifest/1"
MAX_BYTES: Final = 32 << 20
_NAME: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_VERSION: Final = re.compile(r"[\x21-\x7e]{1,64}")
_PATH: Final = re.compile(r"[^\x00-\x1f\x7f\\]{1,4096}")
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_TOP_KEYS: Final = frozenset({"format", "custody", "site_packages", "distributions"})
_ENTRY_KEYS: Final = frozenset({"name", "version", "files", "bytecode"})


class SoftwareManifestError(StateError):
    """A software manifest that cannot be read or used, or an installation that cannot get one.

    Exit code 4 (appliance state): the manifest belongs to the appliance image, not to input.
    """


@dataclass(frozen=True, slots=True)
class DistributionEntry:
    """One distribution of the manifest, with (path, sha256 hex) pairs sorted by path."""

    name: str
    version: str
    files: tuple[tuple[str, str], ...]
    bytecode: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SoftwareManifest:
    custody: str
    site_packages: str
    distributions: tuple[DistributionEntry, ...]

    @property
    def file_count(self) -> int:
        return sum(len(e.files) + len(e.bytecode) for e in self.distributions)


def encode_software_manifest(manifest: SoftwareManifest) -> bytes:
    document = {
        "format": FORMAT,
        "custody": manifest.custody,
        "site_packages": manifest.site_packages,
        "distributions": [
            {
                "name": e.name,
                "version": e.version,
                "files": dict(e.files),
                "bytecode": dict(e.bytecode),
            }
            for e in manifest.distributions
        ],
    }
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def load_software_manifest(path: Path) -> SoftwareManifest:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SoftwareManifestError(
            f"There is no software manifest at {path}.",
            kind="software-manifest-missing",
            hint="The image build writes it (custody selfcheck --write-manifest); rebuild "
            "the image, or name the right file.",
        ) from None
    except OSError as error:
        raise SoftwareManifestError(
            f"Cannot read the software manifest {path} ({error.strerror or error}).",
            kind="software-manifest-unreadable",
        ) from None
    return parse_software_manifest(data, source=str(path))


def parse_software_manifest(data: bytes, *, source: str) -> SoftwareManifest:
    if len(data) > MAX_BYTES:
        raise _error(source, f"is larger than {MAX_BYTES} bytes")
    try:
        document = decode_strict(data)
    except ValueError as error:
        raise _error(source, f"is not valid JSON ({error})") from None
    document = _object(document, _TOP_KEYS, source, "the manifest")
    if document["format"] != FORMAT:
        raise _error(source, f"is not a {FORMAT} document")
    site = document["site_packages"]
    if not _is_path(site) or not site.startswith("/"):
        raise _error(source, "has a site_packages that is not an absolute path")
    entries = document["distributions"]
    if not isinstance(entries, list):
        raise _error(source, "has distributions that are not a list")
    distributions = tuple(_parse_entry(entry, source) for entry in entries)
    if len({d.name for d in distributions}) != len(distributions):
        raise _error(source, "lists a distribution twice")
    return SoftwareManifest(
        custody=_text(document["custody"], _VERSION, source, "custody's version"),
        site_packages=site,
        distributions=distributions,
    )


def _parse_entry(value: object, source: str) -> DistributionEntry:
    entry = _object(value, _ENTRY_KEYS, source, "each distribution")
    name = _text(entry["name"], _NAME, source, "a distribution name (PEP 503 normalized)")
    return DistributionEntry(
        name=name,
        version=_text(entry["version"], _VERSION, source, f"the version of {name}"),
        files=_hashes(entry["files"], source, name),
        bytecode=_hashes(entry["bytecode"], source, name),
    )


def _hashes(value: object, source: str, name: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise _error(source, f"has files of {name} that are not an object")
    for path, digest in value.items():
        if not _is_path(path) or path.startswith("/"):
            raise _error(source, f"names a file of {name} that is not a relative path")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise _error(source, f"has a hash of {name}'s {path} that is not 64 lower-case hex")
    return tuple(sorted(value.items()))


def _object(value: object, keys: frozenset[str], source: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise _error(source, f"must have {what} as a JSON object with the keys {sorted(keys)}")
    return value


def _text(value: object, pattern: re.Pattern[str], source: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _error(source, f"has a malformed {what}")
    return value


def _is_path(value: object) -> bool:
    return isinstance(value, str) and _PATH.fullmatch(value) is not None


def _error(source: str, problem: str) -> SoftwareManifestError:
    return SoftwareManifestError(
        f"The software manifest {source} {problem}.",
        kind="software-manifest-malformed",
        hint="Rebuild the image, which writes it; custody never repairs it.",
    )
