"""Receivers that verify without decoding: counts over :class:`~media.encoded.EncodedFrame`.

:class:`EncodedCount` is pure: fed frames (and the time), it counts frames, bytes, keyframes
and gaps in the timestamp sequence (a step longer than 1.5 frame intervals: frames that never
came complete), and notes when the last frame came. One frame in ``verify_every`` is
confirmed with a decoder: the next keyframe after it is decoded alone (no decoder state to keep
up per bot) and the pattern's number read off it (:func:`media.pattern.find_codes`).

:class:`EncodedCounterSink` reads tracks that return EncodedFrame objects (a call with
``encoded_receive``) in tasks it owns, one count per (role, kind). A track that can push its
frames (``subscribe_encoded(callback)``, as pexbot's incoming tracks on the RTP shortcut do) is
also subscribed to, which spares a task wake-up per frame; its ``recv()`` is still read for the
frames that come the other way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoded import EncodedFrame, as_packet
from .pattern import find_codes

_DECODERS = {"VP8": "libvpx", "H264": "h264"}


@dataclass
class EncodedCount:
    """What arrived on one track; see the module docstring. ``verify_every`` 0: no decoding."""

    verify_every: int = 0
    frames: int = 0
    bytes: int = 0
    keyframes: int = 0
    gaps: int = 0  # steps of the timestamp longer than 1.5 intervals
    missing: int = 0  # frames those gaps stand for (at the usual interval)
    first_at: float | None = None
    last_at: float | None = None
    codec: str | None = None
    verified: int = 0  # keyframes decoded and their number read
    unreadable: int = 0  # keyframes decoded with no number found (or not decoded)
    #: of those, keyframes that did not decode at all: broken media, not just a picture
    #: without the pattern (a composing node shows avatars and waiting cards too)
    undecodable: int = 0
    last_number: int | None = None
    _last_ts: int | None = None
    _step: int | None = None  # the usual timestamp step (the smallest seen)
    _verify_due: bool = field(default=False, repr=False)

    def add(self, frame: EncodedFrame, now: float) -> bool:
        """Count ``frame`` (arrived at ``now``); True when it is a keyframe to decode."""
        self.frames += 1
        self.bytes += len(frame.data)
        self.codec = frame.codec
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        video = frame.kind == "video"
        if video and frame.keyframe:
            self.keyframes += 1
        if self._last_ts is not None:
            step = frame.timestamp - self._last_ts
            if step > 0:
                if self._step is None or step < self._step:
                    self._step = step
                if step * 2 > self._step * 3:
                    self.gaps += 1
                    self.missing += round(step / self._step) - 1
        self._last_ts = frame.timestamp
        if not video or self.verify_every <= 0:
            return False
        if self.frames % self.verify_every == 1 or self.verify_every == 1:
            self._verify_due = True
        if self._verify_due and frame.keyframe and frame.codec.upper() in _DECODERS:
            self._verify_due = False
            return True
        return False

    def read(self, number: int | None, *, decoded: bool = True) -> None:
        """The outcome of decoding a keyframe: its pattern number, or None."""
        if not decoded:
            self.undecodable += 1
        if number is None:
            self.unreadable += 1
        else:
            self.verified += 1
            self.last_number = number

    def age(self, now: float) -> float | None:
        """Seconds since the last frame (None before the first)."""
        return None if self.last_at is None else now - self.last_at

    def fps(self) -> float:
        """Frames per second between the first and the last."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return 0.0
        return (self.frames - 1) / (self.last_at - self.first_at)


def read_number(frame: EncodedFrame) -> int | None:
    """Decode a keyframe alone and read the pattern's number off it (None: not found)."""
    return decode_number(frame)[1]


def decode_number(frame: EncodedFrame) -> tuple[bool, int | None]:
    """(whether the keyframe decoded alone to a picture, the pattern's number on it)."""
    name = _DECODERS.get(frame.codec.upper())
    if name is None:
        return False, None
    try:
        decoder: Any = av.CodecContext.create(name, "r")
        pictures = list(decoder.decode(as_packet(frame))) + list(decoder.decode(None))
    except av.FFmpegError:
        return False, None
    for picture in pictures:
        codes = find_codes(picture.to_ndarray(format="gray"))
        if codes:
            return True, codes[0].number
    return bool(pictures), None


class EncodedCounterSink:
    """Reads EncodedFrame tracks and counts them per (role, kind)."""

    def __init__(self, *, verify_every: int = 0) -> None:
        self.verify_every = verify_every
        self.counts: dict[tuple[str, str], EncodedCount] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()

    def add_track(self, track: MediaStreamTrack, *, role: str = "main") -> None:
        count = self.counts.setdefault((role, track.kind), EncodedCount(self.verify_every))
        subscribe = getattr(track, "subscribe_encoded", None)
        if callable(subscribe):  # frames pushed as they come, no task hop per frame
            subscribe(lambda frame: self._count(count, frame))
        task = asyncio.get_running_loop().create_task(self._read(track, count))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, track: MediaStreamTrack, count: EncodedCount) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, EncodedFrame):
                    self._count(count, frame)

    def _count(self, count: EncodedCount, frame: EncodedFrame) -> None:
        if count.add(frame, time.monotonic()):
            decoded, number = decode_number(frame)
            count.read(number, decoded=decoded)
        self._changed.set()

    def frames(self, kind: str | None = None) -> int:
        return sum(c.frames for (_, k), c in self.counts.items() if kind in (None, k))

    async def wait_for(self, frames: int, *, kind: str | None = None) -> int:
        """Wait for ``frames`` frames (bound it with asyncio.timeout)."""
        while self.frames(kind) < frames:
            self._changed.clear()
            await self._changed.wait()
        return self.frames(kind)

    async def close(self) -> None:
        """Stop reading (idempotent)."""
        for task in list(self._tasks):
            task.cancel()
            await asyncio.wait({task})


__all__ = ["EncodedCount", "EncodedCounterSink", "decode_number", "read_number"]
