"""Checkpoints: the appliance's signed (size, head, time) statement (checkpoint.md).

This module owns the checkpoint text: signing, encoding, strict parsing, reading and writing a
checkpoint file, checking its signature, and checking that several checkpoints agree. It does
not read the log; `verify` compares checkpoints with entries. A checkpoint that does not parse
is BadInputError (`checkpoint-malformed`); one that parses but is not the appliance's is
LogIntegrityError.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from custody.errors import BadInputError, LogIntegrityError, VerificationError
from custody.log.keys import Signer, VerifierKey, verify_signature
from custody.log.times import is_log_time

MAX_CHECKPOINT_BYTES: Final = 1024
_MAX_SIZE: Final = 2**63 - 1
_BODY: Final = (
    r"(custody-log/[0-9a-f]{32})\n([1-9][0-9]{0,18})\n([A-Za-z0-9+/]{43}=)\ntime (\S{20})\n"
)
_SIGNATURE_LINE: Final = r"\n{dash} ([!-*,-~]{{1,255}}) ([A-Za-z0-9+/]{{91}}=)\n"
_FILE_FORM: Final = re.compile(_BODY + _SIGNATURE_LINE.format(dash="\u2014"), re.ASCII)
_TYPED_FORM: Final = re.compile(_BODY + _SIGNATURE_LINE.format(dash="(?:\u2014|--)"), re.ASCII)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed or freshly signed checkpoint; its signature is checked by `verify_checkpoint`."""

    origin: str
    size: int
    head: bytes
    time: str
    key_name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not 1 <= self.size <= _MAX_SIZE or len(self.head) != 32 or not is_log_time(self.time):
            raise ValueError("a checkpoint has a size >= 1, a 32-byte head and a log time")
        if len(self.key_id) != 4 or len(self.signature) != 64:
            raise ValueError("a checkpoint signature is a 4-byte key id and 64 bytes")

    @property
    def signed_text(self) -> bytes:
        head = base64.b64encode(self.head).decode("ascii")
        return f"{self.origin}\n{self.size}\n{head}\ntime {self.time}\n".encode("ascii")


def sign_checkpoint(signer: Signer, *, size: int, head: bytes, time: str) -> Checkpoint:
    key = signer.verifier
    unsigned = Checkpoint(key.name, size, head, time, key.name, key.key_id, bytes(64))
    signature = signer.sign(unsigned.signed_text)
    return Checkpoint(key.name, size, head, time, key.name, key.key_id, signature)


def encode_checkpoint(checkpoint: Checkpoint) -> str:
    stamp = base64.b64encode(checkpoint.key_id + checkpoint.signature).decode("ascii")
    body = checkpoint.signed_text.decode("ascii")
    return f"{body}\n\u2014 {checkpoint.key_name} {stamp}\n"


def parse_checkpoint(data: bytes, *, source: str, typed: bool = False) -> Checkpoint:
    """A checkpoint from its exact text; `typed` also allows `-- ` for the em dash."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise _malformed(source, f"it is longer than {MAX_CHECKPOINT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(source, "it is not UTF-8 text") from None
    match = (_TYPED_FORM if typed else _FILE_FORM).fullmatch(text)
    if match is None:
        raise _malformed(source, "its lines are not origin, size, head, time, blank, signature")
    origin, size, head, time, key_name, stamp = match.groups()
    if int(size) > _MAX_SIZE or not is_log_time(time):
        raise _malformed(source, "its size or time is out of range")
    head_bytes = _canonical_base64(head, 32, source)
    stamp_bytes = _canonical_base64(stamp, 68, source)
    return Checkpoint(
        origin, int(size), head_bytes, time, key_name, stamp_bytes[:4], stamp_bytes[4:]
    )


def parse_typed_checkpoint(data: bytes) -> Checkpoint:
    """A checkpoint typed by a person: `-- ` may stand for the em dash (checkpoint.md §2)."""
    # A typist may end the last line with end-of-file instead of Enter; that LF, like the
    # dash, lies outside the signed text.
    text = data if data.endswith(b"\n") else data + b"\n"
    return parse_checkpoint(text, source="the typed checkpoint", typed=True)


def _canonical_base64(text: str, length: int, source: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != length or base64.b64encode(raw).decode("ascii") != text:
        raise _malformed(source, "its base64 is not the canonical encoding")
    return raw


def _malformed(source: str, why: str) -> BadInputError:
    return BadInputError(
        f"{source} is not a custody checkpoint: {why}.",
        kind="checkpoint-malformed",
        hint="A checkpoint is six lines, exactly as `custody log checkpoint` printed it.",
    )


def verify_checkpoint(checkpoint: Checkpoint, key: VerifierKey, *, source: str) -> None:
    """Raise LogIntegrityError unless `key` signed `checkpoint`."""
    names = {checkpoint.origin, checkpoint.key_name}
    if names != {key.name} or checkpoint.key_id != key.key_id:
        raise LogIntegrityError(
            f"{source} is signed by {checkpoint.key_name} (key id {checkpoint.key_id.hex()}), "
            f"not by this log's key {key.name} (key id {key.key_id.hex()}).",
            kind="log-unknown-signer",
            hint="Check that the checkpoint belongs to this appliance.",
        )
    try:
        verify_signature(key, checkpoint.signed_text, checkpoint.signature)
    except VerificationError:
        raise LogIntegrityError(
            f"{source}: the checkpoint's signature does not verify; it was altered or mistyped.",
            kind="checkpoint-bad-signature",
            hint="Compare it character by character with the printed or saved original.",
        ) from None


def verify_checkpoints_agree(checkpoints: Iterable[tuple[str, Checkpoint]]) -> None:
    """Raise `log-forked` when two checkpoints give one size two different heads."""
    seen: dict[int, tuple[str, bytes]] = {}
    for source, checkpoint in checkpoints:
        earlier = seen.setdefault(checkpoint.size, (source, checkpoint.head))
        if earlier[1] != checkpoint.head:
            raise LogIntegrityError(
                f"{earlier[0]} and {source} are both signed for log size {checkpoint.size} but "
                "name different heads: the appliance signed two histories.",
                kind="log-forked",
                seq=checkpoint.size,
                hint="The log was rolled back and written again; find both copies.",
            )


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file: a regular file, not a link, at most 1 KiB."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(0, "not a regular file")
            data = file.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as error:
        raise BadInputError(
            f"{path}: cannot read the checkpoint ({error.strerror or error}).",
            kind="checkpoint-unreadable",
        ) from None
    return parse_checkpoint(data, source=str(path))
