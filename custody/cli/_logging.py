"""Commands that work with or without an appliance home: logged when there is one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from custody.cli._output import warn

TYPE_CHECKING = False  # typing is not imported on the start-up path; mypy reads this as True
if TYPE_CHECKING:
    from custody.log import CustodyLog


@contextmanager
def log_if_home(home_argument: str | None) -> Iterator[CustodyLog | None]:
    """The home's log when the home exists (a broken home is an error); else None, said aloud."""
    from custody.appliance import load_appliance, resolve_home

    home = resolve_home(home_argument)
    if not home.exists():
        warn(f"no appliance home at {home}: this action is not recorded in a custody log.")
        yield None
        return
    with load_appliance(home).open_log() as log:
        yield log
