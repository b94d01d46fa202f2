"""`custody custodian …`: enrol, list, show, challenge, override and retire custodians.

A custodian is named on the command line by full fingerprint or by the name of exactly one
active custodian; either way only the fingerprint is used and logged from then on. Names and
user ids are printed escaped. Every change is one entry in the signed log, which is the
roster (custody.custodians.roster); the roster shown is folded from a log that verified.
"""

from __future__ import annotations

import argparse
import sys

from custody.cli._common import common_options, json_option, path_argument
from custody.cli._output import emit_json, emit_lines

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from custody.appliance import Appliance
    from custody.custodians.enrolment import LogAppender
    from custody.custodians.roster import Custodian, LogEntry, Roster
    from custody.log import LogReader
    from custody.media.safe_read import ReadFile

COMMANDS = {"custodian": "enrol, list, show, challenge, override and retire custodians"}
_DEFAULT_HORIZON_DAYS = 730  # custody.custodians.DEFAULT_EXPIRY_HORIZON, checked by a test


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("custodian", help=COMMANDS["custodian"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [common_options()]

    add = verbs.add_parser("add", parents=common, help="enrol a custodian's OpenPGP key")
    add.add_argument("name", metavar="NAME", help="1-64 printable characters, unique")
    add.add_argument("--key", type=path_argument, required=True, metavar="FILE")
    add.add_argument(
        "--fingerprint", required=True, metavar="FPR", help="full fingerprint, from elsewhere"
    )
    add.add_argument(
        "--expiry-horizon",
        type=_days,
        default=_DEFAULT_HORIZON_DAYS,
        metavar="DAYS",
        help=f"the key must stay valid this long (default {_DEFAULT_HORIZON_DAYS})",
    )
    json_option(add)
    add.set_defaults(handler=run_add)

    listing = verbs.add_parser("list", parents=common, help="list every custodian, retired too")
    json_option(listing)
    listing.set_defaults(handler=run_list)

    show = verbs.add_parser("show", parents=common, help="one custodian, their key and history")
    _custodian_argument(show)
    json_option(show)
    show.set_defaults(handler=run_show)

    challenge = verbs.add_parser(
        "challenge", parents=common, help="prove a custodian can decrypt with their key"
    )
    _custodian_argument(challenge)
    mode = challenge.add_mutually_exclusive_group()
    mode.add_argument(
        "--out", type=path_argument, metavar="FILE", help="write the challenge here, not stdout"
    )
    mode.add_argument(
        "--answer-from",
        type=path_argument,
        metavar="FILE",
        help="answer the pending challenge from FILE (- for stdin)",
    )
    json_option(challenge)
    challenge.set_defaults(handler=run_challenge)

    for verb, summary in (
        ("override", "let an unchallenged custodian hold a shard (logged)"),
        ("retire", "retire a custodian (kept in the history)"),
    ):
        parser = verbs.add_parser(verb, parents=common, help=summary)
        _custodian_argument(parser)
        parser.add_argument("--reason", required=True, metavar="TEXT", help="why, for the log")
        json_option(parser)
        parser.set_defaults(handler=run_override if verb == "override" else run_retire)


def _custodian_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("custodian", metavar="NAME|FPR", help="a name or a full fingerprint")


def _days(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 36500:
        raise argparse.ArgumentTypeError("a whole number of days, 1 to 36500")
    return int(text)


def load_home(args: argparse.Namespace) -> Appliance:
    from custody.appliance import load_appliance, resolve_home

    return load_appliance(resolve_home(args.home))


def load_verified_roster(reader: LogReader) -> Roster:
    """The roster, folded from the log only after the whole log verified."""
    from custody.custodians.roster import load_roster

    reader.verify()
    return load_roster(reader.entries())


def read_input(path: Path, max_bytes: int) -> ReadFile:
    """A file that may come from a stick: no links followed, regular, size-capped, hashed."""
    from custody.media.safe_read import open_folder, read_file, shown

    with open_folder(path.absolute().parent) as folder:
        return read_file(folder, path.name, shown(str(path.absolute().parent)), max_bytes=max_bytes)


def run_add(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from custody.custodians import MAX_CERTIFICATE_BYTES
    from custody.custodians.enrolment import enrol, open_custody_gpg
    from custody.custodians.roster import fold_entry

    key_file = read_input(args.key, MAX_CERTIFICATE_BYTES)
    appliance = load_home(args)
    with appliance.open_log() as log:
        roster = load_verified_roster(log)
        with open_custody_gpg(appliance.home) as gpg:
            entry = enrol(
                log,
                gpg,
                roster,
                name=args.name,
                key_bytes=key_file.data,
                key_sha256=key_file.sha256,
                fingerprint=args.fingerprint,
                horizon=timedelta(days=args.expiry_horizon),
            )
    custodian = fold_entry(roster, entry).custodians[-1]
    _show(custodian, args.json, first=f"enrolled custodian {custodian.shown_name}")
    print(
        "custody: note: next, prove the custodian holds the key: custody custodian challenge"
        f" {custodian.fingerprint} --out FILE",
        file=sys.stderr,
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    with load_home(args).read_log() as reader:
        roster = load_verified_roster(reader)
    if args.json:
        emit_json({"custodians": [custodian_document(c) for c in roster.custodians]})
        return 0
    rows = [("NAME", "FINGERPRINT", "ASSIGNABLE", "EXPIRES", "STATUS")]
    rows += [
        (c.shown_name, c.fingerprint, "yes" if c.assignable else "no", _date(c.expires), c.status)
        for c in roster.custodians
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    emit_lines(*("  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]) for r in rows))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from custody.custodians import display_user_id, load_custodian_key
    from custody.custodians.enrolment import open_custody_gpg
    from custody.errors import CustodianKeyError

    appliance = load_home(args)
    with appliance.read_log() as reader:
        custodian = load_verified_roster(reader).select(args.custodian, retired=True)
    user_ids: list[str] = []
    key_check = "ok"
    with open_custody_gpg(appliance.home) as gpg:
        try:
            horizon = timedelta(days=custodian.horizon_days)
            key = load_custodian_key(gpg, custodian.fingerprint, horizon=horizon)
            user_ids = [display_user_id(uid) for uid in key.user_ids]
        except CustodianKeyError as refused:  # described; the steps that use the key refuse it
            key_check = f"refused now: {refused.message}"
    if args.json:
        document = custodian_document(custodian)
        document |= {"user_ids": user_ids, "key_check": key_check}
        document["history"] = [
            {"seq": e.seq, "time": e.time, "event": e.event, "detail": e.detail}
            for e in custodian.history
        ]
        emit_json(document)
        return 0
    _show(custodian, False, first=f"custodian {custodian.shown_name}")
    emit_lines(*(f"user id             {uid}" for uid in user_ids))
    emit_lines(f"key check           {key_check}", "history")
    emit_lines(*(f"  {e.seq:>6}  {e.time}  {e.event}  {e.detail}" for e in custodian.history))
    return 0


def run_challenge(args: argparse.Namespace) -> int:
    from custody.custodians.enrolment import issue_challenge, open_custody_gpg
    from custody.custodians.roster import fold_entry

    appliance = load_home(args)
    with appliance.open_log() as log:
        roster = load_verified_roster(log)
        custodian = roster.select(args.custodian)
        if args.answer_from is not None:
            return _answer(log, custodian, _read_answer(args.answer_from), args.json)
        _refuse_existing(args.out)
        with open_custody_gpg(appliance.home) as gpg:
            challenge, entry = issue_challenge(log, gpg, custodian)
        _emit_challenge(custodian, challenge.message, entry, args)
        if args.json or not sys.stdin.isatty():  # answered later, with --answer-from
            return 0
        typed = _prompt_answer(custodian)
        if not typed:
            print("custody: note: the challenge waits for its answer.", file=sys.stderr)
            return 0
        custodian = fold_entry(roster, entry).select(custodian.fingerprint)
        return _answer(log, custodian, typed, args.json)


def _emit_challenge(
    custodian: Custodian, message: bytes, entry: LogEntry, args: argparse.Namespace
) -> None:
    from custody.atomicfile import write_file_atomic

    if args.out is not None:
        write_file_atomic(args.out, message, mode=0o644)
    if args.json:
        emit_json(
            {
                "fingerprint": custodian.fingerprint,
                "name": custodian.name,
                "issued_seq": entry.seq,
                "out": None if args.out is None else str(args.out),
                "message": None if args.out is not None else message.decode("ascii"),
            }
        )
    elif args.out is None:
        sys.stdout.write(message.decode("ascii"))
    else:
        emit_lines(f"wrote the challenge for {custodian.shown_name} to {args.out}")
    print(
        "custody: note: the custodian decrypts it with their own key (gpg --decrypt FILE),"
        f" then: custody custodian challenge {custodian.fingerprint} --answer-from FILE",
        file=sys.stderr,
    )


def _refuse_existing(out: Path | None) -> None:
    from custody.errors import BadInputError

    if out is not None and (out.exists() or out.is_symlink()):
        raise BadInputError(
            f"{out}: already exists; custody does not overwrite it.",
            kind="output-exists",
            hint="choose another name, or move the existing file away first",
        )


def _prompt_answer(custodian: Custodian) -> str:
    sys.stderr.write(
        f"custody: type the answer {custodian.shown_name} read from the decrypted challenge"
        " (Enter alone: answer later): "
    )
    sys.stderr.flush()
    return sys.stdin.readline().strip()


def _read_answer(path: Path) -> str:
    from custody.custodians.enrolment import MAX_ANSWER_BYTES
    from custody.errors import BadInputError

    if str(path) == "-":
        data = sys.stdin.buffer.read(MAX_ANSWER_BYTES + 1)
    else:
        data = read_input(path, MAX_ANSWER_BYTES).data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    # Refused before the challenge is used up: these are mistakes, not wrong answers.
    if not text.strip() or len(data) > MAX_ANSWER_BYTES:
        raise BadInputError(
            f"{path}: not an answer: it is empty, not UTF-8 text, or over {MAX_ANSWER_BYTES}"
            " bytes. The challenge still waits for its answer.",
            kind="bad-answer",
            hint="give the text `gpg --decrypt` printed, or just its answer line",
        )
    return text


def _answer(log: LogAppender, custodian: Custodian, answer: str, json: bool) -> int:
    from custody.custodians.enrolment import answer_challenge

    entry = answer_challenge(log, custodian, answer)
    if json:
        document = {"fingerprint": custodian.fingerprint, "name": custodian.name}
        emit_json(document | {"passed": True, "seq": entry.seq})
    else:
        emit_lines(f"custodian {custodian.shown_name} passed the challenge (entry {entry.seq})")
    return 0


def run_override(args: argparse.Namespace) -> int:
    from custody.custodians.enrolment import override

    return _decide(args, override, "recorded an override for")


def run_retire(args: argparse.Namespace) -> int:
    from custody.custodians.enrolment import retire

    return _decide(args, retire, "retired")


def _decide(
    args: argparse.Namespace, step: Callable[[LogAppender, Custodian, str], LogEntry], verb: str
) -> int:
    from custody.custodians.roster import fold_entry

    with load_home(args).open_log() as log:
        roster = load_verified_roster(log)
        custodian = roster.select(args.custodian)
        entry = step(log, custodian, args.reason)
    custodian = fold_entry(roster, entry).select(custodian.fingerprint, retired=True)
    if args.json:
        emit_json(custodian_document(custodian) | {"seq": entry.seq})
    else:
        shown = f"{custodian.shown_name} ({custodian.fingerprint})"
        emit_lines(f"{verb} custodian {shown}, entry {entry.seq}; status: {custodian.status}")
    return 0


def _show(custodian: Custodian, json: bool, *, first: str) -> None:
    if json:
        emit_json(custodian_document(custodian))
        return
    emit_lines(
        first,
        f"fingerprint         {custodian.fingerprint}",
        f"encryption subkey   {custodian.encryption_subkey}",
        f"algorithm           {custodian.algorithm}, encryption {custodian.encryption_algorithm}",
        f"created             {custodian.created}",
        f"expires             {custodian.expires or 'never'}",
        f"status              {custodian.status}",
        f"assignable          {'yes' if custodian.assignable else 'no'}",
    )


def _date(time: str | None) -> str:
    return "never" if time is None else time[:10]


def custodian_document(custodian: Custodian) -> dict[str, object]:
    """A custodian as one JSON object with stable keys (`--json`)."""
    return {
        "name": custodian.name,
        "name_shown": custodian.shown_name,
        "fingerprint": custodian.fingerprint,
        "encryption_subkey": custodian.encryption_subkey,
        "algorithm": custodian.algorithm,
        "encryption_algorithm": custodian.encryption_algorithm,
        "created": custodian.created,
        "expires": custodian.expires,
        "expiry_horizon_days": custodian.horizon_days,
        "status": custodian.status,
        "assignable": custodian.assignable,
        "retired": custodian.retired,
        "challenge_pending": custodian.pending is not None,
        "enrolled_seq": custodian.history[0].seq,
    }
