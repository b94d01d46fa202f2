"""Page layout: blocks of known height stacked down A4 pages, with clean page breaks.

A sheet is a list of blocks (a heading, a paragraph, one line of typable text, one row of QR
codes). Pagination never splits a block, keeps a heading with what follows it, drops spacing
at the top of a page, and numbers every page "page i of n" in the footer, so a missing page is
noticed. Everything is laid out before anything is drawn, so the total is known.
This module decides where things go; it draws nothing itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from custody.paper.pdf import MM, PAGE_HEIGHT, PAGE_WIDTH, Pen, build_pdf, printable

MARGIN: Final = 15 * MM
FOOTER_HEIGHT: Final = 8 * MM
CONTENT_WIDTH: Final = PAGE_WIDTH - 2 * MARGIN
CONTENT_HEIGHT: Final = PAGE_HEIGHT - 2 * MARGIN - FOOTER_HEIGHT

DrawAt = Callable[[Pen, float, float], None]
"""Draws a block with its top-left corner at (x, y), in points from the page's bottom-left."""


@dataclass(frozen=True, slots=True)
class Block:
    height: float
    draw: DrawAt
    keep_with_next: bool = False
    """A heading: never the last block of a page."""
    is_space: bool = False
    """Blank space: dropped at the top of a page."""

    def __post_init__(self) -> None:
        if not 0 <= self.height <= CONTENT_HEIGHT:
            raise ValueError(f"a block of {self.height:.0f} pt does not fit on a page")


def space(height: float) -> Block:
    return Block(height, _draw_nothing, is_space=True)


def paginate(blocks: Sequence[Block]) -> list[list[Block]]:
    pages: list[list[Block]] = []
    page: list[Block] = []
    used = 0.0
    for index, block in enumerate(blocks):
        if page and used + _kept_height(blocks, index) > CONTENT_HEIGHT:
            pages.append(page)
            page, used = [], 0.0
        if block.is_space and not page:
            continue
        page.append(block)
        used += block.height
    if page:
        pages.append(page)
    return pages


def write_sheet(blocks: Sequence[Block], *, title: str, footer: str) -> bytes:
    """The PDF of `blocks`: metadata title `title`, `footer` and page numbers on every page."""
    pages = paginate(blocks)
    return build_pdf(
        [
            functools.partial(_draw_page, page, f"{footer} · page {number} of {len(pages)}")
            for number, page in enumerate(pages, 1)
        ],
        title=title,
    )


def _kept_height(blocks: Sequence[Block], index: int) -> float:
    """The height from `index` through the first block not kept with its successor."""
    height = 0.0
    for block in blocks[index:]:
        height += block.height
        if not block.keep_with_next:
            break
    return min(height, CONTENT_HEIGHT)


def _draw_page(blocks: Sequence[Block], footer: str, pen: Pen) -> None:
    top = PAGE_HEIGHT - MARGIN
    for block in blocks:
        block.draw(pen, MARGIN, top)
        top -= block.height
    rule = MARGIN + FOOTER_HEIGHT - 2 * MM
    pen.line(MARGIN, rule, PAGE_WIDTH - MARGIN, rule)
    pen.text(MARGIN, MARGIN, printable(footer, "sans"), font="sans", size=7.5)


def _draw_nothing(pen: Pen, x: float, y: float) -> None:
    del pen, x, y
