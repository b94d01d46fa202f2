"""Encrypting to exactly one subkey, decrypting on the custodian's side, and the challenge.

D17 (smartcard: wrong card, PIN lockout, card pulled) cannot run here: this machine has no
card reader. A custodian "card" is a separate GnuPG home holding the secret key; the tests of
a wrong key (`no-secret-key`), a wrong passphrase (`bad-passphrase`, with agent caching off)
and garbage (`decryption-failed`) stand in for it, since GnuPG reports card failures through
the same status lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.custodians import (
    CustodianKey,
    Gpg,
    check_challenge_answer,
    decrypt,
    encrypt_to_custodian,
    import_custodian_key,
    make_challenge,
    open_gpg,
    verify_recipients,
)
from custody.custodians.openpgp import decode_armor, encode_armor
from custody.errors import CustodianKeyError, GpgUnavailableError
from tests.custodians import gpgkeys
from tests.custodians.conftest import PASSPHRASE, Keys
from tests.custodians.gpgkeys import CardKey
from tests.custodians.test_gpg import recipients


def enrol(gpg: Gpg, key: CardKey) -> CustodianKey:
    return import_custodian_key(gpg, key.public, key.fingerprint)


def plain_gpg_decrypt(home: Path, message: bytes) -> bytes:
    return gpgkeys.run(home, "--decrypt", stdin=message).stdout


@pytest.mark.parametrize("name", ["alice", "nist", "rsa3072"])
@pytest.mark.parametrize("armor", [True, False])
def test_encrypt_to_exactly_one_subkey(custody: Gpg, keys: Keys, name: str, armor: bool) -> None:
    card: CardKey = getattr(keys, name)
    key = enrol(custody, card)
    message = encrypt_to_custodian(custody, key, b"spike:1:00", armor=armor)
    assert message.startswith(b"-----BEGIN PGP MESSAGE-----\n") == armor
    assert recipients(message, custody.home) == [key.encryption_fingerprint[-16:]]
    assert plain_gpg_decrypt(card.home, message) == b"spike:1:00"
    with open_gpg(card.home) as theirs:
        assert decrypt(theirs, message) == b"spike:1:00"


def test_lookalikes_get_their_own_messages_d02(custody: Gpg, keys: Keys) -> None:
    alice, lookalike = enrol(custody, keys.alice), enrol(custody, keys.lookalike)
    message = encrypt_to_custodian(custody, alice, b"for alice", armor=False)
    verify_recipients(message, alice)
    with pytest.raises(GpgUnavailableError):
        verify_recipients(message, lookalike)
    with open_gpg(keys.lookalike.home) as theirs, pytest.raises(CustodianKeyError) as caught:
        decrypt(theirs, message)
    assert caught.value.kind == "no-secret-key"


def gpg_encrypt(home: Path, *args: str) -> bytes:
    return gpgkeys.run(home, "--trust-model", "always", *args, stdin=b"x").stdout


@pytest.mark.parametrize("case", ["two-recipients", "hidden", "other", "symmetric", "aead"])
def test_messages_not_to_exactly_the_subkey_are_refused(
    custody: Gpg, keys: Keys, gpg_root: Path, case: str
) -> None:
    alice = enrol(custody, keys.alice)
    both = gpgkeys.import_into(gpg_root, keys.alice.public, keys.bob.public)
    a, b = keys.alice.fingerprint, keys.bob.fingerprint
    messages = {
        "two-recipients": lambda: gpg_encrypt(both, "-e", "-r", a, "-r", b),
        "hidden": lambda: gpg_encrypt(both, "-e", "--throw-keyids", "-r", a),
        "other": lambda: gpg_encrypt(both, "-e", "-r", b),
        "symmetric": lambda: gpg_encrypt(both, "-c", "--passphrase", "x"),
        # GnuPG 2.2 cannot make an AEAD (tag 20) packet: a hand-made one follows the PKESK.
        "aead": lambda: (
            decode_armor(encrypt_to_custodian(custody, alice, b"x", armor=True)).data[:96]
            + b"\xd4\x05\x01\x09\x02\x10\x00"
        ),
    }
    message = messages[case]()
    for form in (message, encode_armor("MESSAGE", message)):
        with pytest.raises(GpgUnavailableError) as caught:
            verify_recipients(form, alice)
        assert caught.value.kind == "unexpected-recipients"
        assert alice.fingerprint in caught.value.message
    gpgkeys.kill_agents(both)


@pytest.mark.parametrize("bad", ["new\nline", "carriage\rreturn", "nul\0byte"])
def test_unsafe_passphrases_never_reach_gpg_d11(gpg_root: Path, bad: str) -> None:
    with open_gpg(gpgkeys.new_home(gpg_root)) as gpg, pytest.raises(CustodianKeyError) as caught:
        decrypt(gpg, b"not even a message", passphrase=bad)
    assert caught.value.kind == "passphrase-refused"
    assert bad not in caught.value.message


def test_passphrase_is_checked_every_time(custody: Gpg, keys: Keys) -> None:
    key = enrol(custody, keys.protected)
    message = encrypt_to_custodian(custody, key, b"secret", armor=False)
    with open_gpg(keys.protected.home) as theirs:
        assert decrypt(theirs, message, passphrase=PASSPHRASE) == b"secret"
        # Right after a good passphrase a wrong one must still fail (no agent cache).
        with pytest.raises(CustodianKeyError) as caught:
            decrypt(theirs, message, passphrase="hunter2-not-it")
        assert caught.value.kind == "bad-passphrase"
        assert "hunter2" not in caught.value.message


def test_garbage_does_not_decrypt(gpg_root: Path, keys: Keys) -> None:
    with open_gpg(keys.alice.home) as theirs, pytest.raises(CustodianKeyError) as caught:
        decrypt(theirs, b"garbage")
    assert caught.value.kind == "decryption-failed"


def test_challenge_round_trip(custody: Gpg, keys: Keys) -> None:
    key = enrol(custody, keys.alice)
    challenge = make_challenge(custody, key, random_bytes=lambda n: bytes(range(n)))
    verify_recipients(challenge.message, key)
    text = plain_gpg_decrypt(keys.alice.home, challenge.message).decode()
    assert text == (
        f"custody challenge\ncustodian: {key.fingerprint}\n"
        "answer: aaaq-eaye-auda-ocaj-bifq-ydio-b4\n"
    )
    check_challenge_answer(challenge, "aaaq-eaye-auda-ocaj-bifq-ydio-b4")
    check_challenge_answer(challenge, " AAAQ EAYE AUDA OCAJ BIFQ YDIO B4\n")
    assert b"aaaq" not in repr(challenge).encode()


@pytest.mark.parametrize("answer", ["", "aaaq-eaye-auda-ocaj-bifq-ydio-b5", "aaaq", "☃"])
def test_wrong_challenge_answers_are_refused(custody: Gpg, keys: Keys, answer: str) -> None:
    key = enrol(custody, keys.alice)
    challenge = make_challenge(custody, key, random_bytes=lambda n: bytes(range(n)))
    with pytest.raises(CustodianKeyError) as caught:
        check_challenge_answer(challenge, answer)
    assert caught.value.kind == "challenge-failed"
    assert key.fingerprint in caught.value.message


def test_challenges_are_random_by_default(custody: Gpg, keys: Keys) -> None:
    key = enrol(custody, keys.alice)
    one, two = make_challenge(custody, key), make_challenge(custody, key)
    assert one.answer_digest != two.answer_digest
    with pytest.raises(ValueError, match="random_bytes"):
        make_challenge(custody, key, random_bytes=lambda n: b"short")
