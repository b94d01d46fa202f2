"""Ceremonies: scripted, witnessed, resumable procedures recorded step by step in the log.

`engine` runs a script (`ceremony/*.toml`, parsed by `script`) with the actions of
`opening` (what every ceremony does first), `intake`, `restore` (which also serves drills
and check-ins), `reissue` and `reshare`; `common` holds what actions share.
"""

from __future__ import annotations

from custody.ceremonies.engine import Action


def all_actions() -> dict[str, Action]:
    from custody.ceremonies import intake, opening, reissue, reshare, restore

    return {
        **opening.actions(),
        **intake.actions(),
        **restore.actions(),
        **reissue.actions(),
        **reshare.actions(),
    }
