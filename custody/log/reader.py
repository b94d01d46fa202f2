"""LogReader: an open log for reading: its head, entries, dangling intents and verification.

Reading needs only the appliance's public key, never its signing key, so `custody status`,
`show` and `verify` work without touching `appliance.key`. Every entry handed out has been
read strictly; `head` and the intents are also checked against the key and their row. The
whole chain is checked only by `verify`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from types import TracebackType

from custody.errors import LogIntegrityError
from custody.log.checkpoint import Checkpoint
from custody.log.entry import Entry, parse_entry_line, verify_entry_signature
from custody.log.intent import Intent, IntentTracker
from custody.log.keys import VerifierKey
from custody.log.store import LogStore, Record
from custody.log.verify import LogReport, verify_records


class LogReader:
    """An open log and the key its entries must be signed by. Close it (or use `with`)."""

    def __init__(self, store: LogStore, key: VerifierKey) -> None:
        self._store = store
        self._key = key

    def __enter__(self) -> LogReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    @property
    def key(self) -> VerifierKey:
        return self._key

    def head(self) -> Entry | None:
        """The newest entry, checked (shape, hash, signature, position)."""
        record = self._store.last_record()
        return None if record is None else self._checked(record)

    def entries(self, *, ceremony_id: str | None = None) -> Iterator[Entry]:
        """Entries in order, each read strictly (the chain is `verify`'s job)."""
        records = (
            self._store.all_records()
            if ceremony_id is None
            else self._store.ceremony_records(ceremony_id)
        )
        for record in records:
            yield parse_entry_line(record.line, position=record.position)

    def entries_of(self, events: Collection[str]) -> Iterator[Entry]:
        """Entries of these event types only, in order (filtered inside SQLite)."""
        marks = ", ".join("?" for _ in events)
        where = f"WHERE event IN ({marks}) ORDER BY seq"
        for record in self._store.records(where=where, args=tuple(events)):
            yield parse_entry_line(record.line, position=record.position)

    def records(self) -> Iterator[Record]:
        """The stored lines in order, unchecked: for `verify` and exports."""
        return self._store.all_records()

    def verify(self, checkpoints: Sequence[tuple[str, Checkpoint]] = ()) -> LogReport:
        """Verify the whole log (log.md §6) against (source, checkpoint) pairs."""
        return verify_records(self._store.all_records(), self._key, checkpoints)

    def dangling_intents(self) -> tuple[Intent, ...]:
        """Intents with no completion or abandonment: effects a crash may have cut short."""
        return self._tracked_intents().dangling

    def _tracked_intents(self, since: int = 1) -> IntentTracker:
        tracker = IntentTracker()
        for record in self._store.intent_records(since):
            tracker.observe(self._checked(record))
        return tracker

    def _checked(self, record: Record) -> Entry:
        entry = parse_entry_line(record.line, position=record.position)
        verify_entry_signature(entry, self._key)
        if entry.seq != record.position:
            raise LogIntegrityError(
                f"Row {record.position} of the log holds entry {entry.seq}.",
                kind="log-modified",
                seq=record.position,
                hint="Run `custody log verify` to see what changed.",
            )
        return entry
