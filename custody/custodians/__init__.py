"""Custodians: their OpenPGP keys, pinned by full fingerprint, and GnuPG as the engine.

The public surface, in the order a ceremony uses it::

    with open_gpg(home) as gpg:                       # custody's GnuPG home; agents stop after
        key = import_custodian_key(gpg, key_bytes, "C32A…4301")  # policy checked, or refused
        challenge = make_challenge(gpg, key)           # custodian decrypts, reads the code back
        check_challenge_answer(challenge, typed_code)  # raises unless it matches
        keys = load_custodian_keys(gpg, fingerprints)  # re-check enrolled keys at seal time
        message = encrypt_to_custodian(gpg, key, plaintext, armor=True)

    with open_gpg(custodian_home) as theirs:          # the custodian's side, their own key
        plaintext = decrypt(theirs, message)

Only `gpg.py` runs GnuPG. User ids are for display (`display_user_id`), never for choosing a key.
The roster and the command line live elsewhere and call this.
"""

from custody.custodians.certificate import (
    CustodianKey,
    Fingerprint,
    display_user_id,
    parse_fingerprint,
)
from custody.custodians.gpg import Gpg, open_gpg
from custody.custodians.keyring import (
    DEFAULT_EXPIRY_HORIZON,
    MAX_CERTIFICATE_BYTES,
    Challenge,
    check_challenge_answer,
    decrypt,
    encrypt_to_custodian,
    import_custodian_key,
    load_custodian_key,
    load_custodian_keys,
    make_challenge,
    verify_recipients,
)

__all__ = [
    "DEFAULT_EXPIRY_HORIZON",
    "MAX_CERTIFICATE_BYTES",
    "Challenge",
    "CustodianKey",
    "Fingerprint",
    "Gpg",
    "check_challenge_answer",
    "decrypt",
    "display_user_id",
    "encrypt_to_custodian",
    "import_custodian_key",
    "load_custodian_key",
    "load_custodian_keys",
    "make_challenge",
    "open_gpg",
    "parse_fingerprint",
    "verify_recipients",
]
