"""The appliance image, built: image/check-rootfs.sh on its root filesystem, and its boot.

Both need an image built first (`image/build.sh`, as root, several minutes); the default test
run never builds or boots one, and these tests skip with the reason. To run them:

    CUSTODY_IMAGE_ROOTFS=image/work/rootfs .venv/bin/pytest tests/image
    CUSTODY_IMAGE_BOOT=1 .venv/bin/pytest tests/image -k boot     # qemu, several minutes more

The boot test takes the ISO from CUSTODY_IMAGE_ISO, else the one in image/out/.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[2] / "image"

# Every check image/check-rootfs.sh makes; a check it stops making fails here.
CHECKS = (
    "no-network-packages",
    "only-loopback",
    "networkd-masked",
    "network-modules-absent",
    "modprobe-blacklist",
    "no-firmware",
    "no-ssh",
    "no-swap",
    "no-hibernation",
    "tmpfs-tmp",
    "tmpfs-run-custody",
    "home-fstab",
    "core-sysctl",
    "ptrace-scope",
    "core-limits",
    "core-systemd",
    "no-automount",
    "usbguard",
    "console-autologin",
    "console-shell",
    "machine-id",
    "packages",
    "software-manifest",
    "cups-hardened",
    "custody-version",
    "custody-rehearse",
    "custody-software",
    "gpg",
    "scdaemon",
    "cups",
    "paper-tools",
    "unmounted",
)
LINE = re.compile(r"^(ok|FAIL) +([a-z0-9-]+): (.*)$")


@pytest.fixture(scope="module")
def check_results() -> dict[str, tuple[bool, str]]:
    rootfs = os.environ.get("CUSTODY_IMAGE_ROOTFS")
    if not rootfs:
        pytest.skip(
            "no built image: set CUSTODY_IMAGE_ROOTFS to a root filesystem made by "
            "image/build.sh (image/work/rootfs) to run the image checks"
        )
    if not Path(rootfs, "opt/custody/bin/custody").exists():
        pytest.fail(f"CUSTODY_IMAGE_ROOTFS={rootfs} is not a root filesystem from image/build.sh")
    if os.geteuid() != 0:
        pytest.skip("the image checks chroot and mount: they need root")
    run = subprocess.run(
        ["bash", str(IMAGE / "check-rootfs.sh"), rootfs],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results = {
        match[2]: (match[1] == "ok", match[3])
        for match in map(LINE.match, run.stdout.splitlines())
        if match
    }
    assert results, f"check-rootfs.sh reported nothing:\n{run.stdout}\n{run.stderr}"
    return results


@pytest.mark.parametrize("name", CHECKS)
def test_rootfs_check(check_results: dict[str, tuple[bool, str]], name: str) -> None:
    assert name in check_results, f"check-rootfs.sh made no check named {name}"
    passed, detail = check_results[name]
    assert passed, f"{name}: {detail}"


def test_boot_reaches_the_custody_prompt() -> None:
    if os.environ.get("CUSTODY_IMAGE_BOOT") != "1":
        pytest.skip("the qemu boot test takes minutes: set CUSTODY_IMAGE_BOOT=1 to run it")
    given = os.environ.get("CUSTODY_IMAGE_ISO")
    isos = [Path(given)] if given else sorted((IMAGE / "out").glob("custody-appliance-*.iso"))
    if len(isos) != 1 or not isos[0].is_file():
        pytest.fail(f"need exactly one ISO (CUSTODY_IMAGE_ISO, or in image/out): {isos}")
    run = subprocess.run(
        ["bash", str(IMAGE / "boot-test.sh"), str(isos[0])],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "BOOT-TEST PASSED" in run.stdout
