"""The reportlab adapter: fonts, measuring text, and writing a PDF from drawn pages.

This is the only module that imports reportlab, so its untyped API (`Any`) stays in `Pen` and
`build_pdf`. Fonts are DejaVu Sans and DejaVu Sans Mono from Debian's fonts-dejavu-core,
embedded (as subsets) in every PDF. PDFs are written in reportlab's invariant mode, so the same
pages give the same bytes, with neutral metadata: the caller's fixed title, no author, subject
or keywords. Rendering happens in memory only: no temporary file ever holds a sheet.
It refuses to draw a character its fonts lack: `printable` escapes those first.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from custody.errors import StateError

FONT_DIR: Final = Path("/usr/share/fonts/truetype/dejavu")
MM: Final = 72 / 25.4
PAGE_WIDTH: Final = 210 * MM
PAGE_HEIGHT: Final = 297 * MM

Font = Literal["sans", "bold", "mono"]
_FILES: Final[dict[Font, str]] = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
}


def _name(font: Font) -> str:
    return f"custody-{font}"


@functools.cache
def _glyphs() -> dict[Font, frozenset[int]]:
    """Register the fonts once per process; the code points each one can draw."""
    glyphs: dict[Font, frozenset[int]] = {}
    for font, file_name in _FILES.items():
        path = FONT_DIR / file_name
        try:
            ttf = TTFont(_name(font), str(path))
        except Exception as error:  # reportlab raises TTFError or OSError, among others
            raise StateError(
                f"The font {path} cannot be read; custody prints its sheets with DejaVu fonts.",
                kind="font-missing",
                hint="Install the Debian package fonts-dejavu-core.",
            ) from error
        pdfmetrics.registerFont(ttf)
        glyphs[font] = frozenset(ttf.face.charToGlyph)
    return glyphs


def text_width(text: str, font: Font, size: float) -> float:
    _glyphs()
    return float(pdfmetrics.stringWidth(text, _name(font), size))


def printable(text: str, font: Font) -> str:
    """`text` with every control, format or undrawable character shown as a \\u escape.

    A name with a right-to-left override or a character the font lacks must not print as
    something else, or as nothing.
    """
    drawable = _glyphs()[font]
    return "".join(
        c if c == " " or (c.isprintable() and ord(c) in drawable) else ascii(c)[1:-1] for c in text
    )


class Pen:
    """What a block may draw with: text, lines and filled rectangles, in points."""

    def __init__(self, canvas: Any) -> None:
        self._canvas = canvas

    def text(self, x: float, y: float, text: str, *, font: Font, size: float) -> None:
        self._canvas.setFont(_name(font), size)
        self._canvas.drawString(x, y, text)

    def text_right(self, x: float, y: float, text: str, *, font: Font, size: float) -> None:
        self._canvas.setFont(_name(font), size)
        self._canvas.drawRightString(x, y, text)

    def line(self, x1: float, y1: float, x2: float, y2: float, *, width: float = 0.5) -> None:
        self._canvas.setLineWidth(width)
        self._canvas.line(x1, y1, x2, y2)

    def fill_grid(
        self, left: float, bottom: float, unit: float, cells: Iterable[tuple[int, int, int, int]]
    ) -> None:
        """Fill (x, y, width, height) rectangles given in whole `unit`s from (left, bottom).

        A QR code is a few hundred rectangles: written as one path of integer operands under a
        scaling transform, both the PDF and its writing stay small and fast (reportlab's own
        path objects format every coordinate as a float, which took most of the render time).
        """
        operands = "\n".join(f"{x} {y} {width} {height} re" for x, y, width, height in cells)
        self._canvas.addLiteral(f"q 0 g {unit:.6f} 0 0 {unit:.6f} {left:.4f} {bottom:.4f} cm")
        self._canvas.addLiteral(f"{operands}\nf Q")


def build_pdf(pages: Sequence[Callable[[Pen], None]], *, title: str) -> bytes:
    """A PDF of A4 pages, each drawn by one callable; byte-identical for the same drawing."""
    _glyphs()
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        invariant=1,
        pageCompression=1,
        initialFontName=_name("sans"),  # else reportlab references Helvetica, never embedded
    )
    canvas.setTitle(title)
    canvas.setAuthor("")
    canvas.setSubject("")
    canvas.setKeywords("")
    canvas.setCreator("custody")
    for draw in pages:
        draw(Pen(canvas))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
