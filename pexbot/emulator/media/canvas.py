"""Painting one composed picture: tiles of scaled participant video on a black yuv420p canvas.

Runs in a compositor's worker thread (never on the event loop): scaling is libswscale through
``VideoFrame.reformat``, which releases the GIL, and blitting is numpy slice copies. Each
tile keeps its source's aspect ratio (letterbox / pillarbox inside the tile, see
:func:`.layouts.fit`). A participant without video (an audio-only call, a dial-out, a call
whose video has not arrived yet) gets a placeholder: dark grey with a lighter disc, a
"someone is here" avatar.

A :class:`Painter` caches each source's scaled picture per target size, keyed by the source
frame's sequence number, so a participant shown at the same size to several others is scaled
once per frame. A painter is used by one thread at a time (its compositor's worker).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from av import VideoFrame

from .layouts import Rect, fit

U8 = npt.NDArray[np.uint8]
Planes = tuple[U8, U8, U8]

#: limited-range YUV
BLACK_YUV = (16, 128, 128)
PLACEHOLDER_YUV = (52, 128, 128)
PLACEHOLDER_DISC_YUV = (110, 128, 128)


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile to paint. ``frame`` None: a placeholder when ``occupied``, else left black."""

    rect: Rect
    frame: VideoFrame | None = None
    #: identifies the source (for the scaling cache) and its frame's sequence number
    source: int = 0
    seq: int = 0
    occupied: bool = True


def frame_planes(frame: VideoFrame) -> Planes:
    """Views of a yuv420p frame's Y, U and V planes (no copy; they keep the frame alive)."""
    views: list[U8] = []
    for plane in frame.planes[:3]:
        raw = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        views.append(raw[:, : plane.width])
    return views[0], views[1], views[2]


def canvas(width: int, height: int) -> tuple[U8, Planes]:
    """A black picture: its flat yuv420p buffer and views of its three planes."""
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(f"canvas must have positive even sides, got {width}x{height}")
    size = width * height
    buf = np.empty(size * 3 // 2, np.uint8)
    y = buf[:size].reshape(height, width)
    u = buf[size : size + size // 4].reshape(height // 2, width // 2)
    v = buf[size + size // 4 :].reshape(height // 2, width // 2)
    for plane, value in zip((y, u, v), BLACK_YUV, strict=True):
        plane.fill(value)
    return buf, (y, u, v)


def blit(target: Planes, box: Rect, source: Planes) -> None:
    """Copy ``source`` (exactly ``box``-sized) into ``target`` at ``box`` (even-aligned)."""
    y, u, v = target
    sy, su, sv = source
    y[box.y : box.y + box.h, box.x : box.x + box.w] = sy[: box.h, : box.w]
    cx, cy, cw, ch = box.x // 2, box.y // 2, box.w // 2, box.h // 2
    u[cy : cy + ch, cx : cx + cw] = su[:ch, :cw]
    v[cy : cy + ch, cx : cx + cw] = sv[:ch, :cw]


def placeholder(width: int, height: int) -> Planes:
    """Dark grey with a lighter disc in the middle."""
    _, (y, u, v) = canvas(width, height)
    y.fill(PLACEHOLDER_YUV[0])
    radius = min(width, height) * 0.3
    rows = (np.arange(height) - height / 2.0)[:, None]
    cols = (np.arange(width) - width / 2.0)[None, :]
    y[rows**2 + cols**2 <= radius**2] = PLACEHOLDER_DISC_YUV[0]
    return y, u, v


class Painter:
    def __init__(self, cache_size: int = 64) -> None:
        self._scaled: collections.OrderedDict[tuple[int, int, int], tuple[int, Planes]] = (
            collections.OrderedDict()
        )
        self._placeholders: dict[tuple[int, int], Planes] = {}
        self._cache_size = cache_size
        #: scaling operations done (a cache hit does none), for tests and benchmarks
        self.scaled = 0

    def paint(self, width: int, height: int, tiles: Sequence[Tile]) -> VideoFrame:
        buf, planes = canvas(width, height)
        for tile in tiles:
            if tile.rect.empty:
                continue
            if tile.frame is not None:
                box = fit(tile.rect, tile.frame.width, tile.frame.height)
                if not box.empty:
                    blit(planes, box, self._scale(tile, box.w, box.h))
            elif tile.occupied:
                blit(planes, tile.rect, self._placeholder(tile.rect.w, tile.rect.h))
        return VideoFrame.from_ndarray(buf.reshape(height * 3 // 2, width), format="yuv420p")

    def _scale(self, tile: Tile, width: int, height: int) -> Planes:
        assert tile.frame is not None
        key = (tile.source, width, height)
        cached = self._scaled.get(key)
        if cached is not None and cached[0] == tile.seq:
            self._scaled.move_to_end(key)
            return cached[1]
        scaled = tile.frame.reformat(width=width, height=height, format="yuv420p")
        self.scaled += 1
        planes = frame_planes(scaled)
        self._scaled[key] = (tile.seq, planes)
        self._scaled.move_to_end(key)
        while len(self._scaled) > self._cache_size:
            self._scaled.popitem(last=False)
        return planes

    def _placeholder(self, width: int, height: int) -> Planes:
        planes = self._placeholders.get((width, height))
        if planes is None:
            if len(self._placeholders) >= self._cache_size:
                self._placeholders.clear()
            planes = self._placeholders[(width, height)] = placeholder(width, height)
        return planes
