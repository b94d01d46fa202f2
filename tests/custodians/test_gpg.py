"""The GnuPG engine: its home, its version floor, its options, and that its agents stop (D16)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from custody.custodians import (
    decrypt,
    encrypt_to_custodian,
    import_custodian_key,
    load_custodian_key,
    open_gpg,
)
from custody.errors import CustodianKeyError, GpgUnavailableError
from tests.custodians import gpgkeys
from tests.custodians.conftest import Keys


def recipients(message: bytes, home: Path) -> list[str]:
    """Key ids gpg itself lists for a message (an independent look, no custody code)."""
    result = gpgkeys.run(home, "--status-fd", "1", "--list-only", "--decrypt", stdin=message)
    lines = result.stdout.decode().splitlines()
    return [line.split()[2] for line in lines if line.startswith("[GNUPG:] ENC_TO ")]


def test_home_is_created_private(gpg_root: Path) -> None:
    home = gpg_root / "fresh"
    with open_gpg(home) as gpg:
        assert gpg.home == home
    assert home.stat().st_mode & 0o777 == 0o700


def test_home_too_long_for_the_agent_socket_is_refused(gpg_root: Path) -> None:
    home = gpg_root / ("d" * (90 - len(str(gpg_root))))
    with pytest.raises(GpgUnavailableError) as caught, open_gpg(home):
        pass
    assert caught.value.kind == "gnupg-home-too-long"
    assert str(home) in caught.value.message
    assert not home.exists()


def test_the_longest_accepted_home_works(gpg_root: Path, keys: Keys) -> None:
    home = gpg_root / ("L" * (76 - len(str(gpg_root)) - 1))
    assert len(str(home)) == 76
    with open_gpg(home) as gpg:
        key = import_custodian_key(gpg, keys.alice.public, keys.alice.fingerprint)
        encrypt_to_custodian(gpg, key, b"x", armor=False)
    with pytest.raises(GpgUnavailableError), open_gpg(Path(f"{home}L")):
        pass


def test_stale_scratch_homes_are_cleared(gpg_root: Path) -> None:
    home = gpgkeys.new_home(gpg_root)
    (home / "s.abcdefgh").mkdir()
    (home / "s.abcdefgh" / "pubring.kbx").write_bytes(b"refused key")
    (home / "s.not-ours").mkdir()
    with open_gpg(home):
        assert not (home / "s.abcdefgh").exists()
        assert (home / "s.not-ours").exists()


def test_home_readable_by_others_is_refused(gpg_root: Path) -> None:
    home = gpg_root / "open"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with pytest.raises(GpgUnavailableError) as caught, open_gpg(home):
        pass
    assert caught.value.kind == "gnupg-home-unsafe"
    assert caught.value.hint is not None


def test_missing_gpg_is_unavailable(gpg_root: Path) -> None:
    with (
        pytest.raises(GpgUnavailableError) as caught,
        open_gpg(gpgkeys.new_home(gpg_root), gpg_binary="/nonexistent/gpg"),
    ):
        pass
    assert caught.value.kind == "gpg-missing"
    assert caught.value.exit_code == 4


@pytest.mark.parametrize("version", ["2.1.18", "2.2.7", "1.4.23"])
def test_old_gpg_is_unavailable(gpg_root: Path, version: str) -> None:
    fake = gpg_root / f"gpg-{version}"
    fake.write_text(f"#!/bin/sh\necho 'cfg:version:{version}'\n")
    fake.chmod(0o755)
    with (
        pytest.raises(GpgUnavailableError) as caught,
        open_gpg(gpgkeys.new_home(gpg_root), gpg_binary=str(fake)),
    ):
        pass
    assert caught.value.kind == "gpg-too-old"
    assert version in caught.value.message


def test_gpg_conf_cannot_add_a_recipient(gpg_root: Path, keys: Keys) -> None:
    """An `encrypt-to` or `default-recipient` in gpg.conf never reaches custody's messages."""
    home = gpgkeys.new_home(gpg_root)
    bob = keys.bob.fingerprint
    (home / "gpg.conf").write_text(f"encrypt-to {bob}\ndefault-recipient {bob}\n")
    with open_gpg(home) as gpg:
        import_custodian_key(gpg, keys.bob.public, bob)
        alice = import_custodian_key(gpg, keys.alice.public, keys.alice.fingerprint)
        message = encrypt_to_custodian(gpg, alice, b"shard", armor=False)
    assert recipients(message, home) == [alice.encryption_fingerprint[-16:]]
    # Control: the same home *does* add Bob when gpg reads its gpg.conf.
    plain = subprocess.run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--trust-model",
            "always",
            "-e",
            "-r",
            alice.fingerprint,
        ],
        input=b"x",
        capture_output=True,
        check=True,
    ).stdout
    assert len(recipients(plain, home)) == 2
    gpgkeys.kill_agents(home)


def test_agents_are_stopped_when_the_context_ends(gpg_root: Path, keys: Keys) -> None:
    home = gpgkeys.new_home(gpg_root)
    with open_gpg(home) as gpg:
        import_custodian_key(gpg, keys.alice.public, keys.alice.fingerprint)
        assert gpgkeys.live_agents(home) != []  # gpg started one: the test means something
    assert gpgkeys.live_agents(home) == []
    assert [p.name for p in home.iterdir() if p.name.startswith("s")] == []  # scratch is gone


def test_encrypting_to_an_unknown_key_is_a_failure_not_an_empty_success(
    gpg_root: Path, keys: Keys
) -> None:
    home = gpgkeys.new_home(gpg_root)
    with open_gpg(home) as gpg, pytest.raises(GpgUnavailableError) as caught:
        gpg.encrypt(b"x", f"{keys.alice.fingerprint}!")
    assert caught.value.kind == "gpg-failed"


LYING_GPG = """#!/bin/sh
# Claims success on every operation and produces nothing (D16).
case "$*" in
  *--list-config*) echo 'cfg:version:2.2.40' ;;
  *--encrypt*) cat >/dev/null; echo '[GNUPG:] BEGIN_ENCRYPTION 2 9' >&2
               echo '[GNUPG:] END_ENCRYPTION' >&2 ;;
  *--decrypt*) cat >/dev/null; echo '[GNUPG:] DECRYPTION_OKAY' >&2; echo '[GNUPG:] GOODMDC' >&2 ;;
  *--import*) cat >/dev/null ;;
esac
exit 0
"""


def test_an_empty_result_is_never_success_d16(gpg_root: Path, keys: Keys) -> None:
    with open_gpg(gpgkeys.new_home(gpg_root)) as real:
        alice = import_custodian_key(real, keys.alice.public, keys.alice.fingerprint)
    fake = gpg_root / "lying-gpg"
    fake.write_text(LYING_GPG)
    fake.chmod(0o755)
    with open_gpg(gpgkeys.new_home(gpg_root), gpg_binary=str(fake)) as gpg:
        with pytest.raises(GpgUnavailableError) as failed:
            encrypt_to_custodian(gpg, alice, b"x", armor=False)
        assert failed.value.kind == "gpg-failed"
        with pytest.raises(CustodianKeyError) as refused:
            decrypt(gpg, b"message")
        assert refused.value.kind == "decryption-failed"
        with pytest.raises(CustodianKeyError) as refused:
            import_custodian_key(gpg, keys.alice.public, keys.alice.fingerprint)
        assert refused.value.kind == "bad-certificate"
        with pytest.raises(CustodianKeyError) as refused:
            load_custodian_key(gpg, keys.alice.fingerprint)
        assert refused.value.kind == "key-not-enrolled"


def test_an_agent_left_by_a_killed_run_is_stopped_d12(gpg_root: Path) -> None:
    home = gpgkeys.new_home(gpg_root)
    subprocess.run(
        ["gpg-connect-agent", "--homedir", str(home), "/bye"], check=True, capture_output=True
    )
    assert gpgkeys.live_agents(home) != []
    with open_gpg(home):
        assert gpgkeys.live_agents(home) == []
