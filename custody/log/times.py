"""Log times: UTC instants to the second, `YYYY-MM-DDTHH:MM:SSZ`, from the appliance's clock.

The clock is always a parameter (`now`), defaulting to `utc_now`, so tests reproduce. An
air-gapped machine's clock may be wrong: times are evidence recorded with each entry and
checkpoint, never what orders them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)
_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """An aware datetime as a log time (UTC, whole seconds)."""
    if moment.tzinfo is None:
        raise ValueError("log times are timezone-aware")
    return moment.astimezone(UTC).strftime(_FORMAT)


def is_log_time(text: str) -> bool:
    """True when `text` is a log time naming a real instant."""
    if not TIME.fullmatch(text):
        return False
    try:
        datetime.strptime(text, _FORMAT)
    except ValueError:
        return False
    return True
