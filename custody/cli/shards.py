"""`custody shards …`: inspect, verify, commit, combine and split SPIKE shard sets."""

from __future__ import annotations

import argparse
import sys

from custody.cli._common import common_options, harden, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, warn
from custody.errors import InconsistentSetError, ShardSetError, VerificationError

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from custody.commitments import Commitments
    from custody.shardfiles import LoadedShards, ShardFile
    from custody.shards import CollectedShards


COMMANDS = {"shards": "inspect, verify, commit, combine and split shards"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("shards", help=COMMANDS["shards"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [common_options()]

    inspect = verbs.add_parser(
        "inspect", parents=common, help="parse shard files and describe them"
    )
    _paths(inspect)
    json_option(inspect)
    inspect.set_defaults(handler=run_inspect)

    verify = verbs.add_parser("verify", parents=common, help="prove shards are one consistent set")
    _paths(verify)
    _threshold(verify, required=False)
    verify.add_argument(
        "--commitments", type=path_argument, metavar="FILE", help="check each shard alone"
    )
    json_option(verify)
    verify.set_defaults(handler=run_verify, parser=verify)

    commit = verbs.add_parser("commit", parents=common, help="write a set's public commitments")
    _paths(commit)
    _threshold(commit)
    commit.add_argument("--out", type=path_argument, required=True, metavar="FILE")
    json_option(commit)
    commit.set_defaults(handler=run_commit)

    combine = verbs.add_parser("combine", parents=common, help="rebuild the root key's fingerprint")
    _paths(combine)
    _threshold(combine)
    combine.add_argument(
        "--commitments",
        type=path_argument,
        metavar="FILE",
        help="check every shard against the set's commitments first",
    )
    combine.add_argument("--reveal-key", action="store_true", help="also print the root key (hex)")
    json_option(combine)
    combine.set_defaults(handler=run_combine)

    split = verbs.add_parser("split", parents=common, help="write a SPIKE-format shard set")
    _threshold(split)
    split.add_argument("--shares", type=int, required=True, metavar="N", help="shards to make")
    split.add_argument("--out", type=path_argument, required=True, metavar="DIR")
    split.add_argument(
        "--key-file", type=path_argument, metavar="FILE", help="64 hex digits; else fresh"
    )
    json_option(split)
    split.set_defaults(handler=run_split)


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=path_argument,
        metavar="PATH",
        help="shard files or folders of them",
    )


def _threshold(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--threshold", type=int, required=required, metavar="T", help="shards needed to rebuild"
    )


def _load(paths: list[Path]) -> CollectedShards:
    from custody.shardfiles import load_shard_files

    return collected_with_warnings(load_shard_files(paths))


def collected_with_warnings(loaded: LoadedShards) -> CollectedShards:
    """The shards of a load, after warning about every trap skipped and every exact copy."""
    for skipped in loaded.skipped:
        warn(f"skipped, never read: {skipped.error.message}")
    collected = loaded.collect()
    for source in collected.duplicate_sources:
        warn(f"{source}: an exact copy of a shard already read; counted once.")
    return collected


def run_inspect(args: argparse.Namespace) -> int:
    from custody.shardfiles import load_shard_files
    from custody.shards import collect_shards

    loaded = load_shard_files(args.paths)
    rows = [_inspect_row(f) for f in loaded.files]
    problems = [
        {"file": str(p.path), "kind": p.error.kind, "message": p.error.message}
        for p in loaded.problems
    ]
    try:
        collect_shards(f.parsed.shard for f in loaded.files)
    except ShardSetError as conflict:
        problems.append({"file": "", "kind": conflict.kind, "message": conflict.message})
    skipped = [
        {"file": str(p.path), "kind": p.error.kind, "message": p.error.message}
        for p in loaded.skipped
    ]
    ids = sorted({f.parsed.shard.id for f in loaded.files})
    if args.json:
        emit_json(
            {
                "shards": rows,
                "problems": problems,
                "skipped": skipped,
                "ids": ids,
                "count": len(ids),
            }
        )
    else:
        for f, row in zip(loaded.files, rows, strict=True):
            notes = f"  ({'; '.join(f.parsed.notes)})" if f.parsed.notes else ""
            short_digest = str(row["digest"])[:23]
            emit_lines(f"{f.path}: shard {row['id']}, {row['format']}, {short_digest}{notes}")
        emit_lines(f"{len(ids)} distinct shard(s): ids {', '.join(map(str, ids)) or 'none'}")
        for trap in skipped:
            warn(f"skipped, never read: {trap['message']}")
        for problem in problems:
            print(f"custody: error: {problem['message']}", file=sys.stderr)
    return 3 if problems else 0


def _inspect_row(shard_file: ShardFile) -> dict[str, Any]:
    import hashlib

    from custody.formats.spike import encode_shard_line

    shard = shard_file.parsed.shard
    return {
        "file": str(shard_file.path),
        "id": shard.id,
        "format": shard_file.parsed.encoding,
        "notes": list(shard_file.parsed.notes),
        # The digest covers the canonical line, so an upper-case or newline-ended copy of the
        # same shard has the same digest.
        "digest": "sha256:" + hashlib.sha256(encode_shard_line(shard)).hexdigest(),
        "file_sha256": shard_file.file_sha256,
    }


def run_verify(args: argparse.Namespace) -> int:
    if args.threshold is None and args.commitments is None:
        # A usage mistake argparse cannot express ("at least one of"): exit 2 like the others.
        args.parser.error("needs --threshold T or --commitments FILE (or both)")
    collected = _load(args.paths)
    if args.commitments is not None:
        return _verify_against_commitments(args, collected)
    return _verify_consistency(args, collected)


def _verify_consistency(args: argparse.Namespace, collected: CollectedShards) -> int:
    from custody.commitments import fingerprint_of
    from custody.shamir import fit_polynomial

    try:
        polynomial = fit_polynomial(collected.shards, args.threshold)
    except InconsistentSetError as error:
        if args.json:
            emit_json(_verify_document(False, error.bad_ids, None, collected, args.threshold))
        raise
    fingerprint = fingerprint_of(polynomial.secret)
    redundancy = len(collected.shards) - args.threshold
    if args.json:
        emit_json(_verify_document(True, (), fingerprint.hex, collected, args.threshold))
    else:
        emit_lines(
            f"consistent: {len(collected.shards)} shards lie on one polynomial "
            f"(threshold {args.threshold})",
            f"fingerprint: {fingerprint.hex}",
            f"short fingerprint: {fingerprint.short}",
        )
    if redundancy == 0:
        warn(
            "exactly threshold shards always fit one polynomial: this proves nothing about them. "
            "Check them against the set's commitments (--commitments FILE)."
        )
    return 0


def _verify_against_commitments(args: argparse.Namespace, collected: CollectedShards) -> int:
    from custody.commitments import find_bad_shards

    commitments = _load_commitments(args)
    bad_ids = find_bad_shards(collected.shards, commitments)
    fingerprint = commitments.fingerprint
    if args.json:
        emit_json(
            _verify_document(
                not bad_ids, bad_ids, fingerprint.hex, collected, commitments.threshold
            )
        )
    else:
        for shard in collected.shards:
            verdict = "BAD: does not match the commitments" if shard.id in bad_ids else "ok"
            emit_lines(f"{shard.label()}: {verdict}")
        emit_lines(f"fingerprint: {fingerprint.hex}", f"short fingerprint: {fingerprint.short}")
    if bad_ids:
        names = ", ".join(str(i) for i in bad_ids)
        print(
            f"custody: error: shard(s) {names} do not belong to the committed set.",
            file=sys.stderr,
        )
        return 1
    return 0


def _verify_document(
    consistent: bool,
    bad_ids: tuple[int, ...],
    fingerprint: str | None,
    collected: CollectedShards,
    threshold: int,
) -> dict[str, Any]:
    return {
        "consistent": consistent,
        "bad_ids": list(bad_ids),
        "fingerprint": fingerprint,
        "threshold": threshold,
        "ids": list(collected.ids),
    }


def _load_commitments(args: argparse.Namespace) -> Commitments:
    """The --commitments document, refused when --threshold (if given) disagrees with it."""
    from custody.formats.commitments import MAX_DOCUMENT_BYTES, parse_commitments
    from custody.shardfiles import read_small_regular_file

    path: Path = args.commitments
    commitments = parse_commitments(
        read_small_regular_file(path, MAX_DOCUMENT_BYTES), source=str(path)
    )
    if args.threshold is not None and args.threshold != commitments.threshold:
        raise ShardSetError(
            f"--threshold {args.threshold} disagrees with {path}, "
            f"which records threshold {commitments.threshold}.",
            kind="threshold-mismatch",
        )
    return commitments


def run_commit(args: argparse.Namespace) -> int:
    from custody.atomicfile import write_file_atomic
    from custody.commitments import commit
    from custody.formats.commitments import encode_commitments
    from custody.shamir import fit_polynomial

    harden()
    collected = _load(args.paths)
    polynomial = fit_polynomial(collected.shards, args.threshold)
    commitments = commit(polynomial, collected.ids)
    write_file_atomic(args.out, encode_commitments(commitments), mode=0o644)
    fingerprint = commitments.fingerprint
    if args.json:
        emit_json(
            {
                "out": str(args.out),
                "fingerprint": fingerprint.hex,
                "threshold": args.threshold,
                "ids": list(collected.ids),
            }
        )
    else:
        emit_lines(
            f"wrote {args.out}",
            f"fingerprint: {fingerprint.hex}",
            f"short fingerprint: {fingerprint.short}",
        )
    return 0


def run_combine(args: argparse.Namespace) -> int:
    from custody.commitments import fingerprint_of
    from custody.shamir import fit_polynomial

    collected = _load(args.paths)
    commitments = None
    if args.commitments is not None:
        commitments = _load_commitments(args)
        _refuse_uncommitted_shards(collected, commitments, args.commitments)
    elif len(collected.shards) == args.threshold:
        warn(
            "exactly threshold shards always fit one polynomial: nothing shows that they belong "
            "together, and a damaged or forged shard rebuilds a wrong key. "
            "Check them first with --commitments FILE."
        )
    polynomial = fit_polynomial(collected.shards, args.threshold)
    fingerprint = fingerprint_of(polynomial.secret)
    if commitments is not None and fingerprint != commitments.fingerprint:
        # Cannot happen when every shard verified; checked anyway, because a wrong key shown
        # to a cheating custodian would let them compute the real one.
        raise VerificationError(
            f"the rebuilt key's fingerprint differs from {args.commitments}; nothing is shown.",
            kind="key-check-failed",
        )
    key_hex = polynomial.secret.to_bytes(32, "big").hex() if args.reveal_key else None
    if args.json:
        document: dict[str, Any] = {
            "fingerprint": fingerprint.hex,
            "fingerprint_short": fingerprint.short,
            "threshold": args.threshold,
            "ids": list(collected.ids),
        }
        if key_hex is not None:
            document["root_key"] = key_hex
        emit_json(document)
    else:
        emit_lines(f"fingerprint: {fingerprint.hex}", f"short fingerprint: {fingerprint.short}")
        if key_hex is not None:
            emit_lines(f"root key: {key_hex}")
    return 0


def _refuse_uncommitted_shards(
    collected: CollectedShards, commitments: Commitments, source: Path
) -> None:
    """Check every shard alone before anything is combined (B05: exactly t shards carry no
    integrity signal of their own)."""
    from custody.commitments import find_bad_shards

    bad_ids = find_bad_shards(collected.shards, commitments)
    if bad_ids:
        names = ", ".join(str(i) for i in bad_ids)
        raise InconsistentSetError(
            f"shard(s) {names} do not match {source}: nothing was combined.",
            kind="shard-mismatch",
            bad_ids=bad_ids,
            hint="Set the named shard(s) aside and use other custodians' shards.",
        )


def run_split(args: argparse.Namespace) -> int:
    from custody.commitments import commit
    from custody.formats.spike import parse_root_key_text
    from custody.shamir import split

    harden()
    from custody.shardfiles import read_small_regular_file, write_shard_files

    if args.key_file is not None:
        text = read_small_regular_file(args.key_file, 256)
        key = parse_root_key_text(text, source=str(args.key_file))
    else:
        import secrets

        from custody.field import N

        key = 1 + secrets.randbelow(N - 1)
    polynomial, shards = split(key, args.threshold, args.shares)
    written = write_shard_files(args.out, shards)
    fingerprint = commit(polynomial, [s.id for s in shards]).fingerprint
    if args.json:
        emit_json(
            {
                "files": [str(p) for p in written],
                "fingerprint": fingerprint.hex,
                "threshold": args.threshold,
                "shares": args.shares,
            }
        )
    else:
        emit_lines(*(f"wrote {p}" for p in written))
        emit_lines(f"fingerprint: {fingerprint.hex}", f"short fingerprint: {fingerprint.short}")
    return 0
