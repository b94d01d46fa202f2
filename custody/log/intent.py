"""Intents: the durable record that an irreversible effect is about to happen (log.md §4).

An effect (writing media, printing, releasing a key, exporting the log) is announced by an
`intent.begin` entry and closed by exactly one `intent.complete` or `intent.abandon` entry
naming the intent's seq and hash. This module owns those payloads and the rule for which
intents are still open; it writes nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from custody.log.canonical import JSON
from custody.log.entry import EVENT_TYPE, Entry

INTENT_BEGIN: Final = "intent.begin"
INTENT_COMPLETE: Final = "intent.complete"
INTENT_ABANDON: Final = "intent.abandon"
INTENT_EVENTS: Final = frozenset({INTENT_BEGIN, INTENT_COMPLETE, INTENT_ABANDON})


@dataclass(frozen=True, slots=True)
class Intent:
    """An announced effect: the `intent.begin` entry that named it."""

    seq: int
    hash: bytes
    effect: str
    ceremony_id: str | None
    detail: Mapping[str, JSON]
    time: str


def check_effect(effect: str) -> None:
    if not EVENT_TYPE.fullmatch(effect) or effect in INTENT_EVENTS:
        raise ValueError(f"effect {effect!r} is not an event type of its own")


def begin_payload(effect: str, detail: Mapping[str, object]) -> dict[str, object]:
    check_effect(effect)
    return {"effect": effect, "detail": detail}


def complete_payload(intent: Intent, result: Mapping[str, object]) -> dict[str, object]:
    return {**_reference(intent), "result": result}


def abandon_payload(intent: Intent, reason: str) -> dict[str, object]:
    if not reason:
        raise ValueError("an abandoned intent needs a reason")
    return {**_reference(intent), "reason": reason}


def _reference(intent: Intent) -> dict[str, object]:
    return {"effect": intent.effect, "intent": intent.seq, "intent_hash": intent.hash.hex()}


def intent_from_entry(entry: Entry) -> Intent | None:
    """The intent an `intent.begin` entry announced; None for any other entry."""
    if entry.event != INTENT_BEGIN:
        return None
    effect, detail = entry.payload.get("effect"), entry.payload.get("detail")
    if not isinstance(effect, str) or not isinstance(detail, dict):
        return None
    return Intent(entry.seq, entry.hash, effect, entry.ceremony_id, detail, entry.time)


def closed_intent(entry: Entry) -> tuple[int, str] | None:
    """(seq, hash hex) of the intent a closing entry names; None for any other entry."""
    if entry.event not in (INTENT_COMPLETE, INTENT_ABANDON):
        return None
    seq, digest = entry.payload.get("intent"), entry.payload.get("intent_hash")
    if type(seq) is not int or not isinstance(digest, str):
        return None
    return seq, digest


class IntentTracker:
    """Follows intents through entries in seq order; what is left open is dangling."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, str], Intent] = {}

    def observe(self, entry: Entry) -> None:
        intent = intent_from_entry(entry)
        if intent is not None:
            self._open[(intent.seq, intent.hash.hex())] = intent
            return
        closed = closed_intent(entry)
        if closed is not None:
            self._open.pop(closed, None)

    def is_open(self, intent: Intent) -> bool:
        return (intent.seq, intent.hash.hex()) in self._open

    @property
    def dangling(self) -> tuple[Intent, ...]:
        return tuple(sorted(self._open.values(), key=lambda intent: intent.seq))


def find_dangling(entries: Iterable[Entry]) -> tuple[Intent, ...]:
    tracker = IntentTracker()
    for entry in entries:
        tracker.observe(entry)
    return tracker.dangling
