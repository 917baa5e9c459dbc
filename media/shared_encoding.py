"""Media encoded once per process and handed as packets to many calls (load bots).

Encoding the same pattern for every bot costs one encoder per bot; these encode it once.
A :class:`SharedVideoEncoder` (the numbered pattern: frame ``k`` shows number ``k`` and its
capture time, in VP8 or H.264) or :class:`SharedOpusEncoder` (the marker tone, 20 ms Opus
packets) runs one producer task on a process clock: each frame is made once, in a worker
thread for video (libvpx and libx264 release the GIL), and kept in a short ring. Each call
gets its own :meth:`~_SharedStream.track`, whose ``recv()`` returns an ``av.Packet`` of the
next frame; aiortc's sender packetizes it without encoding. A video track starts at a
keyframe (a new one is asked for, rate-limited) and, when it fell so far behind that its next
frame left the ring, skips to the next keyframe: a decoder never sees a hole. The far end's
keyframe requests reach :meth:`SharedVideoEncoder.request_keyframe` through the track.

Whoever creates an encoder owns it (one per process and option set) and closes it
(idempotent); closing ends every track. Nothing here is module-level state.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .clock import ms32
from .encoded import h264_is_keyframe, vp8_is_keyframe
from .synthetic import PatternRenderer
from .tone import ToneSpec, tone_samples

log = logging.getLogger(__name__)

SharedCodec = Literal["vp8", "h264"]
#: frames kept for tracks that fell behind (seconds of video at most)
RING_SECONDS = 2.0
#: seconds between the silence frames of Opus DTX (libwebrtc's and libopus's 400 ms)
DTX_INTERVAL = 0.4
_OPUS_SILENCE = b"\xf8\xff\xfe"  # one 20 ms frame of silence (RFC 6716 TOC 0xf8, CELT)


@dataclass(frozen=True, slots=True)
class SharedFrame:
    """One encoded frame: ``index`` counts from 0 on the encoder's clock."""

    index: int
    data: bytes
    keyframe: bool
    #: what the frame's consumers derive from it once for all (RTP payloads per codec)
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class _SharedStream:
    """The producer, the ring and the tracks; subclasses make frame ``k``."""

    kind = "video"

    def __init__(self, interval: float, time_base: fractions.Fraction, ring: int) -> None:
        self.interval = interval
        self.time_base = time_base
        self._ring: collections.deque[SharedFrame] = collections.deque(maxlen=max(2, ring))
        self._produced = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        self._tracks: set[SharedTrack] = set()
        self._subscribers: set[SharedTrack] = set()
        self.closed = False
        #: frames made, and the seconds of CPU their making took (thread time included)
        self.frames = 0
        self.encode_seconds = 0.0

    def track(self) -> SharedTrack:
        """A new track for one call (starts the producer on first use)."""
        if self.closed:
            raise MediaStreamError("the shared encoder is closed")
        if self._producer is None:
            self._producer = asyncio.get_running_loop().create_task(
                self._produce(), name=f"pexbot-shared-{self.kind}"
            )
        track = SharedTrack(self)
        self._tracks.add(track)
        return track

    def _forget(self, track: SharedTrack) -> None:
        self._tracks.discard(track)
        self._subscribers.discard(track)

    async def _produce(self) -> None:
        # Frame k+1 is made while frame k is out (one interval ahead): on a machine whose event
        # loop is busy with a hundred bots, the encoder thread waits for the GIL and one frame
        # can take longer than an interval to make, but two rarely do.
        start = time.monotonic()
        index = 0
        upcoming = asyncio.ensure_future(self._timed_make(0, start))
        try:
            while True:
                due = start + index * self.interval
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                frame = await upcoming
                index += 1
                if time.monotonic() - (start + index * self.interval) > 1.0:
                    # Far behind (a stalled loop): skip frames rather than burst them out.
                    index = int((time.monotonic() - start) / self.interval) + 1
                upcoming = asyncio.ensure_future(
                    self._timed_make(index, start + index * self.interval)
                )
                self._publish(frame)
        finally:
            upcoming.cancel()
            await asyncio.wait({upcoming})

    async def _timed_make(self, index: int, due: float) -> SharedFrame:
        started = time.perf_counter()
        # the wall-clock time the frame goes out, which the pattern stamps
        at = time.time() + (due - time.monotonic())
        frame = await self._make(index, at)
        self.encode_seconds += time.perf_counter() - started
        return frame

    def _publish(self, frame: SharedFrame) -> None:
        self.frames += 1
        self._ring.append(frame)
        self._produced.set()
        self._produced = asyncio.Event()
        for track in list(self._subscribers):
            track._offer(frame)

    async def _make(self, index: int, at: float) -> SharedFrame:
        """Frame ``index``, to go out at wall-clock time ``at``."""
        raise NotImplementedError

    def next_after(self, last: int | None, need_key: bool) -> SharedFrame | None:
        """The frame a track that sent ``last`` sends next, if made yet."""
        for frame in self._ring:
            if last is not None and frame.index <= last:
                continue
            if need_key and not frame.keyframe:
                continue
            if not need_key and last is not None and frame.index != last + 1:
                return None  # a hole: the caller must wait for a keyframe
            return frame
        return None

    def newest(self) -> int | None:
        """The index of the newest frame made, if any."""
        return self._ring[-1].index if self._ring else None

    def behind(self, last: int) -> bool:
        """``last`` + 1 has left the ring already."""
        return bool(self._ring) and self._ring[0].index > last + 1

    async def wait_produced(self) -> None:
        await self._produced.wait()

    def request_keyframe(self) -> None:
        """Only video has keyframes to ask for."""

    async def aclose(self) -> None:
        """Stop producing and end every track. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for track in list(self._tracks):
            track.stop()
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.wait({self._producer})
        self._produced.set()


class SharedTrack(MediaStreamTrack):
    """One call's view of a shared stream: ``recv()`` returns ``av.Packet`` objects."""

    sends_packets = True

    def __init__(self, stream: _SharedStream) -> None:
        super().__init__()
        self.kind = stream.kind
        self._stream = stream
        self._need_key = stream.kind == "video"
        self._deliver: Callable[[SharedFrame], None] | None = None
        # Video starts at the next keyframe made from now on (an old one would show the past).
        self._last: int | None = stream.newest() if self._need_key else None
        #: frames skipped because this track fell behind
        self.skipped = 0
        if self._need_key:
            stream.request_keyframe()  # a new bot should not wait a whole GOP

    def request_keyframe(self) -> None:
        self._stream.request_keyframe()

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        stream = self._stream
        while True:
            if self.readyState != "live" or stream.closed:
                raise MediaStreamError
            if self._last is not None and stream.behind(self._last) and stream.kind == "video":
                self._need_key = True
            frame = stream.next_after(self._last, self._need_key)
            if frame is not None:
                break
            if self._last is not None and not self._need_key and stream.behind(self._last):
                self._last = None  # audio: carry on from the oldest frame kept
                continue
            await stream.wait_produced()
        return self._take(frame)

    def _advance(self, frame: SharedFrame) -> None:
        if self._last is not None and not self._need_key:
            self.skipped += frame.index - self._last - 1
        self._last = frame.index
        self._need_key = False

    def _take(self, frame: SharedFrame) -> av.Packet:  # type: ignore[type-arg]
        self._advance(frame)
        packet = av.Packet(frame.data)
        packet.pts = frame.index
        packet.time_base = self._stream.time_base
        packet.duration = 1
        packet.is_keyframe = frame.keyframe
        return packet

    @property
    def time_base(self) -> fractions.Fraction:
        """Of a frame's ``index``."""
        return self._stream.time_base

    def subscribe(self, deliver: Callable[[SharedFrame], None]) -> bool:
        """Push instead of pull: ``deliver`` is called with each frame ``recv()`` would have
        returned (as a packet), by the stream as it makes them, so a process of N bots wakes
        once per frame instead of N times. Don't call ``recv()`` meanwhile. False if the track
        has ended."""
        if self.readyState != "live" or self._stream.closed:
            return False
        self._deliver = deliver
        self._stream._subscribers.add(self)
        return True

    def unsubscribe(self) -> None:
        self._stream._subscribers.discard(self)
        self._deliver = None

    def _offer(self, frame: SharedFrame) -> None:
        deliver = self._deliver
        if deliver is None or (self._need_key and not frame.keyframe):
            return
        self._advance(frame)
        try:
            deliver(frame)
        except Exception:  # one subscriber's failure must not stop the others
            log.exception("shared %s subscriber failed", self.kind)
            self.unsubscribe()

    def stop(self) -> None:
        self._stream._forget(self)
        super().stop()


class SharedVideoEncoder(_SharedStream):
    """The numbered pattern encoded once per frame number for every track; see the module
    docstring. ``keyframe_every`` seconds between regular keyframes; requested ones at most
    every ``keyframe_min_gap`` seconds."""

    kind = "video"

    def __init__(
        self,
        codec: SharedCodec = "vp8",
        width: int = 640,
        height: int = 360,
        fps: float = 15.0,
        *,
        keyframe_every: float = 1.5,
        keyframe_min_gap: float = 0.5,
        bitrate: int = 500_000,
        black: bool = False,
    ) -> None:
        time_base = 1 / fractions.Fraction(fps).limit_denominator(1000)
        super().__init__(1.0 / fps, time_base, int(RING_SECONDS * fps))
        if codec not in ("vp8", "h264"):
            raise ValueError(f"codec must be vp8 or h264, got {codec!r}")
        self.codec = codec
        self.width, self.height, self.fps = width, height, fps
        self._renderer = PatternRenderer(width, height)
        #: a black picture instead of the pattern: what a bot that only listens sends
        self._black: np.ndarray[Any, Any] | None = None
        if black:
            self._black = np.full((height * 3 // 2, width), 128, np.uint8)
            self._black[:height] = 16
        self._gop = max(1, round(keyframe_every * fps))
        self._min_gap = keyframe_min_gap
        self._last_key_at = -1e9
        self._force = False
        self._since_key = 0
        self.keyframes = 0
        self.requests = 0
        self._encoder = _video_context(codec, width, height, fps, bitrate)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "pexbot-shared-encoder")

    def request_keyframe(self) -> None:
        self.requests += 1
        self._force = True

    async def _make(self, index: int, at: float) -> SharedFrame:
        now = time.monotonic()
        key = index == 0 or self._since_key + 1 >= self._gop
        if self._force and now - self._last_key_at >= self._min_gap:
            key = True
        if key:
            self._force = False
            self._last_key_at = now
        stamp = ms32(at * 1000.0)
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(self._executor, self._encode, index, stamp, key)
        keyframe = _is_key(self.codec, data)
        self._since_key = 0 if keyframe else self._since_key + 1
        self.keyframes += keyframe
        return SharedFrame(index, data, keyframe)

    def _encode(self, index: int, stamp: int, key: bool) -> bytes:
        pixels = self._black if self._black is not None else self._renderer.render(index, stamp)
        picture = av.VideoFrame.from_ndarray(pixels, format="yuv420p")
        picture.pts = index
        picture.time_base = fractions.Fraction(1, round(self.fps))
        picture.pict_type = av.video.frame.PictureType.I if key else av.video.frame.PictureType.NONE
        return b"".join(bytes(p) for p in self._encoder.encode(picture))

    async def aclose(self) -> None:
        if self.closed:
            return
        await super().aclose()
        self._executor.shutdown(wait=True)


class SharedOpusEncoder(_SharedStream):
    """The marker tone (:mod:`media.tone`) as 20 ms Opus packets, encoded once for every
    track. Audio frames are all "keyframes": a track starts at the newest."""

    kind = "audio"

    def __init__(
        self,
        spec: ToneSpec | None = None,
        *,
        bitrate: int = 32_000,
        silent: bool = False,
        dtx: bool = False,
    ) -> None:
        # With dtx, silence goes as WebRTC's Opus DTX sends it: one 20 ms frame every 400 ms,
        # timestamps running on (each frame's index counts 400 ms). Half the packets a
        # listening bot sends are otherwise silence at 50 a second.
        interval = DTX_INTERVAL if (silent and dtx) else 0.02
        time_base = fractions.Fraction(interval).limit_denominator(1000)
        super().__init__(interval, time_base, max(2, int(RING_SECONDS / interval)))
        self.spec = spec or ToneSpec()
        #: Opus's 20 ms silence frame, never encoded: what a bot that only listens sends
        self.silent = silent
        self.dtx = silent and dtx
        self._encoder: Any = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = 48000
        self._encoder.layout = "stereo"
        self._encoder.format = "s16"
        self._encoder.bit_rate = bitrate
        self._encoder.time_base = fractions.Fraction(1, 48000)
        self._epoch_ms = round(time.time() * 1000.0)
        self._pending: collections.deque[bytes] = collections.deque()

    async def _make(self, index: int, at: float) -> SharedFrame:
        # Cheap (tens of microseconds): no thread.
        if self.silent:
            return SharedFrame(index, _OPUS_SILENCE, True)
        first = index * 960
        mono = tone_samples(self.spec, first, 960, epoch_ms=self._epoch_ms)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48000
        frame.pts = first
        frame.time_base = fractions.Fraction(1, 48000)
        self._pending.extend(bytes(p) for p in self._encoder.encode(frame))
        data = self._pending.popleft() if self._pending else _OPUS_SILENCE
        return SharedFrame(index, data, True)


def _video_context(codec: SharedCodec, width: int, height: int, fps: float, bitrate: int) -> Any:
    if codec == "vp8":
        context: Any = av.CodecContext.create("libvpx", "w")
        context.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "error-resilient": "1",
            "auto-alt-ref": "0",
        }
    else:
        context = av.CodecContext.create("libx264", "w")
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "level": "31",
        }
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    # One thread: the encoder's helper threads wait for each other, and on a machine whose
    # cores are busy with bots that waiting costs more CPU (and delay) than the encode itself.
    context.thread_count = 1
    context.time_base = fractions.Fraction(1, round(fps))
    context.framerate = fractions.Fraction(round(fps), 1)
    context.bit_rate = bitrate
    context.gop_size = 10_000  # keyframes when we say (pict_type), not on the encoder's own
    return context


def _is_key(codec: SharedCodec, data: bytes) -> bool:
    return vp8_is_keyframe(data) if codec == "vp8" else h264_is_keyframe(data)


__all__ = ["SharedCodec", "SharedFrame", "SharedOpusEncoder", "SharedTrack", "SharedVideoEncoder"]
