"""custody's command line: parse, call the library, show the result, choose the exit code.

Rules every command follows:
- stdout carries only what the user asked for (tables, or the `--json` document);
  diagnostics go to stderr as `custody: error: …` then `custody: hint: …`.
- Secret material (a root key, a shard value) reaches stdout only when a flag such as
  `--reveal-key` names it.
- Exit codes: 0 ok, 1 verification failed, 2 usage, 3 bad input, 4 appliance state or
  environment. An unexpected exception is a bug and keeps its traceback.
- Domain modules are imported inside the handlers, so `custody --help` starts fast; for the
  same reason only the chosen command's parser is built in full (each command module names
  its top-level commands in `COMMANDS`, and the others get a one-line stub).
"""

from __future__ import annotations

import argparse
import sys

from custody import __version__
from custody.cli import (
    appliance,
    ceremony,
    custodian,
    log,
    media,
    packet,
    paper,
    rehearse,
    shards,
    spike,
)
from custody.cli._output import report_error
from custody.errors import CustodyError

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from collections.abc import Sequence

_GROUPS = (rehearse, appliance, ceremony, shards, spike, custodian, packet, media, paper, log)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custody",
        description="Offline key custody for SPIKE root-key shards.",
        epilog="Exit codes: 0 ok, 1 verification failed, 2 usage, 3 bad input, "
        "4 appliance state or environment.",
    )
    parser.add_argument("--version", action="version", version=f"custody {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((word for word in argv if not word.startswith("-")), None)
    for group in _GROUPS:
        names: dict[str, str] | None = getattr(group, "COMMANDS", None)
        if names is None or chosen in names:
            group.register(commands)
        else:
            for name, summary in names.items():
                commands.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words).parse_args(words)
    try:
        exit_code: int = args.handler(args)
    except CustodyError as error:
        report_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("custody: interrupted", file=sys.stderr)
        return 130
    return exit_code
