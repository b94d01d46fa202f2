"""Rendered sheets, made once per session: rendering is deterministic."""

from __future__ import annotations

import pytest

from custody.paper.render import render_custodian_sheet
from tests.paper.helpers import CREATED, custodian_context, packet


@pytest.fixture(scope="session")
def sheet() -> bytes:
    """The custodian sheet of a 600-byte packet (three codes, 25 lines, two pages)."""
    return render_custodian_sheet(custodian_context(), packet(600), created=CREATED)


@pytest.fixture(scope="session")
def long_sheet() -> bytes:
    """The custodian sheet of a 2 KiB packet (ten codes, 83 lines)."""
    return render_custodian_sheet(custodian_context(), packet(2048), created=CREATED)
