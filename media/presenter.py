"""An automated presenter: a playlist of slides, images, videos and tracks as ONE video track.

:class:`PresentationPlaylist` plays its items in order (once, or round and round) into a
:class:`~media.switchable.SwitchableVideoTrack`, so the track given to a sender never ends when
an item does. The next item is opened (decoded, scaled) while the current one plays, and the
current one's last picture stays up until the next has its first, so there is no black between
items. When the last item of a once-through playlist is over, ``ended`` is set and its last
picture stays on screen until :meth:`PresentationPlaylist.close`.

With ``stamp_codes=True`` every frame sent carries a :mod:`media.pattern` code in its
bottom-right corner: a frame number rising by one per frame sent (repeats and fill-ins
included) and the frame's capture time, so a receiver can tell which frames of the presentation
it got and how long it lasted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from .clock import VIDEO_CLOCK_RATE, MediaClock, ms32
from .content import ContentCaps, ItemFeed
from .errors import SourceError, TrackStoppedError
from .pattern import FRAME_MOD, code_size, draw_code
from .slides import PresentationItem, items_from_paths
from .switchable import SwitchableVideoTrack
from .synthetic import chroma_planes

log = logging.getLogger(__name__)

# how long the first recv waits for the first picture rather than sending black
FIRST_PICTURE_WAIT = 5.0


def stamp_module(width: int, height: int) -> int:
    """Module size for a corner code: about a quarter of the picture wide, at least 4 px."""
    return max(4, min(width // 120, height // 68))


def stamp_frame(frame: VideoFrame, number: int, timestamp_ms: int, module: int) -> VideoFrame:
    """A yuv420p copy of ``frame`` with a code in its bottom-right corner (grey chroma there).

    The module shrinks for pictures too small for the code; below 1 px the copy is unstamped.
    """
    # drawn into a copy: the frame may still be held upstream (an application's, a repeat's)
    data = np.asarray(frame.to_ndarray(format="yuv420p"), np.uint8)
    w, h = frame.width, frame.height
    module = min(module, w // code_size(1)[0], h // code_size(1)[1])
    if module >= 1:
        cw, ch = code_size(module)
        x, y = (w - cw) // 2 * 2, (h - ch) // 2 * 2  # even, for the half-size chroma
        draw_code(data[:h], number % FRAME_MOD, timestamp_ms, x=x, y=y, module=module)
        u, v = chroma_planes(data, w, h)
        u[y // 2 : (y + ch + 1) // 2, x // 2 : (x + cw + 1) // 2] = 128
        v[y // 2 : (y + ch + 1) // 2, x // 2 : (x + cw + 1) // 2] = 128
    out = VideoFrame.from_ndarray(data, format="yuv420p")
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


class PresentationTrack(MediaStreamTrack):
    """The playlist's outgoing track. Ends only when stopped or its playlist is closed."""

    kind = "video"

    def __init__(
        self, playlist: PresentationPlaylist, *, stamp_codes: bool, module: int | None
    ) -> None:
        super().__init__()
        self._playlist = playlist
        self._switch = playlist._switch
        self.stamp_codes = stamp_codes
        self.module = module
        self.frames_out = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        playlist = self._playlist
        playlist._start()
        if not playlist._ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FIRST_PICTURE_WAIT):
                    await playlist._ready.wait()
        frame = await self._switch.recv()
        if self.stamp_codes:
            module = self.module or stamp_module(frame.width, frame.height)
            stamp = ms32(self._switch.clock.wall_ms((frame.pts or 0) / VIDEO_CLOCK_RATE))
            frame = stamp_frame(frame, self.frames_out, stamp, module)
        self.frames_out += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self._switch.stop()


class PresentationPlaylist:
    """``items`` in order as :attr:`track`, once (``ended`` set after the last) or looping.

    Playing starts with the first ``recv`` of :attr:`track`. ``current_index`` is the item on
    screen; items that fail to open are skipped, and errors from opening or playing are kept in
    ``errors``. A looping playlist stops (and sets ``ended``) if a whole round sent no picture,
    which is what a round of already-ended application tracks does.
    """

    def __init__(
        self,
        items: Sequence[PresentationItem],
        *,
        loop: bool = False,
        caps: ContentCaps | None = None,
        stamp_codes: bool = False,
        stamp_module: int | None = None,
        clock: MediaClock | None = None,
    ) -> None:
        if not items:
            raise ValueError("a presentation needs at least one item")
        self.items = list(items)
        self.loop = loop
        self.caps = caps or ContentCaps()
        self.ended = asyncio.Event()
        self.current_index: int | None = None
        self.rounds_completed = 0
        self.errors: list[Exception] = []
        # the fill-in repeats at min_fps, so even a stalled item keeps the minimum frame rate
        self._switch = SwitchableVideoTrack(
            fps=self.caps.max_fps, hold=1.0 / self.caps.min_fps, clock=clock
        )
        self.track = PresentationTrack(self, stamp_codes=stamp_codes, module=stamp_module)
        self._ready = asyncio.Event()  # the first picture is buffered (or there will be none)
        self._feed: ItemFeed | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        paths: Sequence[str | Path],
        *,
        seconds: float = 5.0,
        image_fps: float | None = None,
        video_fps: float | None = None,
        **options: Any,
    ) -> PresentationPlaylist:
        """A playlist of files and folders (see :func:`media.slides.items_from_paths`),
        checked in a thread."""
        items = await asyncio.to_thread(
            items_from_paths, paths, seconds=seconds, image_fps=image_fps, video_fps=video_fps
        )
        return cls(items, **options)

    @property
    def current_item(self) -> PresentationItem | None:
        return None if self.current_index is None else self.items[self.current_index]

    async def finished(self) -> None:
        """Wait until the playlist is over (last item done, given up, or closed)."""
        await self.ended.wait()

    def _start(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="presenter")

    async def close(self) -> None:
        """Stop playing, end :attr:`track`, release every item. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self.track.stop()
        try:
            if self._task is not None:
                self._task.cancel()
                await asyncio.wait({self._task})  # (suppressing CancelledError would eat ours)
        finally:  # cancelled while closing: release everything all the same, then re-raise
            await self._switch.close()
            if self._feed is not None:
                await self._feed.close()
            self._ready.set()
            self.ended.set()

    # --- the player task ---------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._play()
        except TrackStoppedError:
            log.debug("presentation track stopped while playing")
        except Exception:
            log.exception("presentation failed at item %s", self.current_index)
        finally:
            self._ready.set()
            self.ended.set()

    def _indices(self) -> Iterator[int]:
        order = range(len(self.items))
        return itertools.cycle(order) if self.loop else iter(order)

    async def _open_next(self, indices: Iterator[int]) -> tuple[int, ItemFeed] | None:
        failures = 0
        for index in indices:
            item = self.items[index]
            try:
                return index, await item.open(self.caps)
            except SourceError as exc:
                log.warning("presentation item %d (%s) skipped: %s", index, item.label, exc)
                self.errors.append(exc)
                failures += 1
                if failures >= len(self.items):
                    break
        return None

    async def _play(self) -> None:
        indices = self._indices()
        pending = await self._open_next(indices)
        round_frames = 0
        try:
            while pending is not None:
                index, feed = pending
                pending = None
                await self._show(index, feed)
                if not self._ready.is_set():
                    await feed.started.wait()
                    self._ready.set()
                pending = await self._open_next(indices)  # meanwhile ``feed`` plays
                await feed.done.wait()
                if feed.error is not None:
                    self.errors.append(feed.error)
                round_frames += feed.frames_out
                if pending is None or pending[0] <= index:
                    self.rounds_completed += 1
                    if round_frames == 0:
                        log.warning("presentation round sent no picture; stopping")
                        break
                    round_frames = 0
        finally:
            if pending is not None:
                await pending[1].close()

    async def _show(self, index: int, feed: ItemFeed) -> None:
        # switch before closing the previous feed: a closed feed ends, and the switchable
        # would fill the moment in between with black
        try:
            self._switch.set_source(feed)
        except TrackStoppedError:
            await feed.close()
            raise
        previous, self._feed = self._feed, feed
        self.current_index = index
        if previous is not None:
            await previous.close()
