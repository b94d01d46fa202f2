"""`custody init` and `custody status` through the installed command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

CUSTODY = shutil.which("custody") or str(Path(sys.executable).parent / "custody")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"CUSTODY_HOME", "XDG_DATA_HOME"}}
    return subprocess.run(
        [CUSTODY, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**base, **(env or {})},
    )


def test_init_then_status(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = run("init", "--home", str(home))
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[0] == f"created the appliance home {home}"
    status = run("status", "--home", str(home))
    assert status.returncode == 0, status.stderr
    out = status.stdout.splitlines()
    assert out[:4] == [
        f"home         {home}",
        f"config       {home / 'config.json'}",
        f"key          {home / 'appliance.key'}",
        f"public key   {home / 'appliance.pub'}",
    ]
    assert re.fullmatch(r"fingerprint  [0-9a-f]{64}", out[4])
    assert re.fullmatch(r"key name     custody-log/[0-9a-f]{32} \(key id [0-9a-f]{8}\)", out[5])
    assert out[6:8] == [f"log          {home / 'log.sqlite'}", "log size     1 entry"]
    assert re.fullmatch(
        r"log head     [0-9a-f]{64} \(entry 1, log\.init, [0-9-]{10}T[0-9:]{8}Z\)", out[8]
    )
    assert status.stderr == ""


def test_status_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    document = json.loads(run("init", "--home", str(home), "--json").stdout)
    assert json.loads(run("status", "--home", str(home), "--json").stdout) == document
    assert document["log_size"] == 1
    assert document["key"] == str(home / "appliance.key")
    assert document["dangling_intents"] == []
    assert document["key_name"] == "custody-log/" + document["fingerprint"][:32]


def test_init_refuses_an_existing_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run("init", "--home", str(home)).returncode == 0
    key = (home / "appliance.key").read_bytes()
    again = run("init", "--home", str(home))
    assert again.returncode == 4
    assert again.stdout == ""
    assert again.stderr.splitlines() == [
        f"custody: error: {home} already exists; custody init makes a new home and never "
        "reuses a path.",
        "custody: hint: Use that home as it is (custody status), or choose another --home.",
    ]
    assert (home / "appliance.key").read_bytes() == key


def test_a_missing_home_is_a_clear_error(tmp_path: Path) -> None:
    result = run("status", "--home", str(tmp_path / "nowhere"))
    assert result.returncode == 4
    assert result.stderr.splitlines() == [
        f"custody: error: There is no appliance home at {tmp_path / 'nowhere'}.",
        f"custody: hint: Create one with `custody init --home {tmp_path / 'nowhere'}`, or pass "
        "the right --home.",
    ]


def test_a_half_initialised_home_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("init", "--home", str(home))
    (home / "appliance.pub").unlink()
    result = run("status", "--home", str(home))
    assert result.returncode == 4
    assert "appliance.pub missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_home_comes_from_the_flag_then_the_environment_then_xdg(tmp_path: Path) -> None:
    flag, env_home, xdg = tmp_path / "flag", tmp_path / "env", tmp_path / "xdg"
    assert run("init", env={"CUSTODY_HOME": str(env_home)}).returncode == 0
    assert run("init", env={"XDG_DATA_HOME": str(xdg)}).returncode == 0
    assert (xdg / "custody" / "log.sqlite").is_file()
    both = {"CUSTODY_HOME": str(env_home), "XDG_DATA_HOME": str(xdg)}
    assert run("init", "--home", str(flag), env=both).returncode == 0
    for expected, args, env in [
        (flag, ["--home", str(flag)], both),
        (env_home, [], both),
        (xdg / "custody", [], {"XDG_DATA_HOME": str(xdg)}),
    ]:
        status = json.loads(run("status", "--json", *args, env=env).stdout)
        assert status["home"] == str(expected)


def test_status_warns_about_dangling_intents(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("init", "--home", str(home))
    script = (
        "import sys; from pathlib import Path; from custody.log import open_log; "
        "log = open_log(Path(sys.argv[1])); log.intent('media.write', {'device': 'a'}); "
        "log.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(home)], check=True)
    status = run("status", "--home", str(home))
    assert status.returncode == 0
    assert "log size     2 entries" in status.stdout
    assert status.stderr.startswith("custody: warning: dangling intent: entry 2, media.write, ")
