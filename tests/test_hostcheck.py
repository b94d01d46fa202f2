"""The host self-check (bad-inputs G06, G10, H05): real processes, fake /proc trees, real venv.

Hardening is tested in child processes, never in pytest's own process: a hard core limit of
0 would be inherited by every later child, including the control run that shows a core file
would otherwise appear.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.formats.softwaremanifest import (
    SoftwareManifestError,
    encode_software_manifest,
    load_software_manifest,
    parse_software_manifest,
)
from custody.hostcheck import (
    MANIFEST_ENV,
    Finding,
    HostCheckError,
    HostReport,
    check_host,
    check_software,
    require_safe_host,
)
from custody.software import build_software_manifest, software_digest, write_software_manifest

CUSTODY = Path(sys.executable).parent / "custody"
SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


def run_python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
        env=clean_env(),
    )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != MANIFEST_ENV} | {
        "PYTHONDONTWRITEBYTECODE": "1"
    }


# --- harden_process ------------------------------------------------------------------------


def test_harden_process_sets_core_limit_zero_and_not_dumpable() -> None:
    result = run_python(
        """
        import ctypes, json, resource
        from custody.hostcheck import harden_process
        before = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)
        harden_process()
        print(json.dumps([before, resource.getrlimit(resource.RLIMIT_CORE),
                          ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)]))
        """
    )
    assert result.returncode == 0, result.stderr
    # A process is dumpable after exec; hardening makes it not, and both core limits 0.
    assert json.loads(result.stdout) == [1, [0, 0], 0]


ABORT_WITH_A_SECRET = """
    import os, resource
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:  # as permissive as allowed: root may raise a hard limit an earlier test lowered
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.setrlimit(resource.RLIMIT_CORE, unlimited)
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    print(resource.getrlimit(resource.RLIMIT_CORE)[1], flush=True)
    secret = bytes.fromhex("{marker}") * 64  # live in memory when the process dies
    if {harden}:
        from custody.hostcheck import harden_process
        harden_process()
    os.abort()
"""


def test_a_hardened_process_that_aborts_leaves_no_core_file(tmp_path: Path) -> None:
    """G06. The kernel names core files by kernel.core_pattern, which is system-wide: with
    `core` (this machine's default) they land in the crashing process's working directory,
    which is what the unhardened control run shows; under systemd-coredump or a pipe
    the control cannot show it, and only the hardened half is checked."""
    marker = os.urandom(16).hex()
    control, hardened = tmp_path / "control", tmp_path / "hardened"
    control.mkdir()
    hardened.mkdir()
    code = ABORT_WITH_A_SECRET.format(marker=marker, harden=True)
    result = run_python(code, cwd=hardened)
    assert result.returncode == -signal.SIGABRT
    assert list(hardened.iterdir()) == []

    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core_pattern {pattern!r} does not write into the working directory")
    result = run_python(ABORT_WITH_A_SECRET.format(marker=marker, harden=False), cwd=control)
    assert result.returncode == -signal.SIGABRT
    if result.stdout.strip() == "0":  # a parent (this test run, hardened) lowered it for good
        pytest.skip("the hard core limit is 0 here: no process can dump core at all")
    cores = list(control.iterdir())
    assert cores, "the unhardened control run left no core file: the test proves nothing"
    assert bytes.fromhex(marker) in cores[0].read_bytes()  # what hardening prevents


# --- fake /proc and /sys trees -------------------------------------------------------------


def fake_root(
    tmp_path: Path,
    *,
    swaps: str = SWAPS_HEADER,
    ptrace_scope: str | None = "1\n",
    disk: str | None = None,
    cmdline: str = "boot=live noresume quiet\n",
) -> Path:
    root = tmp_path / "root"
    (root / "proc/sys/kernel/yama").mkdir(parents=True)
    (root / "proc/swaps").write_text(swaps)
    (root / "proc/cmdline").write_text(cmdline)
    if ptrace_scope is not None:
        (root / "proc/sys/kernel/yama/ptrace_scope").write_text(ptrace_scope)
    if disk is not None:
        (root / "sys/power").mkdir(parents=True)
        (root / "sys/power/disk").write_text(disk)
    return root


def finding(report: HostReport, name: str) -> Finding:
    (found,) = [f for f in report.findings if f.name == name]
    return found


def hardened_check(root: Path) -> subprocess.CompletedProcess[str]:
    """check_host on `root` in a hardened child: exit 0 when safe, else the error on stdout."""
    return run_python(
        f"""
        from pathlib import Path
        from custody.hostcheck import HostCheckError, check_host, harden_process
        from custody.hostcheck import require_safe_host
        harden_process()
        try:
            require_safe_host(check_host(root=Path({str(root)!r})))
        except HostCheckError as error:
            print(error.kind, error.exit_code, error.message, sep="\\n")
            raise SystemExit(1)
        """
    )


def test_swap_listed_is_fatal_and_names_the_device(tmp_path: Path) -> None:
    root = fake_root(tmp_path, swaps=SWAPS_HEADER + "/dev/sda2 partition 8388604 0 -2\n")
    swap = finding(check_host(root=root, env={}), "swap")
    assert (swap.ok, swap.fatal) == (False, True)
    assert swap.detail == "swap is on (/dev/sda2): run swapoff -a; the appliance image has no swap"
    with pytest.raises(HostCheckError) as raised:
        require_safe_host(check_host(root=root, env={}))
    assert raised.value.kind == "unsafe-host" and raised.value.exit_code == 4
    assert "swap: swap is on (/dev/sda2): run swapoff -a" in raised.value.message

    result = hardened_check(root)
    assert result.returncode == 1, result.stderr
    kind, code, message = result.stdout.splitlines()
    assert (kind, code) == ("unsafe-host", "4")
    assert message == (
        "This host is not safe for secrets (1 failed check): swap: swap is on (/dev/sda2): "
        "run swapoff -a; the appliance image has no swap."
    )


def test_no_swap_in_a_hardened_process_is_safe(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    assert finding(check_host(root=root, env={}), "swap").ok
    result = hardened_check(root)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_an_unhardened_process_fails_dumpable_and_core_limit(tmp_path: Path) -> None:
    # A fresh child: this test process may have been hardened by an earlier in-process test.
    result = run_python(
        f"""
        import resource
        from pathlib import Path
        from custody.hostcheck import check_host
        report = check_host(root=Path({str(fake_root(tmp_path))!r}), env={{}})
        found = {{f.name: f for f in report.findings}}
        print(found["dumpable"].failed, found["dumpable"].detail, sep="\\n")
        print(resource.getrlimit(resource.RLIMIT_CORE) == (0, 0) or found["core-limit"].failed)
        """
    )
    failed, detail, core = result.stdout.splitlines()
    assert (failed, core) == ("True", "True"), result.stderr
    assert "custody must harden itself first" in detail


def test_missing_proc_swaps_fails_closed(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    (root / "proc/swaps").unlink()
    swap = finding(check_host(root=root, env={}), "swap")
    assert swap.failed and "cannot tell whether swap is on" in swap.detail


@pytest.mark.parametrize("scope", ["0\n", None], ids=["zero", "absent"])
def test_ptrace_scope_zero_or_absent_is_a_warning_only(tmp_path: Path, scope: str | None) -> None:
    root = fake_root(tmp_path, ptrace_scope=scope)
    ptrace = finding(check_host(root=root, env={}), "ptrace-scope")
    assert (ptrace.ok, ptrace.fatal) == (False, False)
    assert hardened_check(root).returncode == 0


@pytest.mark.parametrize(
    ("disk", "cmdline", "possible"),
    [
        ("[platform] shutdown reboot suspend test_resume\n", "quiet\n", True),
        ("[disabled]\n", "quiet\n", False),
        (None, "quiet\n", False),
        (None, "root=/dev/sda1 resume=/dev/sda2 quiet\n", True),
    ],
)
def test_hibernation_is_a_warning(
    tmp_path: Path, disk: str | None, cmdline: str, possible: bool
) -> None:
    root = fake_root(tmp_path, disk=disk, cmdline=cmdline)
    hibernation = finding(check_host(root=root, env={}), "hibernation")
    assert (hibernation.ok, hibernation.fatal) == (not possible, False)
    if possible:
        assert "nohibernate" in hibernation.detail


def test_software_finding_outside_an_image_is_not_fatal(tmp_path: Path) -> None:
    (software,) = check_host(root=fake_root(tmp_path), env={}).findings[5:]
    assert (software.name, software.ok, software.fatal) == ("software", False, False)
    assert software.detail.startswith("not an appliance install: no software manifest at ")


def test_an_image_without_its_manifest_fails(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    (root / "etc").mkdir()
    (root / "etc/custody-image-release").write_text("custody 0.1.0, image of commit …\n")
    (software,) = check_host(root=root, env={}).findings[5:]
    assert software.failed and "image is incomplete" in software.detail


# --- the software manifest -----------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("software") / "software-manifest.json"
    write_software_manifest(path)
    return path


def altered(manifest_file: Path, tmp_path: Path, change: Any) -> Path:
    document = json.loads(manifest_file.read_text())
    change({d["name"]: d for d in document["distributions"]})
    path = tmp_path / "altered.json"
    path.write_text(json.dumps(document))
    return path


def test_manifest_of_the_real_venv_round_trips_and_checks_ok(manifest_file: Path) -> None:
    data = manifest_file.read_bytes()
    manifest = parse_software_manifest(data, source=str(manifest_file))
    assert encode_software_manifest(manifest) == data
    assert {"custody", "cryptography", "segno"} <= {d.name for d in manifest.distributions}
    (result,) = check_software(manifest_file)
    assert result.ok and result.fatal, result.detail
    assert result.detail.endswith(f"files match {manifest_file}")
    assert build_software_manifest() == manifest  # the same installation, the same manifest


def test_an_altered_hash_names_the_distribution_and_file(
    manifest_file: Path, tmp_path: Path
) -> None:
    def change(dists: dict[str, Any]) -> None:
        dists["segno"]["files"]["segno/__init__.py"] = "0" * 64

    (result,) = check_software(altered(manifest_file, tmp_path, change))
    assert result.failed
    assert result.detail.startswith("segno 1.6.6: segno/__init__.py differs from the manifest")


def test_an_altered_version_names_the_distribution(manifest_file: Path, tmp_path: Path) -> None:
    def change(dists: dict[str, Any]) -> None:
        dists["pynacl"]["version"] = "0.0.1"

    (result,) = check_software(altered(manifest_file, tmp_path, change))
    assert result.failed
    assert result.detail.startswith("pynacl: the manifest lists 0.0.1, ")


def test_a_missing_file_or_distribution_is_fatal(manifest_file: Path, tmp_path: Path) -> None:
    def change(dists: dict[str, Any]) -> None:
        dists["segno"]["files"]["segno/gone.py"] = "a" * 64
        dists["zxing-cpp"]["name"] = "zxing-cpp-gone"

    details = [f.detail for f in check_software(altered(manifest_file, tmp_path, change))]
    assert "segno 1.6.6: segno/gone.py is missing" in details
    assert any(d.startswith("zxing-cpp-gone ") and d.endswith(" is not installed") for d in details)
    assert any(d.startswith("zxing-cpp ") and "not in the manifest" in d for d in details)


def test_software_digest_is_stable_and_short() -> None:
    digest = software_digest()
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert software_digest() == digest


BAD_MANIFESTS = {
    "not-json": b"{",
    "not-utf8": b'{"format": "\xff"}',
    "bom": b"\xef\xbb\xbf{}",
    "not-an-object": b"[]",
    "repeated-key": b'{"format": 1, "format": 2}',
    "nan": b'{"format": NaN}',
    "deep": b"[" * 100_000,
    "wrong-format": (
        b'{"format": "custody-software-manifest/2", "custody": "0.1.0",'
        b' "site_packages": "/x", "distributions": []}'
    ),
    "relative-site": (
        b'{"format": "custody-software-manifest/1", "custody": "0.1.0",'
        b' "site_packages": "x", "distributions": []}'
    ),
    "absolute-file": (
        b'{"format": "custody-software-manifest/1", "custody": "0.1.0", "site_packages": "/x",'
        b' "distributions": [{"name": "a", "version": "1", "bytecode": {},'
        b' "files": {"/etc/passwd": "' + b"a" * 64 + b'"}}]}'
    ),
    "upper-hex": (
        b'{"format": "custody-software-manifest/1", "custody": "0.1.0", "site_packages": "/x",'
        b' "distributions": [{"name": "a", "version": "1", "bytecode": {},'
        b' "files": {"a.py": "' + b"A" * 64 + b'"}}]}'
    ),
    "twice": (
        b'{"format": "custody-software-manifest/1", "custody": "0.1.0", "site_packages": "/x",'
        b' "distributions": [{"name": "a", "version": "1", "bytecode": {}, "files": {}},'
        b' {"name": "a", "version": "2", "bytecode": {}, "files": {}}]}'
    ),
}


@pytest.mark.parametrize("data", BAD_MANIFESTS.values(), ids=BAD_MANIFESTS.keys())
def test_a_malformed_manifest_is_refused_naming_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad-manifest.json"
    path.write_bytes(data)
    with pytest.raises(SoftwareManifestError) as raised:
        load_software_manifest(path)
    assert raised.value.kind == "software-manifest-malformed"
    assert raised.value.message.startswith(f"The software manifest {path} ")
    (result,) = check_software(path)
    assert result.failed and str(path) in result.detail


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_domain_error(data: bytes) -> None:
    try:
        parse_software_manifest(data, source="fuzz.json")
    except SoftwareManifestError as error:
        assert "fuzz.json" in error.message


@given(st.sampled_from(["custody", "site_packages", "distributions"]), JSON_VALUES)
def test_arbitrary_field_values_raise_only_the_domain_error(field: str, value: object) -> None:
    document: dict[str, object] = {
        "format": "custody-software-manifest/1",
        "custody": "0.1.0",
        "site_packages": "/x",
        "distributions": [{"name": "a", "version": "1", "files": {}, "bytecode": {}}],
    }
    document[field] = value
    try:
        parse_software_manifest(json.dumps(document).encode(), source="fuzz.json")
    except SoftwareManifestError as error:
        assert "fuzz.json" in error.message


# --- custody selfcheck ---------------------------------------------------------------------


def selfcheck(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CUSTODY), "selfcheck", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=clean_env(),
    )


def test_selfcheck_json_passes_on_this_machine() -> None:
    if Path("/etc/custody-image-release").exists():
        pytest.skip("this is an appliance image: its own manifest decides")
    result = selfcheck("--json")
    document = json.loads(result.stdout)
    names = [f["name"] for f in document["findings"]]
    assert names == ["swap", "dumpable", "core-limit", "ptrace-scope", "hibernation", "software"]
    assert "Traceback" not in result.stderr
    swap = document["findings"][0]
    if not swap["ok"]:
        pytest.skip(f"this machine has swap on, so selfcheck rightly fails: {swap['detail']}")
    assert result.returncode == 0, result.stderr
    assert document["safe"] is True and result.stderr == ""
    assert document["software_digest"] == software_digest()


def test_selfcheck_fails_with_exit_4_on_an_altered_manifest(
    manifest_file: Path, tmp_path: Path
) -> None:
    def change(dists: dict[str, Any]) -> None:
        dists["segno"]["files"]["segno/__init__.py"] = "0" * 64

    result = selfcheck("--software-manifest", altered(manifest_file, tmp_path, change))
    assert result.returncode == 4
    assert "FAIL software: segno 1.6.6: segno/__init__.py differs" in result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("custody: error: This host is not safe for secrets")
    assert "software: segno 1.6.6: segno/__init__.py differs" in result.stderr


def test_selfcheck_names_a_malformed_manifest(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b"\x00garbage")
    result = selfcheck("--software-manifest", path, "--json")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    (software,) = [f for f in json.loads(result.stdout)["findings"] if f["name"] == "software"]
    assert software["detail"].startswith(f"The software manifest {path} is not valid JSON")


def test_selfcheck_writes_a_manifest_that_then_checks_ok(tmp_path: Path) -> None:
    path = tmp_path / "written.json"
    written = selfcheck("--write-manifest", path)
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(f"wrote the software manifest {path}: ")
    result = selfcheck("--software-manifest", path)
    assert "ok   software: " in result.stdout
