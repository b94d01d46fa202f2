"""Only `custodians/gpg.py` runs programs or touches untyped python-gnupg (read with `ast`)."""

from __future__ import annotations

import ast
from pathlib import Path

import custody.custodians
import custody.formats.packet

PACKAGE = Path(custody.custodians.__file__).parent
MODULES = [*sorted(PACKAGE.glob("*.py")), Path(custody.formats.packet.__file__)]
ENGINE_ONLY = {"gnupg", "subprocess"}


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_only_the_engine_runs_gpg_or_uses_any() -> None:
    for path in MODULES:
        names = imported_names(path)
        if path.name == "gpg.py":
            assert names >= ENGINE_ONLY
            continue
        assert not names & ENGINE_ONLY, path
        assert "typing.Any" not in names, path


def test_custody_modules_imported_are_only_errors_and_our_own() -> None:
    for path in MODULES:
        ours = {n for n in imported_names(path) if n.startswith("custody")}
        allowed = ("custody.errors", "custody.custodians")
        assert all(n.startswith(allowed) for n in ours), (path, ours)


def test_the_public_surface_is_small_and_real() -> None:
    exported = custody.custodians.__all__
    assert len(exported) <= 20
    assert all(hasattr(custody.custodians, name) for name in exported)
