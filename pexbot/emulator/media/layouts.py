"""Conference layouts as geometry: where each stage position sits in a composed picture.

Pure: no media, no I/O. A layout is a list of tile rectangles in stage order (tile 0 is the
main speaker position); the node fills them with participants in stage order and the
compositor paints exactly those, so the ``layout`` event and the picture agree by construction.

Speaker layouts are rows of tiles whose heights are inversely proportional to how many tiles
the row holds, so on a 16:9 canvas every tile is 16:9 too (1:7 is a main tile over a strip of
seven). Equal layouts (2x2 ... 5x5) are square grids; "1:1" is a main picture with one small
picture over its bottom-right corner. Names are the canonical ``transform_layout`` names
(:func:`.assets.canonical_layout`); the ``layout`` event's ``view`` uses :data:`VIEW_NAMES`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: canonical layout → tiles per row, top to bottom
ROWS: dict[str, tuple[int, ...]] = {
    "1:0": (1,),
    "1:7": (1, 7),
    "1:21": (1, 7, 7, 7),
    "2:21": (2, 7, 7, 7),
    "1:33": (1, 11, 11, 11),
    "2x2": (2, 2),
    "3x3": (3, 3, 3),
    "4x4": (4, 4, 4, 4),
    "5x5": (5, 5, 5, 5, 5),
    "ac": (2, 3, 7),
    "one_main_nine_around": (1, 9),
    "one_main_twelve_around": (1, 12),
    "two_mains_eight_around": (2, 8),
    "teams": (3, 3, 3),
}
PICTURE_IN_PICTURE = "1:1"
#: the layout a conference starts with (Infinity's default)
DEFAULT_LAYOUT = "1:7"

#: canonical layout → the ``view`` a ``layout`` event reports (spec: the v33 names for grids)
VIEW_NAMES = {"2x2": "4:0", "3x3": "9:0", "4x4": "16:0", "5x5": "25:0", "ac": "5:7"}


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in pixels; every edge is on an even pixel (yuv420p chroma is halved)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0


def view_name(layout: str) -> str:
    return VIEW_NAMES.get(layout, layout)


def known(layout: str) -> bool:
    return layout in ROWS or layout == PICTURE_IN_PICTURE


def capacity(layout: str) -> int:
    """How many participants the layout shows (unknown layouts: as the default)."""
    if layout == PICTURE_IN_PICTURE:
        return 2
    return sum(ROWS.get(layout, ROWS[DEFAULT_LAYOUT]))


def _even(value: float) -> int:
    return round(value / 2.0) * 2


def tile_rects(layout: str, width: int, height: int) -> list[Rect]:
    """The tiles of ``layout`` on a ``width`` x ``height`` canvas, in stage order."""
    if layout == PICTURE_IN_PICTURE:
        pip_w, pip_h = _even(width / 4), _even(height / 4)
        margin = _even(min(width, height) / 24)
        return [
            Rect(0, 0, width, height),
            Rect(width - pip_w - margin, height - pip_h - margin, pip_w, pip_h),
        ]
    rows = ROWS.get(layout, ROWS[DEFAULT_LAYOUT])
    weights = [1.0 / n for n in rows]
    total = sum(weights)
    rects: list[Rect] = []
    top = 0.0
    for count, weight in zip(rows, weights, strict=True):
        bottom = top + height * weight / total
        y0, y1 = _even(top), _even(bottom)
        for i in range(count):
            x0, x1 = _even(width * i / count), _even(width * (i + 1) / count)
            rects.append(Rect(x0, y0, x1 - x0, y1 - y0))
        top = bottom
    return rects


def fit(tile: Rect, source_w: int, source_h: int) -> Rect:
    """The largest rectangle of the source's aspect ratio centred in ``tile`` (letterbox or
    pillarbox); even-aligned, possibly empty for a degenerate source."""
    if source_w <= 0 or source_h <= 0 or tile.empty:
        return Rect(tile.x, tile.y, 0, 0)
    scale = min(tile.w / source_w, tile.h / source_h)
    w = min(tile.w, max(2, (int(source_w * scale) // 2) * 2))
    h = min(tile.h, max(2, (int(source_h * scale) // 2) * 2))
    x = tile.x + ((tile.w - w) // 4) * 2
    y = tile.y + ((tile.h - h) // 4) * 2
    return Rect(x, y, w, h)
