"""The appliance home: where it is, creating it whole, and refusing a bad one."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custody.appliance import init_home, load_appliance, resolve_home
from custody.errors import StateError
from custody.log import verify_log
from custody.log.keys import encode_vkey, generate_signer
from tests.log.conftest import OTHER_SEED, SEED, Clock


def test_home_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "CUSTODY_HOME": "/custody/env",
        "XDG_DATA_HOME": "/xdg/data",
        "HOME": "/home/op",
    }
    assert resolve_home("/explicit", env) == Path("/explicit")
    assert resolve_home(None, env) == Path("/custody/env")
    assert resolve_home(None, {**env, "CUSTODY_HOME": ""}) == Path("/xdg/data/custody")
    assert resolve_home(None, {"XDG_DATA_HOME": "relative", "HOME": "/home/op"}) == Path(
        "/home/op/.local/share/custody"
    )
    assert resolve_home(None, {"HOME": "/home/op"}) == Path("/home/op/.local/share/custody")
    monkeypatch.chdir(tmp_path)
    assert resolve_home("here", env) == tmp_path / "here"


def test_init_builds_a_private_home_with_a_first_entry(tmp_path: Path) -> None:
    appliance = init_home(tmp_path / "home", now=Clock(), seed=SEED)
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in [appliance.home, *appliance.home.iterdir()]
        if not path.name.startswith("log.sqlite-")
    }
    assert modes == {
        "home": 0o700,
        "appliance.key": 0o600,
        "appliance.pub": 0o644,
        "config.json": 0o600,
        "log.sqlite": 0o600,
    }
    assert appliance.pub_path.read_text() == encode_vkey(generate_signer(SEED).verifier) + "\n"
    assert load_appliance(appliance.home) == appliance
    report = verify_log(appliance.home)
    assert report.size == 1
    with appliance.read_log() as reader:
        (first,) = reader.entries()
    assert (first.event, first.payload["key_fingerprint"]) == (
        "log.init",
        appliance.key.fingerprint,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["home"]


@pytest.mark.parametrize("existing", ["directory", "empty directory", "file", "symlink"])
def test_init_never_reuses_a_path(tmp_path: Path, existing: str) -> None:
    home = tmp_path / "home"
    if existing == "directory":
        home.mkdir()
        (home / "keep").write_text("keep me")
    elif existing == "empty directory":
        home.mkdir()
    elif existing == "file":
        home.write_text("keep me")
    else:
        home.symlink_to(tmp_path / "nowhere")
    with pytest.raises(StateError) as refused:
        init_home(home)
    assert refused.value.kind == "home-exists"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_a_failure_while_building_leaves_no_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custody.appliance

    def broken(path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(custody.appliance, "create_store", broken)
    with pytest.raises(StateError) as refused:
        init_home(tmp_path / "home")
    assert refused.value.kind == "home-unwritable"
    assert list(tmp_path.iterdir()) == []


INIT = """
import sys
from pathlib import Path
from custody.appliance import init_home
print("ready", flush=True)
init_home(Path(sys.argv[1]))
"""


def test_kill_9_during_init_leaves_no_home_or_a_whole_one(tmp_path: Path) -> None:
    rng = random.Random(7)
    outcomes = set()
    for attempt in range(8):
        home = tmp_path / f"home{attempt}"
        child = subprocess.Popen(
            [sys.executable, "-c", INIT, str(home)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0, 0.12))
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        if home.exists():
            assert verify_log(home).size == 1
            outcomes.add("whole")
        else:
            with pytest.raises(StateError) as missing:
                load_appliance(home)
            assert missing.value.kind == "home-missing"
            outcomes.add("none")
    assert outcomes  # which of the two happened depends on timing; both are correct
    assert all(p.name.startswith(("home", ".home")) for p in tmp_path.iterdir())


@pytest.mark.parametrize("name", ["config.json", "appliance.key", "appliance.pub", "log.sqlite"])
def test_a_half_initialised_home_is_refused(tmp_path: Path, name: str) -> None:
    appliance = init_home(tmp_path / "home", seed=SEED)
    (appliance.home / name).unlink()
    with pytest.raises(StateError) as refused:
        load_appliance(appliance.home)
    assert refused.value.kind == "home-incomplete"
    assert name in refused.value.message


def test_a_missing_home_has_a_hint(tmp_path: Path) -> None:
    with pytest.raises(StateError) as refused:
        load_appliance(tmp_path / "nowhere")
    assert refused.value.kind == "home-missing"
    assert refused.value.hint is not None and "custody init" in refused.value.hint


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    appliance = init_home(tmp_path / "home", seed=SEED)
    appliance.key_path.chmod(0o644)
    with pytest.raises(StateError) as refused:
        appliance.open_log()
    assert refused.value.kind == "key-exposed"
    assert verify_log(appliance.home).size == 1  # reading needs only the public key


def test_a_swapped_public_key_is_inconsistent(tmp_path: Path) -> None:
    appliance = init_home(tmp_path / "home", seed=SEED)
    appliance.pub_path.write_text(encode_vkey(generate_signer(OTHER_SEED).verifier) + "\n")
    with pytest.raises(StateError) as refused:
        load_appliance(appliance.home)
    assert refused.value.kind == "home-inconsistent"


def test_a_swapped_signing_key_is_inconsistent(tmp_path: Path) -> None:
    appliance = init_home(tmp_path / "home", seed=SEED)
    other = init_home(tmp_path / "other", seed=OTHER_SEED)
    appliance.key_path.write_bytes(other.key_path.read_bytes())
    with pytest.raises(StateError) as refused:
        load_appliance(appliance.home).open_log()
    assert refused.value.kind == "home-inconsistent"


@pytest.mark.parametrize(
    "config",
    [b"", b"{}", b'{"format":"custody-config/2"}', b"not json", b"\xff"],
)
def test_a_damaged_config_is_refused(tmp_path: Path, config: bytes) -> None:
    appliance = init_home(tmp_path / "home", seed=SEED)
    appliance.config_path.write_bytes(config)
    with pytest.raises(StateError) as refused:
        load_appliance(appliance.home)
    assert refused.value.kind == "home-incomplete"
