"""The people at a ceremony, as the engine sees them: on a terminal, or from an answers file.

The terminal operator shows each step and asks who acknowledges it; the scripted one (for
rehearsals and tests) takes the names from a TOML answers file, and what the people present
would hand over (the last printed checkpoint: a file, or "none") from its [provide] table:

    [acknowledge]
    operator = ["Olivia Operator"]
    witness = ["Wes Witness", "Wanda Witness"]
    custodian = ["Carol Custodian"]

    [provide]
    checkpoint = "papers/checkpoint.txt"
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from custody.cli._output import warn
from custody.errors import BadInputError

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from custody.ceremonies.engine import Request
    from custody.ceremonies.script import Role, Step


def _show(step: Step, number: int, total: int) -> None:
    print(f"\n== step {number} of {total}: {step.title}", file=sys.stderr)
    for line in step.say.splitlines():
        print(f"   {line}", file=sys.stderr)


class TerminalOperator:
    def show(self, step: Step, number: int, total: int) -> None:
        _show(step, number, total)

    def acknowledge(self, step: Step, roles: tuple[Role, ...]) -> Mapping[str, tuple[str, ...]]:
        answers = {}
        for role in roles:
            typed = input(f"   {role.name}(s) acknowledging '{step.id}' (names, comma separated): ")
            answers[role.name] = tuple(n.strip() for n in typed.split(",") if n.strip())
        return answers

    def notice(self, message: str) -> None:
        warn(message)

    def obtain(self, request: Request) -> None:
        if request.document is not None:
            print(request.document.decode("utf-8", "replace"), file=sys.stderr)
        input(f"   put {request.what} at {request.path}, then press Enter: ")
        _require(request.path, request.what)


class ScriptedOperator:
    def __init__(self, answers: Path) -> None:
        try:
            document = tomllib.loads(answers.read_text(encoding="utf-8"))
            names = document["acknowledge"]
            self.names = {str(k): tuple(str(n) for n in v) for k, v in names.items()}
            self.provided = {str(k): str(v) for k, v in document.get("provide", {}).items()}
        except (
            OSError,
            UnicodeDecodeError,
            tomllib.TOMLDecodeError,
            KeyError,
            AttributeError,
            TypeError,
        ) as error:
            raise BadInputError(
                f"{answers}: not an answers file ([acknowledge] role = [names]): {error}",
                kind="bad-answers",
            ) from None

    def show(self, step: Step, number: int, total: int) -> None:
        _show(step, number, total)

    def acknowledge(self, step: Step, roles: tuple[Role, ...]) -> Mapping[str, tuple[str, ...]]:
        return {role.name: self.names.get(role.name, ()) for role in roles}

    def notice(self, message: str) -> None:
        warn(message)

    def obtain(self, request: Request) -> None:
        provided = self.provided.get(request.kind)
        if provided is not None and not request.path.exists():
            _provide(request.path, provided)
        _require(request.path, request.what)


def _provide(path: Path, provided: str) -> None:
    from custody.atomicfile import write_file_atomic
    from custody.shardfiles import read_small_regular_file

    data = b"none\n" if provided == "none" else read_small_regular_file(Path(provided), 64 * 1024)
    write_file_atomic(path, data)


def _require(path: Path, what: str) -> None:
    from custody.ceremonies.engine import CeremonyError

    if not path.exists():
        raise CeremonyError(
            f"{path} is not there: custody needs {what}.",
            kind="awaiting-input",
            hint="Put it there and run the same command again; the ceremony resumes at this step.",
        )
