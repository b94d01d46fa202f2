"""Ceremonies: scripted, witnessed, resumable procedures recorded step by step in the log.

`engine` runs a script (`ceremony/*.toml`, parsed by `script`) with the actions of `intake`
and `restore` (which also serves drills and check-ins); `common` holds what actions share.
"""

from __future__ import annotations

from custody.ceremonies.engine import Action


def all_actions() -> dict[str, Action]:
    from custody.ceremonies import intake, reissue, restore

    return {**intake.actions(), **restore.actions(), **reissue.actions()}
