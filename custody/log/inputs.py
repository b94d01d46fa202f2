"""Operator input the log accepts from the command line: note text and ceremony ids.

These parsers turn what a person typed into values the log records, or raise BadInputError
(exit 3) saying what is allowed. They own the rules for `log.note` text (log.md §4) and for
ceremony ids (log.md §3) as people meet them; the entry encoder checks the same rules again.
"""

from __future__ import annotations

from typing import Final

from custody.errors import BadInputError
from custody.log.entry import CEREMONY_ID

MAX_NOTE_CHARACTERS: Final = 4096


def parse_note_text(text: str) -> str:
    """An operator's observation: 1-4096 characters, no control characters but LF and TAB."""
    controls = [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7F]
    if not 1 <= len(text) <= MAX_NOTE_CHARACTERS or controls or not text.strip():
        raise BadInputError(
            f"A note is 1 to {MAX_NOTE_CHARACTERS} characters of text without control characters.",
            kind="bad-note",
            hint="Write the observation as plain text in one quoted argument.",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError("The note is not valid text.", kind="bad-note") from None
    return text


def parse_ceremony_id(text: str) -> str:
    if not CEREMONY_ID.fullmatch(text):
        raise BadInputError(
            f"{text!r} is not a ceremony id.",
            kind="bad-ceremony-id",
            hint="A ceremony id is 1-64 characters of a-z, 0-9, '.', '_' and '-'.",
        )
    return text
