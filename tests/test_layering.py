"""The package's shape, kept by reading imports with `ast`.

Imports point downward: the CLI may import anything; nothing below it imports the CLI or
prints; only the adapter modules named here run programs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "custody"
PROGRAM_RUNNERS = {"custodians/gpg.py", "media.py", "media", "paper/printing.py"}


def library_modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py":
            yield path


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def is_program_runner(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return str(relative) in PROGRAM_RUNNERS or relative.parts[0] in PROGRAM_RUNNERS


@pytest.mark.parametrize("path", list(library_modules()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_module_stays_below_the_cli(path: Path) -> None:
    names = imported_names(path)
    assert not {n for n in names if n == "custody.cli" or n.startswith("custody.cli.")}
    assert not names & {"argparse", "click", "typer"}
    if not is_program_runner(path):
        assert "subprocess" not in names, f"{path} runs programs; only adapters may"


@pytest.mark.parametrize("path", list(library_modules()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_module_neither_prints_nor_prompts(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"print", "input"}, f"{path}:{node.lineno}"


def test_cli_start_path_imports_no_domain_module() -> None:
    # Command modules import the library inside their handlers, so `custody --help` stays fast.
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("custody")
            ):
                assert node.module.startswith(("custody.cli", "custody.errors")) or (
                    node.module == "custody"
                ), f"{path}:{node.lineno} imports {node.module} at start-up"
