"""The image's build files, checked without building anything (fast, in the default run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[2] / "image"
SCRIPTS = [*sorted(IMAGE.glob("*.sh")), IMAGE / "overlay/usr/local/bin/custody-shell"]


def manifest(tree: Path) -> str:
    return subprocess.run(
        [sys.executable, str(IMAGE / "rootfs-manifest.py"), str(tree)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_manifest_ignores_times_but_sees_content_modes_and_links(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hostname").write_text("custody\n")
    (tmp_path / "etc/name with space").write_text("x")
    (tmp_path / "link").symlink_to("etc/hostname")
    first = manifest(tmp_path)
    assert "l 0777" in first and "etc/hostname ./link" in first
    assert "./etc/name\\x20with\\x20space" in first
    os.utime(tmp_path / "etc/hostname", (0, 0))
    assert manifest(tmp_path) == first
    (tmp_path / "etc/hostname").write_text("custodx\n")
    assert manifest(tmp_path) != first
    (tmp_path / "etc/hostname").write_text("custody\n")
    assert manifest(tmp_path) == first
    (tmp_path / "etc/hostname").chmod(0o600)
    assert manifest(tmp_path) != first


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_parses(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_usbguard_rejects_storage_with_keyboard_before_allowing_anything() -> None:
    rules = [
        line
        for line in (IMAGE / "overlay/etc/usbguard/rules.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "reject with-interface all-of { 08:*:* 03:*:* }"
    assert all(rule.startswith("allow ") for rule in rules[1:])
    assert "allow with-interface match-all { 03:*:* }" in rules  # the console keyboard


def test_fstab_has_tmpfs_no_swap_and_an_optional_home() -> None:
    lines = [
        line
        for line in (IMAGE / "overlay/etc/fstab").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    # Exactly "tmpfs /tmp ": live-boot adds a duplicate /tmp line otherwise.
    assert any(line.startswith("tmpfs /tmp tmpfs ") for line in lines)
    assert any(line.startswith("tmpfs /run/custody tmpfs ") for line in lines)
    assert not any(line.split()[2] == "swap" for line in lines)
    (home,) = [line for line in lines if line.startswith("LABEL=CUSTODY-HOME ")]
    assert home.split()[1] == "/var/lib/custody" and "nofail" in home.split()[3]


def test_wheels_are_pinned_by_hash() -> None:
    for lock in ("wheels.lock", "build-tools.lock"):
        for line in (IMAGE / lock).read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, rest = line.partition("==")
                assert name and " --hash=sha256:" in rest, line


def test_cupsd_conf_listens_on_the_socket_only_and_keeps_no_jobs() -> None:
    conf = IMAGE / "overlay/etc/cups/cupsd.conf"
    lines = [line.strip() for line in conf.read_text().splitlines()]
    for wanted in (
        "PreserveJobFiles No",
        "PreserveJobHistory No",
        "ErrorPolicy stop-printer",
        "Browsing No",
        "WebInterface No",
        "DefaultAuthType Basic",
    ):
        assert wanted in lines
    listening = [line for line in lines if line.split(" ")[0] in {"Listen", "Port", "SSLPort"}]
    assert listening == ["Listen /run/cups/cups.sock"]
    cupsd = shutil.which("cupsd", path=f"/usr/sbin:{os.environ.get('PATH', '')}")
    if cupsd is None:
        pytest.skip("cupsd is not installed here: its own syntax check cannot run")
    # cupsd only warns about a directive it does not know, and ignores it.
    run = subprocess.run([cupsd, "-t", "-c", conf], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "Unknown directive" not in run.stderr, run.stderr
