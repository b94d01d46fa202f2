"""Running a ceremony script: one step at a time, each recorded in the log, resumable.

The engine shows each step, runs its action, collects the acknowledgements the script asks
for, and records the step in the signed log; only then does it move on. The log is the
ceremony's state: after a crash or power loss, running the same ceremony again starts at the
first step that has no `ceremony.step` entry, and any intent the crash left open is shown to
the operator. Actions are therefore written to be rerun: each one checks the log for what it
already did.

The engine never prompts or prints itself: an `Operator` (terminal, or a script of answers
for rehearsals and tests) does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from custody.ceremonies.script import Role, Script, Step
from custody.errors import CustodyError, VerificationError
from custody.log import CustodyLog, Entry, Intent

START = "ceremony.start"
STEP = "ceremony.step"
FAILED = "ceremony.step_failed"
FINISH = "ceremony.finish"
MAX_NAME_LENGTH = 64


class CeremonyError(VerificationError):
    """A ceremony that cannot go on as asked: out of order, unwitnessed, already finished."""


@dataclass(frozen=True, slots=True)
class Request:
    """Something only a person can provide: e.g. a custodian's signature over `document`."""

    what: str
    path: Path
    custodian: str | None = None
    document: bytes | None = None
    kind: str = "signature"
    """What is asked for: "signature" (of `document`) or "checkpoint" (the last printed one)."""


class Operator(Protocol):
    def show(self, step: Step, number: int, total: int) -> None: ...

    def acknowledge(self, step: Step, roles: tuple[Role, ...]) -> Mapping[str, tuple[str, ...]]: ...

    def notice(self, message: str) -> None: ...

    def obtain(self, request: Request) -> None:
        """Have a person put what is asked for at `request.path`, then return."""
        ...


@dataclass
class CeremonyRun:
    """What a ceremony's actions share: the log, the parameters, and state held in memory."""

    ceremony_id: str
    script: Script
    home: Path
    log: CustodyLog
    params: Mapping[str, str]
    operator: Operator
    memory: dict[str, object] = field(default_factory=dict)
    """Values the steps hand on (never written anywhere): shards read, keys rebuilt."""

    def entries(self, event: str | None = None) -> list[Entry]:
        return [
            e for e in self.log.entries(ceremony_id=self.ceremony_id) if event in (None, e.event)
        ]


Action = Callable[[CeremonyRun], Mapping[str, object]]


def new_ceremony_id(name: str, now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return f"{name}-{moment:%Y%m%d}-{secrets.token_hex(3)}"


def run_ceremony(
    home: Path,
    log: CustodyLog,
    script: Script,
    actions: Mapping[str, Action],
    operator: Operator,
    *,
    params: Mapping[str, str],
    ceremony_id: str | None = None,
) -> CeremonyRun:
    """Run (or resume) the ceremony to its end; returns the run with its memory."""
    run = CeremonyRun(
        ceremony_id or new_ceremony_id(script.name), script, home, log, params, operator
    )
    done = _resume_state(run, resuming=ceremony_id is not None)
    for number, step in enumerate(script.steps, start=1):
        if step.id in done:
            continue
        operator.show(step, number, len(script.steps))
        if step.acknowledge_first:
            given = _ask(run, step)
            run.memory["acknowledged"] = _names_given(step, given)
        result = _run_action(run, step, actions)
        if not step.acknowledge_first:
            given = _ask(run, step)
        acknowledged = _acknowledgements(run.script, step, given)
        log.append(
            STEP,
            {"step": step.id, "number": number, "acknowledged": acknowledged, "result": result},
            ceremony_id=run.ceremony_id,
        )
    log.append(FINISH, {"steps": len(script.steps)}, ceremony_id=run.ceremony_id)
    return run


def _resume_state(run: CeremonyRun, *, resuming: bool) -> set[str]:
    entries = run.entries()
    starts = [e for e in entries if e.event == START]
    if not starts:
        if resuming and entries:
            raise CeremonyError(
                f"{run.ceremony_id} has entries but never started.", kind="bad-resume"
            )
        run.log.append(
            START,
            {
                "script": run.script.name,
                "script_sha256": run.script.sha256,
                "title": run.script.title,
                "params": dict(run.params),
            },
            ceremony_id=run.ceremony_id,
        )
        return set()
    if starts[0].payload.get("script_sha256") != run.script.sha256:
        raise CeremonyError(
            f"ceremony {run.ceremony_id} was started with another version of its script.",
            kind="script-changed",
            hint="Resume it with the script it started with (its digest is in the log).",
        )
    if any(e.event == FINISH for e in entries):
        raise CeremonyError(f"ceremony {run.ceremony_id} has already finished.", kind="finished")
    _show_dangling(run)
    return {str(e.payload.get("step")) for e in entries if e.event == STEP}


def _show_dangling(run: CeremonyRun) -> None:
    dangling: tuple[Intent, ...] = run.log.dangling_intents()
    for intent in dangling:
        if intent.ceremony_id == run.ceremony_id:
            run.operator.notice(
                f"entry {intent.seq} ({intent.time}): '{intent.effect}' was begun and never "
                "confirmed; the step that began it runs again and settles it."
            )


def _run_action(
    run: CeremonyRun, step: Step, actions: Mapping[str, Action]
) -> Mapping[str, object]:
    if step.action is None:
        return {}
    try:
        return actions[step.action](run)
    except CustodyError as error:
        run.log.append(
            FAILED,
            {"step": step.id, "kind": error.kind, "exit_code": error.exit_code},
            ceremony_id=run.ceremony_id,
        )
        raise


def _ask(run: CeremonyRun, step: Step) -> Mapping[str, tuple[str, ...]]:
    roles = tuple(run.script.role(name) for name in step.acknowledge)
    return run.operator.acknowledge(step, roles) if roles else {}


def _names_given(step: Step, given: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The acceptable names each role gave, before anyone checks there are enough."""
    return {
        name: [n.strip() for n in given.get(name, ()) if _is_name(n)] for name in step.acknowledge
    }


def _acknowledgements(
    script: Script, step: Step, given: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    acknowledged: dict[str, list[str]] = {}
    named = _names_given(step, given)
    for role in (script.role(name) for name in step.acknowledge):
        names = named[role.name]
        if len(names) < max(role.minimum, 1):
            raise CeremonyError(
                f"step '{step.id}' needs {max(role.minimum, 1)} {role.name}(s) to acknowledge it; "
                f"{len(names)} did. The step is not recorded.",
                kind="unwitnessed",
                hint="Run the ceremony again when enough people are present; it resumes here.",
            )
        acknowledged[role.name] = names
    return acknowledged


def _is_name(name: str) -> bool:
    return bool(name.strip()) and len(name) <= MAX_NAME_LENGTH and name.isprintable()
