"""The ceremony engine: order, acknowledgements, the log as state, and resuming after a crash."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from custody.appliance import init_home, load_appliance
from custody.ceremonies.engine import Action, CeremonyError, CeremonyRun, Request, run_ceremony
from custody.ceremonies.script import CeremonyScriptError, Role, Script, Step, parse_script
from custody.errors import BadInputError

SCRIPT = b"""
format = "custody-ceremony/1"
name = "demo"
title = "A demonstration"

[roles]
operator = { min = 1 }
witness = { min = 2 }

[[steps]]
id = "first"
title = "First"
say = "Say this aloud."
action = "demo.count"
acknowledge = ["operator"]

[[steps]]
id = "second"
title = "Second"
say = "And this."
action = "demo.fail-once"
acknowledge = ["operator", "witness"]
"""


class ScriptedOperator:
    def __init__(self, witnesses: tuple[str, ...] = ("Wes", "Wanda")) -> None:
        self.shown: list[str] = []
        self.notices: list[str] = []
        self.witnesses = witnesses

    def show(self, step: Step, number: int, total: int) -> None:
        self.shown.append(step.id)

    def acknowledge(self, step: Step, roles: tuple[Role, ...]) -> Mapping[str, tuple[str, ...]]:
        return {"operator": ("Olivia",), "witness": self.witnesses}

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def obtain(self, request: Request) -> None:
        raise AssertionError(f"no step of the demo asks for {request.what}")


class Actions:
    def __init__(self) -> None:
        self.count = 0
        self.failures_left = 1

    def table(self) -> dict[str, Action]:
        return {"demo.count": self.count_action, "demo.fail-once": self.fail_once}

    def count_action(self, run: CeremonyRun) -> Mapping[str, object]:
        self.count += 1
        return {"count": self.count}

    def fail_once(self, run: CeremonyRun) -> Mapping[str, object]:
        if self.failures_left:
            self.failures_left -= 1
            raise BadInputError("the stick is missing.", kind="no-stick")
        return {}


def script_and_home(tmp_path: Path) -> tuple[Script, Path]:
    home = tmp_path / "home"
    init_home(home)
    return parse_script(SCRIPT, source="demo.toml", known_actions=Actions().table()), home


def test_a_ceremony_runs_in_order_and_resumes_after_a_failure(tmp_path: Path) -> None:
    script, home = script_and_home(tmp_path)
    actions = Actions()
    operator = ScriptedOperator()
    with load_appliance(home).open_log() as log:
        with pytest.raises(BadInputError):
            run_ceremony(home, log, script, actions.table(), operator, params={})
        ceremony_id = next(e.ceremony_id for e in log.entries() if e.event == "ceremony.start")
        assert ceremony_id is not None
        run_ceremony(
            home, log, script, actions.table(), operator, params={}, ceremony_id=ceremony_id
        )
        events = [e.event for e in log.entries(ceremony_id=ceremony_id)]
    assert events == [
        "ceremony.start",
        "ceremony.step",
        "ceremony.step_failed",
        "ceremony.step",
        "ceremony.finish",
    ]
    assert actions.count == 1, "the finished first step did not run again"
    assert operator.shown == ["first", "second", "second"]


def test_h02_too_few_witnesses_leave_the_step_unrecorded(tmp_path: Path) -> None:
    script, home = script_and_home(tmp_path)
    actions = Actions()
    actions.failures_left = 0
    with load_appliance(home).open_log() as log:
        with pytest.raises(CeremonyError) as caught:
            run_ceremony(home, log, script, actions.table(), ScriptedOperator(("Wes",)), params={})
        assert caught.value.kind == "unwitnessed"
        steps = [e.payload["step"] for e in log.entries() if e.event == "ceremony.step"]
    assert steps == ["first"]


def test_a_finished_ceremony_cannot_run_again(tmp_path: Path) -> None:
    script, home = script_and_home(tmp_path)
    actions = Actions()
    actions.failures_left = 0
    with load_appliance(home).open_log() as log:
        run = run_ceremony(home, log, script, actions.table(), ScriptedOperator(), params={})
        with pytest.raises(CeremonyError) as caught:
            run_ceremony(
                home,
                log,
                script,
                actions.table(),
                ScriptedOperator(),
                params={},
                ceremony_id=run.ceremony_id,
            )
    assert caught.value.kind == "finished"


@pytest.mark.parametrize(
    "change",
    [
        (b'action = "demo.count"', b'action = "demo.unknown"'),
        (b'acknowledge = ["operator"]', b'acknowledge = ["auditor"]'),
        (b'id = "second"', b'id = "first"'),
        (b'format = "custody-ceremony/1"', b'format = "custody-ceremony/2"'),
        (b"min = 2", b'min = "two"'),
        (b'say = "And this."', b'say = "And this."\nextra = 1'),
    ],
)
def test_bad_scripts_are_refused(change: tuple[bytes, bytes]) -> None:
    with pytest.raises(CeremonyScriptError):
        parse_script(SCRIPT.replace(*change), source="demo.toml", known_actions=Actions().table())
