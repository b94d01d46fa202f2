"""`custody init`, `custody status` and `custody selfcheck`: create the appliance home, show
where it all is, and check that this host is safe for secrets."""

from __future__ import annotations

import argparse

from custody.cli._common import common_options, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, warn

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from pathlib import Path

    from custody.appliance import Appliance
    from custody.ceremonies.drills import DrillStatus
    from custody.hostcheck import Finding

COMMANDS = {
    "init": "create the appliance home: signing key, log and config",
    "status": "show the home, the appliance key and the log's size and head",
    "selfcheck": "check that this host is safe for secrets: no swap, no core files, the "
    "image's software",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser("init", parents=[common_options()], help=COMMANDS["init"])
    json_option(init)
    init.set_defaults(handler=run_init)
    status = commands.add_parser("status", parents=[common_options()], help=COMMANDS["status"])
    json_option(status)
    status.set_defaults(handler=run_status)
    _register_selfcheck(commands)


def _register_selfcheck(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    selfcheck = commands.add_parser(
        "selfcheck",
        help=COMMANDS["selfcheck"],
        description="Harden this process, then check the host: swap, dumpability, core "
        "limit, ptrace scope, hibernation, and the installed software against the image's "
        "software manifest. Exit 0 when no fatal check fails, 4 otherwise.",
    )
    json_option(selfcheck)
    which = selfcheck.add_mutually_exclusive_group()
    which.add_argument(
        "--software-manifest",
        metavar="PATH",
        type=path_argument,
        help="the software manifest to check against (default: $CUSTODY_SOFTWARE_MANIFEST, "
        "else /usr/lib/custody/software-manifest.json)",
    )
    which.add_argument(
        "--write-manifest",
        metavar="PATH",
        type=path_argument,
        help="for the image build: write the software manifest of this installation to PATH "
        "instead of checking",
    )
    selfcheck.set_defaults(handler=run_selfcheck)


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


def run_selfcheck(args: argparse.Namespace) -> int:
    from custody import __version__
    from custody.hostcheck import check_host, harden_process, require_safe_host
    from custody.software import software_digest

    if args.write_manifest is not None:
        return _write_manifest(args.write_manifest, json=args.json)
    harden_process()
    report = check_host(software_manifest=args.software_manifest)
    digest = software_digest()
    if args.json:
        emit_json(
            {
                "safe": report.is_safe,
                "findings": [_finding_json(f) for f in report.findings],
                "software_digest": digest,
                "custody": __version__,
            }
        )
    else:
        emit_lines(
            *(_finding_line(f) for f in report.findings),
            f"software digest {digest} (custody {__version__})",
        )
    require_safe_host(report)
    return 0


def _write_manifest(path: Path, *, json: bool) -> int:
    from custody.software import software_digest, write_software_manifest

    manifest = write_software_manifest(path)
    digest = software_digest()
    if json:
        emit_json(
            {
                "manifest": str(path),
                "distributions": len(manifest.distributions),
                "files": manifest.file_count,
                "software_digest": digest,
            }
        )
    else:
        emit_lines(
            f"wrote the software manifest {path}: {len(manifest.distributions)} "
            f"distributions, {manifest.file_count} files; software digest {digest}"
        )
    return 0


def _finding_line(finding: Finding) -> str:
    status = "ok" if finding.ok else "FAIL" if finding.fatal else "warn"
    return f"{status:<4} {finding.name}: {finding.detail}"


def _finding_json(finding: Finding) -> dict[str, object]:
    return {
        "name": finding.name,
        "ok": finding.ok,
        "fatal": finding.fatal,
        "detail": finding.detail,
    }
