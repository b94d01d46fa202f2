"""Removable media: find it, mount it inert, read it without trusting it, write to it
verifiably, and wipe the plaintext shards an intake leaves behind.

Public surface:
- `list_media()`, `find_device(node)` → `MediaDevice` (discovery)
- `mount_medium(node, mount_root, writable=)`, `unmount_medium(target, mount_root)`
- `open_folder`, `list_folder`, `select_names`, `read_file`, `read_named_files` (safe reading)
- `write_verified(folder, name, data)` → `WrittenFile`
- `find_shard_files(folder)`, `wipe_shard_files(folder, names, is_taken_in)` → `WipedFile`
Every function works on a plain folder as well as on a mounted stick.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DEFAULT_MOUNT_ROOT: Final = Path("/run/custody/media")


def mount_root() -> Path:
    """Where custody mounts media: runtime state on tmpfs, gone at reboot.

    `CUSTODY_MEDIA_ROOT` overrides it (tests, or a system without /run).
    """
    return Path(os.environ.get("CUSTODY_MEDIA_ROOT", str(DEFAULT_MOUNT_ROOT)))
