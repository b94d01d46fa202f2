"""Session keys for the custodian tests, made once with real GnuPG, and agent cleanup."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.custodians import Gpg, open_gpg
from tests.custodians import gpgkeys
from tests.custodians.gpgkeys import CardKey

PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class Keys:
    """Every kind of custodian key the tests need, good and bad."""

    alice: CardKey
    lookalike: CardKey
    bob: CardKey
    nist: CardKey
    soon: CardKey
    expired: CardKey
    revoked: CardKey
    sign_only: CardKey
    subkey_expired: CardKey
    subkey_revoked: CardKey
    control_uid: CardKey
    protected: CardKey
    rsa3072: CardKey
    rsa2048: CardKey
    dsa: CardKey


@pytest.fixture(scope="session")
def gpg_root() -> Iterator[Path]:
    root = gpgkeys.make_root()
    yield root
    left = gpgkeys.cleanup(root)
    assert left == [], f"gpg-agents still running after the tests: {left}"


def _make_keys(root: Path) -> Keys:
    g = gpgkeys.generate
    nist = g(root, "Nist <nist@example.org>", algo="nistp384", usage="cert,sign")
    sub_expired = g(
        root, "Old Sub <oldsub@example.org>", usage="cert,sign", expire="0", years_ago=3
    )
    return Keys(
        alice=g(root, "Alice <alice@example.org>"),
        lookalike=g(root, "Alice <alice@example.org>"),
        bob=g(root, "Bob <bob@example.org>", expire="0"),
        nist=gpgkeys.add_subkey(nist, "nistp256", "encr", "5y"),
        soon=g(root, "Soon <soon@example.org>", expire="1y"),
        expired=g(root, "Expired <expired@example.org>", expire="1y", years_ago=3),
        revoked=gpgkeys.revoke(g(root, "Revoked <revoked@example.org>")),
        sign_only=g(root, "Signer <signer@example.org>", algo="ed25519", usage="sign"),
        subkey_expired=gpgkeys.add_subkey(sub_expired, "cv25519", "encr", "1y", years_ago=3),
        subkey_revoked=gpgkeys.revoke_first_subkey(g(root, "Rev Sub <revsub@example.org>")),
        control_uid=g(root, "Eve\x1b[31m\u202e <eve@example.org>"),
        protected=g(root, "Pat <pat@example.org>", passphrase=PASSPHRASE),
        rsa3072=gpgkeys.vector_key(root, "rsa3072"),
        rsa2048=gpgkeys.vector_key(root, "rsa2048"),
        dsa=gpgkeys.vector_key(root, "dsa-elgamal"),
    )


@pytest.fixture(scope="session")
def keys(gpg_root: Path) -> Keys:
    keys = _make_keys(gpg_root)
    gpgkeys.kill_agents(gpg_root)  # key making started one agent per home; tests start their own
    return keys


@pytest.fixture
def custody(gpg_root: Path) -> Iterator[Gpg]:
    """A fresh custody GnuPG home for one test."""
    with open_gpg(gpgkeys.new_home(gpg_root)) as gpg:
        yield gpg
