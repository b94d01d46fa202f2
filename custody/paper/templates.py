"""The words of each sheet, read from TOML files shipped inside the package (`templates/`).

Templates are data so that the wording, the restore instructions above all, can be reviewed
and changed without touching layout code (printables/README.md says how). Placeholders are
`$name` (string.Template), never str.format: a value is inserted once and never read as a
template again, so a brace or a dollar in a custodian's name is just a character. A template
that names a placeholder custody does not supply, or a key that is missing or of the wrong
type, is a bug in the template and raises ValueError.
"""

from __future__ import annotations

import functools
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Literal

TemplateName = Literal["custodian-sheet", "summary-sheet"]


@dataclass(frozen=True, slots=True)
class SheetTemplate:
    name: str
    entries: MappingProxyType[str, object]

    def text(self, key: str, **values: object) -> str:
        """The string at dotted `key` (e.g. "qr.note") with `values` filled in."""
        raw = self._lookup(key)
        if not isinstance(raw, str):
            raise ValueError(f"template {self.name}: {key} is not a string")
        return self._fill(key, raw, values)

    def paragraphs(self, key: str, **values: object) -> tuple[str, ...]:
        """The list of strings at dotted `key`, each with `values` filled in."""
        raw = self._lookup(key)
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ValueError(f"template {self.name}: {key} is not a list of strings")
        return tuple(self._fill(key, item, values) for item in raw)

    def _lookup(self, key: str) -> object:
        node: object = self.entries
        for part in key.split("."):
            if not isinstance(node, MappingProxyType | dict) or part not in node:
                raise ValueError(f"template {self.name}: {key} is missing")
            node = node[part]
        return node

    def _fill(self, key: str, raw: str, values: dict[str, object]) -> str:
        try:
            return string.Template(raw).substitute({k: str(v) for k, v in values.items()})
        except (KeyError, ValueError) as error:
            raise ValueError(f"template {self.name}: {key} needs {error}") from error


@functools.cache
def load_template(name: TemplateName) -> SheetTemplate:
    source = resources.files("custody.paper").joinpath("templates", f"{name}.toml")
    entries = tomllib.loads(source.read_text(encoding="utf-8"))
    return SheetTemplate(name=name, entries=MappingProxyType(entries))
