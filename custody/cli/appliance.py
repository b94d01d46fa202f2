"""`custody init` and `custody status`: create the appliance home, and show where it all is."""

from __future__ import annotations

import argparse

from custody.cli._common import common_options, json_option
from custody.cli._output import emit_json, emit_lines, warn

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from custody.appliance import Appliance
    from custody.ceremonies.drills import DrillStatus

COMMANDS = {
    "init": "create the appliance home: signing key, log and config",
    "status": "show the home, the appliance key and the log's size and head",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser("init", parents=[common_options()], help=COMMANDS["init"])
    json_option(init)
    init.set_defaults(handler=run_init)
    status = commands.add_parser("status", parents=[common_options()], help=COMMANDS["status"])
    json_option(status)
    status.set_defaults(handler=run_status)


def run_init(args: argparse.Namespace) -> int:
    from custody.appliance import init_home, resolve_home

    appliance = init_home(resolve_home(args.home))
    if not args.json:
        emit_lines(f"created the appliance home {appliance.home}")
    return _show(appliance, json=args.json)


def run_status(args: argparse.Namespace) -> int:
    from custody.appliance import load_appliance, resolve_home

    return _show(load_appliance(resolve_home(args.home)), json=args.json)


def _show(appliance: Appliance, *, json: bool) -> int:
    # Status reads only the newest row and the intents: fast at any log size. The chain
    # itself is `custody log verify`'s job.
    from custody.ceremonies.drills import EVENTS, drill_status

    with appliance.read_log(check=False) as reader:
        head = reader.head()
        dangling = reader.dangling_intents()
        drills = drill_status(reader.entries_of(EVENTS))
    size = head.seq if head else 0
    if json:
        emit_json(
            {
                "home": str(appliance.home),
                "config": str(appliance.config_path),
                "key": str(appliance.key_path),
                "public_key": str(appliance.pub_path),
                "log": str(appliance.log_path),
                "created": appliance.created,
                "fingerprint": appliance.key.fingerprint,
                "key_name": appliance.key.name,
                "key_id": appliance.key.key_id.hex(),
                "log_size": size,
                "log_head": head.hash.hex() if head else None,
                "log_head_time": head.time if head else None,
                "dangling_intents": [
                    {"seq": i.seq, "effect": i.effect, "time": i.time} for i in dangling
                ],
                "sets": [
                    {
                        "intake": d.intake_id,
                        "fingerprint_short": d.fingerprint_short,
                        "last_drill": d.last_drill.isoformat() if d.last_drill else None,
                        "drill_due": d.due.isoformat(),
                    }
                    for d in drills
                ],
            }
        )
        return 0
    emit_lines(
        f"home         {appliance.home}",
        f"config       {appliance.config_path}",
        f"key          {appliance.key_path}",
        f"public key   {appliance.pub_path}",
        f"fingerprint  {appliance.key.fingerprint}",
        f"key name     {appliance.key.name} (key id {appliance.key.key_id.hex()})",
        f"log          {appliance.log_path}",
        f"log size     {size} {'entry' if size == 1 else 'entries'}",
        f"log head     {head.hash.hex() if head else '-'}"
        + (f" (entry {head.seq}, {head.event}, {head.time})" if head else ""),
    )
    for intent in dangling:
        warn(
            f"dangling intent: entry {intent.seq}, {intent.effect}, {intent.time}: "
            "the effect may be incomplete; check it before going on."
        )
    _show_drills(drills)
    return 0


def _show_drills(drills: tuple[DrillStatus, ...]) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for drill in drills:
        last = drill.last_drill.date().isoformat() if drill.last_drill else "never"
        emit_lines(
            f"set          {drill.fingerprint_short} (intake {drill.intake_id}): last drill "
            f"{last}, next due {drill.due.date().isoformat()}"
        )
        if drill.is_due(now):
            warn(
                f"a drill of {drill.fingerprint_short} is due: custody drill --of {drill.intake_id}"
            )
