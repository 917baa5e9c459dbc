"""Long-lived incoming tracks: what the application gets from ``on_track``, once per role and kind.

A media call may replace its peer connection underneath (ICE restart, a new direct-media peer),
and every new connection brings new remote tracks. The application never sees those: it gets
an :class:`IncomingTrack`, whose *source* (the current remote track) the call swaps. Its sink
sees one continuous stream:

- timestamps stay monotonic: each source's frames are shifted so that its first frame follows
  the previous source's last one by the wall-clock time that passed (the first source is passed
  through unchanged);
- a source that ends (its peer connection closed) is not the end of the track: ``recv()`` waits
  for the next source. Only :meth:`IncomingTrack.stop` (the call closing) ends it.

It also counts what the application took (frames, last size) for the call's statistics.

A call receiving encoded media (``CallOptions.encoded_receive``) feeds it sources whose frames
are :class:`media.encoded.EncodedFrame` objects; their timestamps are kept continuous the same
way (a VP8 key frame's header gives the size).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fractions
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.encoded import EncodedFrame, vp8_frame_size

log = logging.getLogger(__name__)

Frame = AudioFrame | VideoFrame | EncodedFrame


class Restamper:
    """Maps each source's pts onto one monotonic timeline (pure; fed arrival times)."""

    def __init__(self) -> None:
        self._offset = 0  # added to the current source's pts
        self._last_out: int | None = None
        self._last_at = 0.0
        self._rate: fractions.Fraction | None = None  # ticks per second of the output
        self._time_base: fractions.Fraction | None = None  # of the last frame, as given
        self._fresh = False  # the next frame is the first of a new source

    def new_source(self) -> None:
        self._fresh = True

    def stamp(self, pts: int | None, time_base: fractions.Fraction | None, at: float) -> int | None:
        """The output pts of a frame with ``pts`` (in ``time_base``) that arrived at ``at``."""
        if pts is None or time_base is None or time_base == 0:
            return pts
        if time_base is not self._time_base or self._fresh:
            # (the common case skips this: no Fraction arithmetic per frame per consumer)
            self._retime(pts, time_base, at)
        out = pts + self._offset
        if self._last_out is not None and out <= self._last_out:
            # A source whose time went back (it should not): never let the sink see that.
            self._offset += self._last_out + 1 - out
            out = self._last_out + 1
        self._last_out, self._last_at = out, at
        return out

    def _retime(self, pts: int, time_base: fractions.Fraction, at: float) -> None:
        self._time_base = time_base
        rate = 1 / time_base
        if self._rate is not None and rate != self._rate:
            # Another clock rate (a new codec): convert our timeline's position into it.
            assert self._last_out is not None
            self._last_out = int(self._last_out * rate / self._rate)
            self._fresh = True
        self._rate = rate
        if self._fresh and self._last_out is not None:
            gap = max(1, int((at - self._last_at) * rate))
            self._offset = self._last_out + gap - pts
        self._fresh = False


class IncomingTrack(MediaStreamTrack):
    """One role's audio or video as the application sees it; see the module docstring."""

    def __init__(self, kind: str, role: str = "main") -> None:
        super().__init__()
        self.kind = kind
        self.role = role
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()
        self._restamper = Restamper()
        #: frames handed to the application, and sources it was fed from
        self.frames = 0
        self.sources = 0
        #: (width, height) of the last video frame
        self.size: tuple[int, int] | None = None
        self.last_frame_at: float | None = None
        self._subscriber: Callable[[EncodedFrame], None] | None = None

    def __repr__(self) -> str:
        return f"IncomingTrack({self.role}/{self.kind}, frames={self.frames}, {self.readyState})"

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    def set_source(self, source: MediaStreamTrack | None) -> None:
        """Read from ``source`` from now on (None: nothing until the next one)."""
        if source is self._source:
            return
        self._detach(self._source)
        self._source = source
        if source is not None:
            self.sources += 1
            self._restamper.new_source()
            self._attach(source)
        self._changed.set()

    def stop(self) -> None:
        self._detach(self._source)
        self._source = None
        self._changed.set()
        super().stop()

    # --- push mode (encoded frames on the RTP shortcut) ----------------------------------------

    def subscribe_encoded(self, callback: Callable[[EncodedFrame], None]) -> None:
        """Also hand encoded frames to ``callback`` as they are assembled (by the RTP
        shortcut, :mod:`pexbot.rtc.encoded_fast`, or by aiortc's jitter buffer through the
        tap), without a task hop per frame. Keep reading ``recv()`` too: it returns whatever
        still comes its way and ends with the track. A callback that raises is logged and
        unsubscribed: it runs inside the receive path, which must go on."""
        self._subscriber = callback
        self._attach(self._source)

    def _attach(self, source: MediaStreamTrack | None) -> None:
        if source is not None and self._subscriber is not None:
            source._pexbot_push = self._pushed  # type: ignore[attr-defined]

    def _detach(self, source: MediaStreamTrack | None) -> None:
        if source is not None and getattr(source, "_pexbot_push", None) == self._pushed:
            del source._pexbot_push  # type: ignore[attr-defined]

    def _pushed(self, frame: EncodedFrame) -> None:
        subscriber = self._subscriber
        if subscriber is None or self.readyState != "live":
            return
        delivered = self._deliver(frame)
        assert isinstance(delivered, EncodedFrame)
        try:
            subscriber(delivered)
        except Exception:
            log.exception("the subscriber of %s failed; unsubscribed", self)
            self._subscriber = None
            self._detach(self._source)

    # EncodedFrame is not one of aiortc's types: the tracks of an encoded call return it
    async def recv(self) -> Frame:  # type: ignore[override]
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            if source is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            frame = await self._next(source)
            if frame is None:
                continue
            return self._deliver(frame)

    async def _next(self, source: MediaStreamTrack) -> Frame | None:
        """A frame of ``source``, or None when it ended or was replaced meanwhile."""
        self._changed.clear()
        pull: asyncio.Future[Any] = asyncio.ensure_future(source.recv())
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({pull, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            if not pull.done():
                # aiortc's remote track recv() is a queue get: safe to cancel.
                pull.cancel()
                await asyncio.wait({pull})  # (suppressing CancelledError would eat ours)
        if pull.cancelled():
            return None
        error = pull.exception()
        if error is not None:
            if isinstance(error, MediaStreamError):
                if self._source is source:
                    self._source = None  # ended: wait for the call's next connection
                return None
            raise error
        frame = pull.result()
        return frame if isinstance(frame, AudioFrame | VideoFrame | EncodedFrame) else None

    def _deliver(self, frame: Frame) -> Frame:
        now = time.monotonic()
        self.frames += 1
        self.last_frame_at = now
        if isinstance(frame, EncodedFrame):
            stamped = self._restamper.stamp(frame.timestamp, frame.time_base, now)
            if frame.keyframe and frame.codec.upper() == "VP8":
                self.size = vp8_frame_size(frame.data) or self.size
            if stamped is None or stamped == frame.timestamp:
                return frame
            return dataclasses.replace(frame, timestamp=stamped)
        frame.pts = self._restamper.stamp(frame.pts, frame.time_base, now)
        if isinstance(frame, VideoFrame):
            self.size = (frame.width, frame.height)
        return frame
