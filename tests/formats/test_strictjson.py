"""Strict JSON: a repeated key or a NaN is refused, anything else reads as json does."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.formats.strictjson import loads_strict


@pytest.mark.parametrize(
    "text", ['{"a": 1, "a": 2}', '{"x": {"b": 1, "b": 1}}', "[NaN]", "-Infinity"]
)
def test_repeated_keys_and_constants_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        loads_strict(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)


@given(JSON)
def test_strict_documents_read_as_json_reads_them(document: object) -> None:
    assert loads_strict(json.dumps(document)) == document


@given(st.text(max_size=200))
def test_any_text_is_a_document_or_a_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        loads_strict(text)
