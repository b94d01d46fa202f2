"""`custody spike check-db`: does a shard set's key open a `spike.db` backup?"""

from __future__ import annotations

import argparse

from custody.cli._common import common_options, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, warn

COMMANDS = {"spike": "check shards against SPIKE's own files"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("spike", help=COMMANDS["spike"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser(
        "check-db", parents=[common_options()], help="check a spike.db backup against shards"
    )
    check.add_argument(
        "--db", type=path_argument, required=True, metavar="PATH", help="the spike.db backup"
    )
    check.add_argument(
        "paths", nargs="+", type=path_argument, metavar="SHARDS", help="shard files or folders"
    )
    check.add_argument("--threshold", type=int, required=True, metavar="T")
    json_option(check)
    check.set_defaults(handler=run_check_db)


def run_check_db(args: argparse.Namespace) -> int:
    from custody.cli.shards import collected_with_warnings
    from custody.commitments import fingerprint_of
    from custody.shamir import fit_polynomial
    from custody.shardfiles import load_shard_files
    from custody.spikedb import check_spike_db

    collected = collected_with_warnings(load_shard_files(args.paths))
    polynomial = fit_polynomial(collected.shards, args.threshold)
    result = check_spike_db(args.db, polynomial.secret.to_bytes(32, "big"))
    fingerprint = fingerprint_of(polynomial.secret)
    if args.json:
        emit_json(
            {
                "db": str(result.path),
                "db_sha256": result.sha256,
                "integrity": result.integrity,
                "rows_checked": result.rows_checked,
                "rows_decrypted": result.rows_decrypted,
                "key_matches": result.key_matches,
                "wal_present": result.wal_present,
                "fingerprint": fingerprint.hex,
            }
        )
    else:
        verdict = (
            "the key opens this backup"
            if result.key_matches
            else "the key does NOT open this backup"
        )
        emit_lines(
            f"{result.path}: integrity {result.integrity}",
            f"rows decrypted: {result.rows_decrypted} of {result.rows_checked}",
            f"{verdict} (fingerprint {fingerprint.short})",
        )
    if result.wal_present:
        warn(
            f"{result.path}-wal exists beside the backup; its content was not checked. "
            "Back up SPIKE's database after a checkpoint, or with `sqlite3 spike.db .backup`."
        )
    if result.key_matches and result.rows_decrypted < result.rows_checked:
        warn(
            f"{result.rows_checked - result.rows_decrypted} row(s) fail to decrypt with the "
            "right key: the backup is damaged."
        )
    return 0 if result.ok else 1
