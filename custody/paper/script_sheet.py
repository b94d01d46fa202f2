"""A ceremony script as a printable checklist: every step, what to say, a box to tick and
initials for each role that acknowledges it, rendered from the same file the engine runs."""

from __future__ import annotations

from custody import __version__
from custody.ceremonies.script import Script, Step
from custody.paper.blocks import heading, paragraph, signature_lines
from custody.paper.layout import Block, write_sheet
from custody.paper.pdf import Pen


def render_script(script: Script) -> bytes:
    blocks: list[Block] = [
        *heading(f"custody ceremony: {script.title}", size=15),
        paragraph(
            f"Script '{script.name}', digest sha256:{script.sha256[:16]}…; custody {__version__}. "
            "Roles: "
            + ", ".join(f"{role.name} (at least {role.minimum})" for role in script.roles)
            + ". The ceremony id: ______________________"
        ),
    ]
    for number, step in enumerate(script.steps, start=1):
        blocks += _step(number, step)
    blocks += heading("Closing signatures")
    blocks += signature_lines([f"{role.name}: name, signature, date" for role in script.roles])
    return write_sheet(blocks, title="custody ceremony script", footer=f"custody {script.name}")


def _step(number: int, step: Step) -> list[Block]:
    def box(pen: Pen, x: float, y: float) -> None:
        for x1, y1, x2, y2 in (
            (x, y, x + 9, y),
            (x + 9, y, x + 9, y - 9),
            (x + 9, y - 9, x, y - 9),
            (x, y - 9, x, y),
        ):
            pen.line(x1, y1, x2, y2)
        pen.text(x + 16, y - 8.5, f"{number}. {step.title}", font="bold", size=11)

    action = f"custody runs: {step.action}" if step.action else "no custody action"
    return [
        Block(16, box, keep_with_next=True),
        paragraph(" ".join(step.say.split()), indent=16),
        paragraph(action, font="mono", size=8, indent=16),
        *signature_lines([f"{role} initials" for role in step.acknowledge], per_row=3),
    ]
