"""`custody ceremony run|print`, and the shortcuts `custody intake|restore|drill|checkin`.

Each shortcut runs the ceremony script of that name shipped with custody (the files in the
project's `ceremony/` folder) with its options as parameters; `ceremony run` runs any script
with `--param NAME=VALUE`. Prompts come from the terminal, or from `--answers FILE` in
rehearsals and tests. Rerunning with `--resume CEREMONY-ID` continues at the first step the
log does not show as done.
"""

from __future__ import annotations

import argparse

from custody.cli._common import common_options, harden, path_argument
from custody.cli._output import emit_lines

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from pathlib import Path

COMMANDS = {
    "ceremony": "run or print a ceremony script",
    "intake": "take a SPIKE shard set into custody (ceremony/intake.toml)",
    "restore": "rebuild the SPIKE shard files from custodians' packets (ceremony/restore.toml)",
    "drill": "a restore that emits nothing (ceremony/drill.toml)",
    "checkin": "one custodian proves they hold their shard (ceremony/checkin.toml)",
    "reissue": "hand a custodian's shard to a new custodian (ceremony/reissue.toml)",
    "reshare": "split the same key anew to new custodians and threshold (ceremony/reshare.toml)",
}

# option dest -> (flag, metavar, help); each becomes the ceremony parameter of the same name.
_OPTIONS = {
    "intake": [
        ("from", "--from", "DIR", "the intake folder or mounted stick"),
        ("threshold", "--threshold", "T", "shards needed to rebuild the key"),
        ("media_out", "--media-out", "DIR", "where the custodians' packets are written"),
        ("papers_out", "--papers-out", "DIR", "where sheets, manifest and checkpoint go"),
        ("receipts", "--receipts", "DIR", "where custodians' signed receipts appear"),
        ("db", "--db", "FILE", "the spike.db backup taken with the shards"),
        ("spike_version", "--spike-version", "V", "the SPIKE version that wrote the shards"),
        ("date", "--date", "YYYY-MM-DD", "the date printed on the sheets"),
    ],
    "restore": [
        ("of", "--of", "ID", "the intake ceremony whose set is restored"),
        ("packets", "--packets", "DIR", "the packets presented"),
        ("keyrings", "--keyrings", "DIR", "custodians' GnuPG homes (else custody's own)"),
        ("db", "--db", "FILE", "the spike.db backup to check the key against"),
        ("to", "--to", "DIR", "where the SPIKE shard files are written"),
    ],
}
_OPTIONS["drill"] = [o for o in _OPTIONS["restore"] if o[0] != "to"]
_OPTIONS["checkin"] = [
    ("of", "--of", "ID", "the intake ceremony the packet belongs to"),
    ("packet", "--packet", "FILE", "the custodian's packet"),
    ("keyrings", "--keyrings", "DIR", "custodians' GnuPG homes (else custody's own)"),
]
_OPTIONS["reissue"] = [
    *_OPTIONS["drill"][:3],
    ("shard", "--shard", "ID", "the shard id to hand anew"),
    ("custodian", "--custodian", "FINGERPRINT", "the new custodian (enrolled, challenged)"),
    ("media_out", "--media-out", "DIR", "where the new packet is written"),
    ("papers_out", "--papers-out", "DIR", "where the new sheet goes"),
    ("date", "--date", "YYYY-MM-DD", "the date printed on the sheet"),
]
_OPTIONS["reshare"] = [
    *_OPTIONS["drill"],
    ("threshold", "--threshold", "T", "shards the new set needs to rebuild the key"),
    *[o for o in _OPTIONS["intake"] if o[0] in ("media_out", "papers_out", "receipts", "date")],
]
_REQUIRED = {
    "from",
    "threshold",
    "media_out",
    "papers_out",
    "receipts",
    "of",
    "packets",
    "to",
    "packet",
    "shard",
    "custodian",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = [common_options()]
    group = commands.add_parser("ceremony", help=COMMANDS["ceremony"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    run = verbs.add_parser("run", parents=common, help="run a ceremony script")
    run.add_argument("script", type=path_argument, metavar="SCRIPT")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    _run_options(run)
    run.set_defaults(handler=run_script)
    printing = verbs.add_parser(
        "print", parents=common, help="the script as a PDF with check boxes"
    )
    printing.add_argument("script", type=path_argument, metavar="SCRIPT")
    printing.add_argument("--out", type=path_argument, required=True, metavar="FILE.pdf")
    printing.set_defaults(handler=print_script)
    for name, options in _OPTIONS.items():
        shortcut = commands.add_parser(name, parents=common, help=COMMANDS[name])
        for dest, flag, metavar, text in options:
            shortcut.add_argument(
                flag, dest=dest, metavar=metavar, help=text, required=dest in _REQUIRED
            )
        if name in ("intake", "reshare"):
            shortcut.add_argument(
                "--assign",
                action="append",
                default=[],
                metavar="ID=FINGERPRINT",
                required=True,
                help="give shard ID to the custodian with this key",
            )
        if name == "intake":
            shortcut.add_argument(
                "--reissue", action="store_true", help="the key may already be in custody"
            )
        shortcut.add_argument(
            "--checkpoint",
            metavar="FILE|none",
            help="the last printed checkpoint (asked for when not given); none: never printed",
        )
        _run_options(shortcut)
        shortcut.set_defaults(handler=run_shortcut, ceremony=name)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--answers", type=path_argument, metavar="FILE", help="acknowledgements from a file"
    )
    parser.add_argument("--resume", metavar="CEREMONY-ID", help="continue this ceremony")


def run_shortcut(args: argparse.Namespace) -> int:
    from importlib import resources
    from pathlib import Path

    params = {
        dest: str(getattr(args, dest))
        for dest, *_ in _OPTIONS[args.ceremony]
        if getattr(args, dest)
    }
    if args.checkpoint:
        params["checkpoint"] = args.checkpoint
    if args.ceremony in ("intake", "reshare"):
        params["assign"] = " ".join(args.assign)
        if getattr(args, "reissue", False):
            params["reissue"] = "yes"
    script = Path(
        str(resources.files("custody") / "ceremonies" / "scripts" / f"{args.ceremony}.toml")
    )
    return _run(args, script, params)


def run_script(args: argparse.Namespace) -> int:
    params = {}
    for item in args.param:
        name, separator, value = item.partition("=")
        if not separator:
            from custody.errors import BadInputError

            raise BadInputError(f"--param {item!r} is not NAME=VALUE.", kind="usage")
        params[name] = value
    return _run(args, args.script, params)


def _run(args: argparse.Namespace, script_path: Path, params: dict[str, str]) -> int:
    from custody.appliance import load_appliance, resolve_home
    from custody.ceremonies import all_actions
    from custody.ceremonies.engine import run_ceremony
    from custody.ceremonies.script import load_script
    from custody.cli._operators import ScriptedOperator, TerminalOperator

    harden()
    actions = all_actions()
    script = load_script(script_path, actions)
    operator = ScriptedOperator(args.answers) if args.answers else TerminalOperator()
    home = resolve_home(args.home)
    with load_appliance(home).open_log() as log:
        run = run_ceremony(
            home, log, script, actions, operator, params=params, ceremony_id=args.resume
        )
    emit_lines(f"ceremony {run.ceremony_id} ({script.name}) finished")
    return 0


def print_script(args: argparse.Namespace) -> int:
    from custody.atomicfile import write_file_atomic
    from custody.ceremonies import all_actions
    from custody.ceremonies.script import load_script
    from custody.paper.script_sheet import render_script

    script = load_script(args.script, all_actions())
    write_file_atomic(args.out, render_script(script), mode=0o644)
    emit_lines(f"wrote {args.out}")
    return 0
