"""`custody rehearse`: the full rehearsal on throwaway and bundled data."""

from __future__ import annotations

import argparse

from custody.cli._common import common_options, harden, path_argument
from custody.cli._output import emit_lines

COMMANDS = {"rehearse": "run the full rehearsal on sample data"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rehearse = commands.add_parser(
        "rehearse", parents=[common_options()], help="run the full rehearsal on sample data"
    )
    rehearse.add_argument(
        "--out",
        type=path_argument,
        metavar="DIR",
        help="an empty or new folder (default: a temporary one)",
    )
    rehearse.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from custody.rehearsal import prepare_output_folder, run_rehearsal

    harden()

    out = prepare_output_folder(args.out)
    emit_lines(f"custody rehearsal in {out}")
    report = run_rehearsal(out, lambda line: emit_lines(f"  ok  {line}"))
    emit_lines("rehearsal passed; artifacts:")
    emit_lines(*(f"  {name}: {path}" for name, path in report.artifacts))
    return 0
