"""The blocks a sheet is made of: headings, paragraphs, fields, monospace lines, QR codes,
and lines to sign on.

Every string from outside (names, ids, checkpoint text) passes through `printable` and is
drawn as plain text: there is no markup to escape into. QR codes are drawn from segno's module
matrix as filled rectangles, so they stay sharp at any printer resolution; each is level Q or
better, in byte mode, with the standard quiet zone (docs/spec/qr.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import segno

from custody.paper.layout import CONTENT_WIDTH, Block, space
from custody.paper.pdf import MM, Font, Pen, printable, text_width

BODY_SIZE: Final = 9.0
MONO_SIZE: Final = 9.5
LABEL_WIDTH: Final = 32 * MM
MODULE: Final = 0.6 * MM
QUIET_MODULES: Final = 4
GAP_MODULES: Final = 6
_CAPTION: Final = 6 * MM


def heading(text: str, *, size: float = 12.0) -> list[Block]:
    def draw(pen: Pen, x: float, y: float) -> None:
        pen.text(x, y - size, printable(text, "bold"), font="bold", size=size)

    return [space(2.5 * MM), Block(size * 1.5, draw, keep_with_next=True)]


def paragraph(
    text: str, *, font: Font = "sans", size: float = BODY_SIZE, indent: float = 0
) -> Block:
    lines = wrap(printable(text, font), font, size, CONTENT_WIDTH - indent)
    leading = size * 1.3

    def draw(pen: Pen, x: float, y: float) -> None:
        for number, line in enumerate(lines):
            pen.text(x + indent, y - size - number * leading, line, font=font, size=size)

    return Block(len(lines) * leading + size * 0.4, draw)


def numbered(items: Sequence[str]) -> list[Block]:
    """Numbered paragraphs with a hanging indent, one block each."""
    blocks = []
    for number, item in enumerate(items, 1):
        body = paragraph(item, indent=6 * MM)

        def draw(
            pen: Pen, x: float, y: float, body: Block = body, label: str = f"{number}."
        ) -> None:
            pen.text(x, y - BODY_SIZE, label, font="sans", size=BODY_SIZE)
            body.draw(pen, x, y)

        blocks.append(Block(body.height, draw))
    return blocks


def field(label: str, value: str, *, font: Font = "sans", size: float = BODY_SIZE) -> Block:
    """`label` in bold, `value` beside it, wrapped within the column."""
    lines = wrap(printable(value, font), font, size, CONTENT_WIDTH - LABEL_WIDTH)
    leading = size * 1.35

    def draw(pen: Pen, x: float, y: float) -> None:
        pen.text(x, y - size, printable(label, "bold"), font="bold", size=BODY_SIZE)
        for number, line in enumerate(lines):
            pen.text(x + LABEL_WIDTH, y - size - number * leading, line, font=font, size=size)

    return Block(len(lines) * leading + 1.5, draw)


def mono_lines(lines: Sequence[str], *, size: float = MONO_SIZE) -> list[Block]:
    """One block per line, so long texts break between lines; lines are drawn as given."""

    def block(line: str) -> Block:
        def draw(pen: Pen, x: float, y: float) -> None:
            pen.text(x, y - size, printable(line, "mono"), font="mono", size=size)

        return Block(size * 1.27, draw)

    return [block(line) for line in lines]


def signature_lines(labels: Sequence[str], *, per_row: int = 2) -> list[Block]:
    """Labelled lines to write on, `per_row` side by side, with room above for a signature."""
    column = CONTENT_WIDTH / per_row

    def row(labels_in_row: Sequence[str]) -> Block:
        def draw(pen: Pen, x: float, y: float) -> None:
            for offset, label in enumerate(labels_in_row):
                left = x + offset * column
                pen.line(left, y - 11 * MM, left + column - 5 * MM, y - 11 * MM)
                pen.text(left, y - 14.5 * MM, printable(label, "sans"), font="sans", size=8)

        return Block(16 * MM, draw)

    return [row(labels[i : i + per_row]) for i in range(0, len(labels), per_row)]


def qr_rows(contents: Sequence[bytes], captions: Sequence[str]) -> list[Block]:
    """The codes side by side, as many per row as fit, each captioned below.

    The page margin and the gaps between codes are each at least the 4-module quiet zone a
    reader needs, so four version-13 codes fit across the page.
    """
    codes = [segno.make_qr(content, error="q", mode="byte") for content in contents]
    side = max(code.symbol_size(border=0)[0] for code in codes) * MODULE
    pitch = side + GAP_MODULES * MODULE
    per_row = max(1, int((CONTENT_WIDTH + GAP_MODULES * MODULE) // pitch))

    def row(start: int) -> Block:
        def draw(pen: Pen, x: float, y: float) -> None:
            for column, index in enumerate(range(start, min(start + per_row, len(codes)))):
                left = x + column * pitch
                _draw_code(pen, codes[index], left, y - QUIET_MODULES * MODULE)
                caption = printable(captions[index], "sans")
                width = text_width(caption, "sans", 8)
                bottom = y - QUIET_MODULES * MODULE - side
                pen.text(left + (side - width) / 2, bottom - 3.5 * MM, caption, font="sans", size=8)

        return Block(QUIET_MODULES * MODULE + side + _CAPTION, draw)

    return [row(start) for start in range(0, len(codes), per_row)]


def _draw_code(pen: Pen, code: segno.QRCode, left: float, top: float) -> None:
    # Dark modules of a row are merged into runs: far fewer rectangles, no seams between them.
    matrix = [list(row) for row in code.matrix_iter(scale=1, border=0)]
    cells = []
    for row, modules in enumerate(matrix):
        run_start = None
        for column, dark in enumerate([*modules, 0]):
            if dark and run_start is None:
                run_start = column
            elif not dark and run_start is not None:
                cells.append((run_start, len(matrix) - 1 - row, column - run_start, 1))
                run_start = None
    pen.fill_grid(left, top - len(matrix) * MODULE, MODULE, cells)


def wrap(text: str, font: Font, size: float, width: float) -> list[str]:
    """Greedy word wrap; a word wider than the line is cut where it must be."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, font, size) <= width:
            current = candidate
            continue
        pieces = _cut_word(word, font, size, width)
        lines += [current, *pieces[:-1]] if current else pieces[:-1]
        current = pieces[-1]
    return [*lines, current]


def _cut_word(word: str, font: Font, size: float, width: float) -> list[str]:
    pieces = []
    rest = word
    while len(rest) > 1 and text_width(rest, font, size) > width:
        fits = [i for i in range(1, len(rest)) if text_width(rest[:i], font, size) <= width]
        cut = fits[-1] if fits else 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return [*pieces, rest]
