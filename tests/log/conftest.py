"""Fixtures for the log tests: a deterministic home with a small, varied log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from custody.appliance import Appliance, init_home
from custody.log.keys import Signer, generate_signer

SEED = bytes(range(1, 33))
OTHER_SEED = bytes(range(101, 133))


class Clock:
    """A clock that moves one second each time it is read."""

    def __init__(self, start: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def appliance(tmp_path: Path, clock: Clock) -> Appliance:
    return init_home(tmp_path / "home", now=clock, seed=SEED)


@pytest.fixture
def other_signer() -> Signer:
    return generate_signer(OTHER_SEED)


def fill(appliance: Appliance, clock: Clock, count: int = 7) -> None:
    """Append `count` entries after log.init: intent 3 closed by 5, intent 6 left open."""
    with appliance.open_log(now=clock) as log:
        log.append("log.note", {"text": "seal 4471 intact"})
        closed = log.intent("media.write", {"device": "stick-a"}, ceremony_id="intake-1")
        log.append("shards.intake", {"digest": "ab" * 32, "shard": 1}, ceremony_id="intake-1")
        log.complete(closed, {"written": 1})
        log.intent("paper.print", {"sheet": 2}, ceremony_id="intake-1")
        for number in range(count - 5):
            log.append("log.note", {"text": f"note {number}", "list": [1, None, True]})


@pytest.fixture
def filled(appliance: Appliance, clock: Clock) -> Iterator[Appliance]:
    fill(appliance, clock)
    yield appliance
