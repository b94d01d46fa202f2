"""Options every command shares, so each command group declares them the same way."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from pathlib import Path


def common_options() -> argparse.ArgumentParser:
    """The parent parser every subcommand inherits: `--home`."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--home",
        metavar="DIR",
        help="the appliance home (default: $CUSTODY_HOME, else ~/.local/share/custody)",
    )
    return parent


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document with stable keys"
    )


def harden() -> None:
    """For commands that hold secrets: no core file, not readable by other processes."""
    from custody.hostcheck import harden_process

    harden_process()


def path_argument(text: str) -> Path:
    """argparse `type=` for paths, importing pathlib only once a command runs."""
    from pathlib import Path

    return Path(text)
