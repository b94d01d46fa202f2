"""How the command line writes: JSON documents and tables to stdout, diagnostics to stderr."""

from __future__ import annotations

import sys

from custody.errors import CustodyError


def report_error(error: CustodyError) -> None:
    print(f"custody: error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"custody: hint: {error.hint}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"custody: warning: {message}", file=sys.stderr)


def emit_json(document: object) -> None:
    import json

    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def emit_lines(*lines: str) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
