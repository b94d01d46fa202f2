"""Print a root filesystem's manifest: one line per entry, sorted by path.

    python3 rootfs-manifest.py ROOTFS > rootfs-manifest.txt

Each line is `TYPE MODE UID GID WHAT PATH`: TYPE is f (file), d, l (link), c, b, p or s; WHAT
is a file's size and SHA-256, a link's target, a device's major,minor, else `-`; extended
attributes (file capabilities) follow the path as ` xattr NAME=HEX`. Times are left out on
purpose: they are normalised in the image anyway. The sha256 of this text is the root
filesystem's digest, and two builds' manifests diff into exactly the files that differ.
Paths are printed with backslash escapes for anything but printable ASCII.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

TYPES = {
    stat.S_IFREG: "f",
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
    stat.S_IFIFO: "p",
    stat.S_IFSOCK: "s",
}


def escape(raw: bytes) -> str:
    return "".join(chr(b) if 0x21 <= b <= 0x7E and b != 0x5C else f"\\x{b:02x}" for b in raw)


def file_digest(path: bytes) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def xattrs(path: bytes) -> str:
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return ""
    return "".join(
        f" xattr {name}={os.getxattr(path, name, follow_symlinks=False).hex()}" for name in names
    )


def entry(root: bytes, relative: bytes) -> str:
    path = os.path.join(root, relative) if relative else root
    info = os.lstat(path)
    kind = TYPES[stat.S_IFMT(info.st_mode)]
    what = "-"
    if kind == "f":
        what = f"{info.st_size}:{file_digest(path)}"
    elif kind == "l":
        what = escape(os.readlink(path))
    elif kind in "cb":
        what = f"{os.major(info.st_rdev)},{os.minor(info.st_rdev)}"
    mode = stat.S_IMODE(info.st_mode)
    name = escape(b"./" + relative if relative else b".")
    return f"{kind} {mode:04o} {info.st_uid} {info.st_gid} {what} {name}{xattrs(path)}"


def walk(root: bytes) -> list[bytes]:
    """Every path below root, relative, without crossing into other filesystems."""
    device = os.lstat(root).st_dev
    found: list[bytes] = []
    pending = [b""]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(root, relative) if relative else root) as entries:
            for item in entries:
                child = os.path.join(relative, item.name) if relative else item.name
                found.append(child)
                if (
                    item.is_dir(follow_symlinks=False)
                    and item.stat(follow_symlinks=False).st_dev == device
                ):
                    pending.append(child)
    return sorted(found)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print("usage: rootfs-manifest.py ROOTFS", file=sys.stderr)
        return 2
    root = os.fsencode(argv[1])
    out = sys.stdout
    out.write(entry(root, b"") + "\n")
    for relative in walk(root):
        out.write(entry(root, relative) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
