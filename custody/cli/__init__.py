"""custody's command line: parse, call the library, show the result, choose the exit code.

Rules every command follows:
- stdout carries only what the user asked for (tables, or the `--json` document);
  diagnostics go to stderr as `custody: error: …` then `custody: hint: …`.
- Secret material (a root key, a shard value) reaches stdout only when a flag such as
  `--reveal-key` names it.
- Exit codes: 0 ok, 1 verification failed, 2 usage, 3 bad input, 4 appliance state or
  environment. An unexpected exception is a bug and keeps its traceback.
- Domain modules are imported inside the handlers, so `custody --help` starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from custody import __version__
from custody.cli import appliance, log, rehearse, shards, spike
from custody.cli._output import report_error
from custody.errors import CustodyError

_GROUPS = (rehearse, appliance, shards, spike, log)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custody",
        description="Offline key custody for SPIKE root-key shards.",
        epilog="Exit codes: 0 ok, 1 verification failed, 2 usage, 3 bad input, "
        "4 appliance state or environment.",
    )
    parser.add_argument("--version", action="version", version=f"custody {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        exit_code: int = args.handler(args)
    except CustodyError as error:
        report_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("custody: interrupted", file=sys.stderr)
        return 130
    return exit_code
