"""CustodyLog: the appliance's log open for appending events, intents and checkpoints.

This module owns the append path (one transaction per entry: check the head, sign the next
entry, commit), opening and closing intents, and signing checkpoints of the current state.
The clock is a parameter, so tests are reproducible. It refuses reserved event types from
callers (`log.init`, `intent.*`), closing an intent twice, and extending a head that does not
verify.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from custody.log.checkpoint import Checkpoint, sign_checkpoint
from custody.log.entry import ZERO_HASH, Entry, seal_entry
from custody.log.intent import (
    INTENT_ABANDON,
    INTENT_BEGIN,
    INTENT_COMPLETE,
    INTENT_EVENTS,
    Intent,
    abandon_payload,
    begin_payload,
    complete_payload,
    intent_from_entry,
)
from custody.log.keys import Signer
from custody.log.reader import LogReader
from custody.log.store import LogStore
from custody.log.times import format_time, utc_now

INIT_EVENT = "log.init"


class CustodyLog(LogReader):
    """An open, writable custody log signed by `signer`. Close it (or use `with`)."""

    def __init__(
        self, store: LogStore, signer: Signer, *, now: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(store, signer.verifier)
        self._signer = signer
        self._now = now

    def __enter__(self) -> CustodyLog:
        return self

    def append(
        self, event: str, payload: Mapping[str, object], *, ceremony_id: str | None = None
    ) -> Entry:
        """Record one event; returns the entry only once it is durable (committed, fsynced)."""
        if event == INIT_EVENT or event in INTENT_EVENTS or event.startswith("intent."):
            raise ValueError(f"{event} entries are written by the log itself")
        return self._append(event, payload, ceremony_id)

    def intent(
        self, effect: str, detail: Mapping[str, object], *, ceremony_id: str | None = None
    ) -> Intent:
        """Announce an irreversible effect; perform it only after this returns."""
        entry = self._append(INTENT_BEGIN, begin_payload(effect, detail), ceremony_id)
        intent = intent_from_entry(entry)
        if intent is None:  # seal_entry just built it from begin_payload
            raise RuntimeError("an intent entry that does not read back as one")
        return intent

    def complete(self, intent: Intent, result: Mapping[str, object]) -> Entry:
        """Record that the intent's effect happened."""
        return self._close_intent(intent, INTENT_COMPLETE, complete_payload(intent, result))

    def abandon(self, intent: Intent, reason: str) -> Entry:
        """Record that the intent's effect did not and will not happen."""
        return self._close_intent(intent, INTENT_ABANDON, abandon_payload(intent, reason))

    def now(self) -> datetime:
        """The log's clock: the time the next entry would carry."""
        return self._now()

    def checkpoint(self) -> Checkpoint:
        """A checkpoint of the log as it is now, signed now."""
        head = self.head()
        if head is None:
            raise ValueError("an empty log has no checkpoint")
        time = format_time(self._now())
        return sign_checkpoint(self._signer, size=head.seq, head=head.hash, time=time)

    def _append(self, event: str, payload: Mapping[str, object], ceremony_id: str | None) -> Entry:
        with self._store.transaction():
            return self._append_in_transaction(event, payload, ceremony_id)

    def _close_intent(self, intent: Intent, event: str, payload: Mapping[str, object]) -> Entry:
        with self._store.transaction():
            # Checked inside the write transaction, so two closers cannot both succeed.
            # Only entries from the intent on can close it: a ceremony writing hundreds of
            # files checks a few entries per file, not the whole log each time.
            if not self._tracked_intents(since=intent.seq).is_open(intent):
                raise ValueError(f"intent {intent.seq} is not open")
            return self._append_in_transaction(event, payload, intent.ceremony_id)

    def _append_in_transaction(
        self, event: str, payload: Mapping[str, object], ceremony_id: str | None
    ) -> Entry:
        head = self.head()
        if (head is None) != (event == INIT_EVENT):
            raise ValueError("log.init is the first entry of a log, and only the first")
        entry = seal_entry(
            self._signer,
            seq=1 if head is None else head.seq + 1,
            time=format_time(self._now()),
            ceremony_id=ceremony_id,
            event=event,
            payload=payload,
            prev=ZERO_HASH if head is None else head.hash,
        )
        self._store.insert(entry)
        return entry


def start_log(
    store: LogStore,
    signer: Signer,
    payload: Mapping[str, object],
    *,
    now: Callable[[], datetime] = utc_now,
) -> Entry:
    """Write entry 1, `log.init`, into a new, empty store."""
    return CustodyLog(store, signer, now=now)._append(INIT_EVENT, payload, None)
