"""`custody media …`: list, mount, unmount removable media and wipe intake shard files."""

from __future__ import annotations

import argparse
import sys

from custody.cli._common import common_options, json_option, path_argument
from custody.cli._output import emit_json, emit_lines, warn

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from custody.media.devices import MediaDevice

COMMANDS = {"media": "list, mount and unmount removable media; wipe intake shard files"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("media", help=COMMANDS["media"])
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    common = [common_options()]

    listing = verbs.add_parser("list", parents=common, help="list removable media")
    listing.add_argument("--all", action="store_true", help="also list internal disks")
    json_option(listing)
    listing.set_defaults(handler=run_list)

    mount = verbs.add_parser("mount", parents=common, help="mount a medium (read-only by default)")
    mount.add_argument("device", type=path_argument, metavar="DEVICE")
    mount.add_argument("--write", action="store_true", help="read-write, for output media")
    json_option(mount)
    mount.set_defaults(handler=run_mount)

    unmount = verbs.add_parser("unmount", parents=common, help="unmount a medium custody mounted")
    unmount.add_argument("target", type=path_argument, metavar="DEVICE|MOUNTPOINT")
    unmount.set_defaults(handler=run_unmount)

    wipe = verbs.add_parser(
        "wipe-shards", parents=common, help="overwrite and delete the shard files taken in"
    )
    wipe.add_argument("folder", type=path_argument, metavar="FOLDER", help="the intake folder")
    wipe.add_argument(
        "--commitments",
        type=path_argument,
        required=True,
        metavar="FILE",
        help="the set taken in: only its shards are wiped",
    )
    json_option(wipe)
    wipe.set_defaults(handler=run_wipe)


def run_list(args: argparse.Namespace) -> int:
    from custody.media.discovery import list_media

    devices = list_media(include_internal=args.all)
    if args.json:
        emit_json({"devices": [_device_document(d) for d in devices]})
        return 0
    if not devices:
        emit_lines("no removable media found")
    for device in devices:
        emit_lines(_device_line(device))
    return 0


def _device_document(device: MediaDevice) -> dict[str, Any]:
    import dataclasses

    document = dataclasses.asdict(device)
    document["mountpoints"] = list(device.mountpoints)
    document["removable"] = device.removable
    document["supported"] = device.supported
    return document


def _device_line(device: MediaDevice) -> str:
    size = (
        f"{device.size_bytes / 1e9:.2f} GB"
        if device.size_bytes >= 1e8
        else f"{device.size_bytes / 1e6:.1f} MB"
    )
    what = " ".join(x for x in (device.vendor, device.model) if x) or device.kind
    filesystem = device.fs_type or "no filesystem"
    label = f" label {device.label!r}" if device.label else ""
    state = f", mounted at {', '.join(device.mountpoints)}" if device.mountpoints else ""
    flags = ", SYSTEM DISK" if device.system else ("" if device.supported else ", not supported")
    digest = f", content {device.content_digest}" if device.content_digest else ""
    return f"{device.node}: {device.kind} {what}, {size}, {filesystem}{label}{digest}{state}{flags}"


def run_mount(args: argparse.Namespace) -> int:
    from custody.media import mount_root
    from custody.media.mounting import mount_medium

    mounted = mount_medium(args.device, mount_root(), writable=args.write)
    if args.json:
        emit_json(
            {
                "device": mounted.device.node,
                "mountpoint": str(mounted.mountpoint),
                "writable": mounted.writable,
                "fs_type": mounted.device.fs_type,
            }
        )
    else:
        access = "read-write" if mounted.writable else "read-only"
        emit_lines(
            f"{mounted.device.node} mounted {access} at {mounted.mountpoint}",
            f"check it is the stick you expect: {_device_line(mounted.device)}",
        )
    return 0


def run_unmount(args: argparse.Namespace) -> int:
    from custody.media import mount_root
    from custody.media.mounting import unmount_medium

    mountpoint = unmount_medium(args.target, mount_root())
    emit_lines(f"unmounted {mountpoint}")
    return 0


def run_wipe(args: argparse.Namespace) -> int:
    from custody.cli._logging import log_if_home
    from custody.media.wipe import FLASH_WARNING, find_shard_files, wipe_shard_files

    is_taken_in = _shard_of(args.commitments)
    names, lookalikes = find_shard_files(args.folder)
    for name in lookalikes:
        warn(f"{name!a} looks like a shard file but is not named exactly like one; left alone.")
    with log_if_home(args.home) as log:
        detail = {"folder": str(args.folder), "files": list(names)}
        intent = log.intent("media.wipe", detail) if log else None
        result = wipe_shard_files(args.folder, names, is_taken_in)
        if log and intent:
            log.complete(
                intent,
                {
                    "wiped": [{"name": w.name, "sha256": w.sha256} for w in result.wiped],
                    "left_alone": [{"name": x.name, "reason": x.reason} for x in result.left_alone],
                },
            )
    for left in result.left_alone:
        warn(f"{args.folder}/{left.name}: left untouched: {left.reason}.")
    if args.json:
        emit_json(
            {
                "folder": str(args.folder),
                "warning": FLASH_WARNING,
                "wiped": [
                    {"name": w.name, "size": w.size, "sha256": w.sha256} for w in result.wiped
                ],
                "left_alone": [{"name": x.name, "reason": x.reason} for x in result.left_alone],
            }
        )
    else:
        emit_lines(*(f"wiped {args.folder}/{w.name}" for w in result.wiped))
        emit_lines(f"{len(result.wiped)} shard file(s) wiped.")
    print(f"custody: note: {FLASH_WARNING}", file=sys.stderr)
    return 0


def _shard_of(commitments_path: Path) -> Callable[[str, bytes], bool]:
    from custody.commitments import verify_shard
    from custody.errors import CustodyError
    from custody.formats.commitments import MAX_DOCUMENT_BYTES, parse_commitments
    from custody.formats.spike import parse_shard_text
    from custody.shardfiles import read_small_regular_file

    commitments = parse_commitments(
        read_small_regular_file(commitments_path, MAX_DOCUMENT_BYTES), source=str(commitments_path)
    )

    def is_taken_in(name: str, content: bytes) -> bool:
        try:
            verify_shard(parse_shard_text(content, source=name).shard, commitments)
        except CustodyError:
            return False
        return True

    return is_taken_in
