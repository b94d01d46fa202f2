"""Ceremony scripts: the written procedure a ceremony follows, as data (ceremony/README.md).

A script names the roles present (with the least number of each that must acknowledge) and
the steps in order: what to say or do, which custody action runs, and which roles must
acknowledge it. Parsing is strict (unknown keys, duplicate step ids, unknown roles and
actions are refused), and the script's digest is recorded in the log so a ceremony cannot
be resumed under a different script.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from custody.errors import BadInputError

FORMAT: Final = "custody-ceremony/1"
_ID: Final = re.compile(r"[a-z][a-z0-9-]{0,39}", re.ASCII)
# Role names become keys in log payloads, whose keys are [a-z][a-z0-9_]*.
_ROLE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)
_ACTION: Final = re.compile(r"[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*", re.ASCII)
_TOP_KEYS: Final = {"format", "name", "title", "roles", "steps"}
_STEP_KEYS: Final = {"id", "title", "say", "action", "acknowledge"}
_OPTIONAL_STEP_KEYS: Final = {"action", "acknowledge_first"}
MAX_SCRIPT_BYTES: Final = 256 * 1024


class CeremonyScriptError(BadInputError):
    """A ceremony script that custody will not run."""


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    minimum: int


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    say: str
    action: str | None
    acknowledge: tuple[str, ...]
    acknowledge_first: bool = False
    """Ask for the acknowledgements before the action runs (it prints who gave them)."""


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    title: str
    roles: tuple[Role, ...]
    steps: tuple[Step, ...]
    sha256: str

    def role(self, name: str) -> Role:
        return next(role for role in self.roles if role.name == name)


def load_script(path: Path, known_actions: Collection[str]) -> Script:
    data = path.read_bytes()
    if len(data) > MAX_SCRIPT_BYTES:
        raise CeremonyScriptError(
            f"{path}: larger than a ceremony script can be.", kind="bad-script"
        )
    return parse_script(data, source=str(path), known_actions=known_actions)


def parse_script(data: bytes, *, source: str, known_actions: Collection[str]) -> Script:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise _error(source, f"is not valid TOML ({error})") from None
    _require_keys(document, _TOP_KEYS, source, "the script")
    if document["format"] != FORMAT:
        raise _error(source, f"is not a {FORMAT} script")
    roles = _roles(document["roles"], source)
    names = {role.name for role in roles}
    steps = tuple(
        _step(raw, i, source, names, known_actions)
        for i, raw in enumerate(_list(document["steps"], source))
    )
    if len({step.id for step in steps}) != len(steps) or not steps:
        raise _error(source, "needs at least one step, and every step id once")
    return Script(
        name=_text(document["name"], source, "name", pattern=_ID),
        title=_text(document["title"], source, "title"),
        roles=roles,
        steps=steps,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _roles(raw: object, source: str) -> tuple[Role, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise _error(source, "needs a [roles] table naming at least one role")
    roles = []
    for name, spec in raw.items():
        if not _ROLE.fullmatch(name) or not isinstance(spec, Mapping) or set(spec) != {"min"}:
            raise _error(source, f"has a bad role {name!r}: each role is `name = {{ min = N }}`")
        minimum = spec["min"]
        if not isinstance(minimum, int) or isinstance(minimum, bool) or not 0 <= minimum <= 20:
            raise _error(source, f"role {name!r} needs a min between 0 and 20")
        roles.append(Role(name=name, minimum=minimum))
    return tuple(roles)


def _step(raw: object, index: int, source: str, roles: set[str], actions: Collection[str]) -> Step:
    where = f"step {index + 1}"
    raw = _require_keys(
        raw, _STEP_KEYS - _OPTIONAL_STEP_KEYS, source, where, optional=_OPTIONAL_STEP_KEYS
    )
    action = raw.get("action")
    if action is not None and (
        not isinstance(action, str) or not _ACTION.fullmatch(action) or action not in actions
    ):
        raise _error(source, f"{where} names an unknown action {action!r}")
    acknowledge = raw["acknowledge"]
    if not isinstance(acknowledge, list) or not all(
        isinstance(r, str) and r in roles for r in acknowledge
    ):
        raise _error(source, f"{where} must be acknowledged by roles the script names")
    first = raw.get("acknowledge_first", False)
    if not isinstance(first, bool):
        raise _error(source, f"{where} acknowledge_first is true or false")
    return Step(
        id=_text(raw["id"], source, f"{where} id", pattern=_ID),
        title=_text(raw["title"], source, f"{where} title"),
        say=_text(raw["say"], source, f"{where} say").strip(),
        action=action,
        acknowledge=tuple(acknowledge),
        acknowledge_first=first,
    )


def _require_keys(
    raw: object, keys: set[str], source: str, where: str, optional: Collection[str] = ()
) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping) or not keys <= set(raw) or set(raw) - keys - set(optional):
        raise _error(source, f"{where} must have exactly the keys {sorted(keys | set(optional))}")
    return raw


def _list(raw: object, source: str) -> list[Any]:
    if not isinstance(raw, list):
        raise _error(source, "needs [[steps]]")
    return raw


def _text(raw: object, source: str, what: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(raw, str) or not raw.strip() or (pattern and not pattern.fullmatch(raw)):
        raise _error(source, f"has a bad {what}")
    return raw


def _error(source: str, problem: str) -> CeremonyScriptError:
    return CeremonyScriptError(f"{source} {problem}.", kind="bad-script")
