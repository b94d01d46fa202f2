"""Receipts and check-ins: a custodian's OpenPGP signature that they hold their packet.

The receipt is short plain text (below) that the custodian signs with their own key — on
the appliance through gpg-agent and their smartcard, or anywhere with `gpg --detach-sign`.
custody accepts the signature only when gpg reports a good signature (VALIDSIG) whose
primary key is exactly the custodian's enrolled fingerprint; a signature by any other key,
an expired or revoked key, or over other text is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from custody.custodians.certificate import CustodianKey
from custody.custodians.gpg import Gpg
from custody.errors import CustodianKeyError

RECEIPT_VERSION = "custody-receipt: 1"


@dataclass(frozen=True, slots=True)
class Receipt:
    kind: str
    """`received` at intake, `holding` at a check-in."""
    ceremony_id: str
    shard_id: int
    custodian: str
    packet_sha256: str

    def text(self) -> bytes:
        holding = "received" if self.kind == "received" else "in my keeping"
        return (
            f"{RECEIPT_VERSION}\n"
            f"statement: I, the holder of OpenPGP key {self.custodian}, have {holding} "
            "the custody packet below.\n"
            f"kind: {self.kind}\n"
            f"ceremony: {self.ceremony_id}\n"
            f"shard: {self.shard_id}\n"
            f"custodian: {self.custodian}\n"
            f"packet-sha256: {self.packet_sha256}\n"
        ).encode("ascii")


def sign_receipt(gpg: Gpg, receipt: Receipt) -> bytes:
    """The custodian's side: a detached signature with their key (their keyring or card)."""
    return gpg.sign_detached(receipt.text(), receipt.custodian)


def verify_receipt(gpg: Gpg, key: CustodianKey, receipt: Receipt, signature: bytes) -> None:
    """Return if `signature` is the custodian's good signature over the receipt; else raise."""
    status = gpg.verify_detached(receipt.text(), signature)
    signers = [rest.split() for keyword, rest in status if keyword == "VALIDSIG"]
    # VALIDSIG <signing-key fpr> ... <primary-key fpr> is the tenth field (doc/DETAILS).
    primaries = {fields[9] for fields in signers if len(fields) >= 10}
    bad = {k for k, _ in status} & {"BADSIG", "EXPKEYSIG", "REVKEYSIG", "ERRSIG", "EXPSIG"}
    if bad or primaries != {key.fingerprint}:
        raise CustodianKeyError(
            f"the receipt for shard {receipt.shard_id} is not a good signature by the "
            f"custodian's key {key.fingerprint}.",
            kind="bad-receipt",
            hint="The custodian signs the receipt text with their own enrolled key.",
        )
