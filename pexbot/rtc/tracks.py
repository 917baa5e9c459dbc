"""Long-lived outgoing tracks for a call: switchable source, mute, filler, monotonic time.

An aiortc sender dies for good once its track ends, and it stops the track it was given when
the call closes. So a call never hands an application's track to aiortc directly: it sends one
of these, which pulls from a *source* that can be swapped, muted or removed at any time. Frames
are restamped on the track's own clock, so switching sources never makes time jump back; with
no source (or a stalled one) a filler is sent instead (black / silence by default, a "waiting"
card in the emulator). An optional *gate* holds every frame back until it is set (the emulator
sends nothing before the ``ack``).

A source may hand out ``av.Packet`` objects instead (media encoded once and shared by many
calls): they are passed through, restamped the same way, and aiortc's sender packetizes them
without encoding. Such a source is never mixed with the filler (its decoder would be fed
another encoder's stream): while it stalls, or while muted, nothing is sent. The far end's
keyframe requests reach the source's ``request_keyframe()`` (:meth:`_Outgoing.keyframe_requested`),
as aiortc's own force-keyframe flag only reaches its own encoder.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, Packet, VideoFrame

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
VideoFiller = Callable[[int, int], VideoFrame]
#: what a source's recv() may return
SourceItem: TypeAlias = "AudioFrame | VideoFrame | Packet[Any]"


def black_frame(width: int, height: int) -> VideoFrame:
    """A black yuv420p frame (limited range: Y=16, U=V=128)."""
    frame = VideoFrame(width, height, "yuv420p")
    for plane, value in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(np.full(plane.buffer_size, value, dtype=np.uint8).tobytes())
    return frame


def silence(samples: int, sample_rate: int, layout: str = "mono") -> AudioFrame:
    frame = AudioFrame(format="s16", layout=layout, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = sample_rate
    return frame


class _Outgoing(MediaStreamTrack):
    """Shared plumbing: source, mute flag, gate, stall detection."""

    def __init__(
        self,
        source: MediaStreamTrack | None,
        *,
        gate: asyncio.Event | None,
        stall_timeout: float,
    ) -> None:
        super().__init__()
        self._source = source
        self._gate = gate
        self._stall_timeout = stall_timeout
        self.muted = False
        self._pending: asyncio.Future[Any] | None = None
        self._pending_source: MediaStreamTrack | None = None
        #: frames taken from sources / made up by the filler (for tests and stats)
        self.source_frames = 0
        self.filler_frames = 0
        #: the far end's keyframe requests (PLI/FIR) heard, and packets sent as they came
        self.keyframe_requests = 0
        self.packets = 0
        # The current source hands out packets: no filler, no restamping into frames.
        self._packet_source: MediaStreamTrack | None = None

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    @property
    def frames(self) -> int:
        """Frames handed to the sender so far (source and filler)."""
        return self.source_frames + self.filler_frames

    def set_source(self, source: MediaStreamTrack | None) -> None:
        """Send ``source`` from the next frame on (None: the filler)."""
        self._source = source

    @property
    def sending_packets(self) -> bool:
        """The current source hands out encoded packets (or says it will: ``sends_packets``)."""
        source = self._source
        if source is None:
            return False
        return source is self._packet_source or bool(getattr(source, "sends_packets", False))

    def keyframe_requested(self) -> None:
        """The far end asked for a keyframe: tell a source that encodes (``request_keyframe``)."""
        self.keyframe_requests += 1
        request = getattr(self._source, "request_keyframe", None)
        if callable(request):
            request()

    def stop(self) -> None:
        self._drop_pending()
        super().stop()

    async def _pull(self) -> SourceItem | None:
        """The next source frame or packet, or None when there is no source or it stalled or
        ended (a packet source that stalls is waited for: no filler goes in between).

        A stalled source's ``recv()`` is not cancelled (not every track survives that): it
        stays pending and the next call waits on it again.
        """
        while True:
            item = await self._pull_once()
            if item is None and self.sending_packets:
                continue
            if isinstance(item, Packet):
                if self.muted:
                    continue  # nothing to mute a packet into: send nothing
                self.packets += 1
            return item

    async def _pull_once(self) -> SourceItem | None:
        if self.readyState != "live":
            raise MediaStreamError
        if self._gate is not None and not self._gate.is_set():
            await self._gate.wait()
        source = self._source
        if source is None:
            self._drop_pending()
            return None
        if self._pending is None or self._pending_source is not source:
            self._drop_pending()
            self._pending = asyncio.ensure_future(source.recv())
            self._pending.add_done_callback(_retrieve)
            self._pending_source = source
        done, _ = await asyncio.wait({self._pending}, timeout=self._stall_timeout)
        if not done or self._pending is None:
            return None
        task, self._pending = self._pending, None
        if self.readyState != "live":
            raise MediaStreamError
        if task.cancelled() or task.exception() is not None:
            # The source ended (MediaStreamError) or broke: fall back to the filler.
            if self._source is source:
                self._source = None
            return None
        frame = task.result()
        if isinstance(frame, Packet):
            self._packet_source = source
            return frame
        if not isinstance(frame, AudioFrame | VideoFrame):
            return None
        if self._packet_source is source:
            self._packet_source = None
        return frame

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
            self._pending_source = None


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a failed recv as seen: an abandoned one must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


class OutgoingVideoTrack(_Outgoing):
    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack | None = None,
        *,
        filler: VideoFiller = black_frame,
        size: tuple[int, int] = (640, 360),
        fps: float = 15.0,
        gate: asyncio.Event | None = None,
        stall_timeout: float = 1.0,
    ) -> None:
        super().__init__(source, gate=gate, stall_timeout=stall_timeout)
        self._filler = filler
        self._size = size
        self._interval = 1.0 / fps
        self._start: float | None = None
        self._last_pts = -1
        self._next_filler_at = 0.0
        self._last_packet: tuple[MediaStreamTrack, int] | None = None  # (source, its pts)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames sent lately."""
        return self._size

    async def recv(self) -> VideoFrame | Packet[Any]:
        frame = await self._pull()
        now = time.monotonic()
        out: VideoFrame | Packet[Any]
        if isinstance(frame, Packet):
            out = frame
            self.source_frames += 1
        elif frame is None:
            if self._source is None:
                # Pace the filler ourselves; a stalled source has already made us wait.
                delay = self._next_filler_at - now
                if delay > 0:
                    await asyncio.sleep(delay)
                    now = time.monotonic()
            self._next_filler_at = now + self._interval
            out = self._filler(*self._size)
            self.filler_frames += 1
        else:
            assert isinstance(frame, VideoFrame)
            self._size = (frame.width, frame.height)
            out = black_frame(*self._size) if self.muted else frame
            self.source_frames += 1
        if self._start is None:
            self._start = now
        pts = max(int((now - self._start) * 90000), self._last_pts + 1)
        if isinstance(out, Packet):
            pts = self._packet_pts(out, pts)
        else:
            self._last_packet = None
        self._last_pts = pts
        out.pts = pts
        out.time_base = VIDEO_TIME_BASE
        return out

    def _packet_pts(self, packet: Packet[Any], wall_pts: int) -> int:
        """Packets of one source keep their own spacing (the receiver measures frame steps
        by it); the first of a source goes on the wall clock."""
        source = self._source
        src_pts = None
        if packet.pts is not None and packet.time_base:
            src_pts = int(packet.pts * packet.time_base * 90000)
        last, self._last_packet = self._last_packet, None
        if source is not None and src_pts is not None:
            self._last_packet = (source, src_pts)
        if last is None or src_pts is None or last[0] is not source:
            return wall_pts
        step = src_pts - last[1]
        if not 0 < step < 5 * 90000:  # the source went back or jumped: follow the wall
            return wall_pts
        return self._last_pts + step


class OutgoingAudioTrack(_Outgoing):
    """Audio in one fixed format (s16 stereo 48 kHz): aiortc's Opus encoder sets its resampler
    up from the first frame and fails on any frame of another format, so frames from every
    source, silence included, are converted to this one."""

    kind = "audio"
    RATE = 48000
    LAYOUT = "stereo"

    def __init__(
        self,
        source: MediaStreamTrack | None = None,
        *,
        ptime: float = 0.02,
        gate: asyncio.Event | None = None,
        stall_timeout: float = 0.25,
    ) -> None:
        super().__init__(source, gate=gate, stall_timeout=stall_timeout)
        self._ptime = ptime
        self._seconds = 0.0  # media time sent so far
        self._start: float | None = None
        self._resamplers: dict[tuple[str, str, int], AudioResampler] = {}
        self._ready: collections.deque[AudioFrame] = collections.deque(maxlen=50)

    async def recv(self) -> AudioFrame | Packet[Any]:
        out: AudioFrame | Packet[Any]
        while not self._ready:
            packet = await self._fill()
            if packet is not None:
                out = packet
                break
        else:
            out = self._ready.popleft()
        now = time.monotonic()
        if self._start is None or now - (self._start + self._seconds) > 0.5:
            # First frame, or far behind real time (a stalled source): re-anchor so the
            # filler does not burst to catch up.
            self._start = now - self._seconds
        duration = self._duration(out)
        if isinstance(out, Packet):
            out.duration = round(duration * self.RATE)
        out.pts = round(self._seconds * self.RATE)
        out.time_base = fractions.Fraction(1, self.RATE)
        self._seconds += duration
        return out

    def _duration(self, out: AudioFrame | Packet[Any]) -> float:
        if isinstance(out, AudioFrame):
            return out.samples / self.RATE
        # An Opus packet: its own duration when the source stamped one, else one ptime.
        if out.duration and out.time_base:
            return float(out.duration * out.time_base)
        return self._ptime

    async def _fill(self) -> Packet[Any] | None:
        """Frames into the ready queue; a packet is returned as it is, to be sent next."""
        frame = await self._pull()
        if isinstance(frame, Packet):
            self.source_frames += 1
            return frame
        if frame is None:
            if self._start is not None and self._source is None:
                delay = self._start + self._seconds - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._ready.append(silence(int(self.RATE * self._ptime), self.RATE, self.LAYOUT))
            self.filler_frames += 1
            return None
        assert isinstance(frame, AudioFrame)
        self.source_frames += 1
        for converted in self._convert(frame):
            if self.muted:
                converted = silence(converted.samples, self.RATE, self.LAYOUT)
            self._ready.append(converted)
        return None

    def _convert(self, frame: AudioFrame) -> list[AudioFrame]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key == ("s16", self.LAYOUT, self.RATE):
            return [frame]
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = AudioResampler(format="s16", layout=self.LAYOUT, rate=self.RATE)
            self._resamplers[key] = resampler
        frame.pts = None  # the resampler would otherwise check continuity against our clock
        return list(resampler.resample(frame))


class SendingTrack(MediaStreamTrack):
    """One peer connection's view of a long-lived track: what its sender is given.

    aiortc stops a sender's track whenever the sender stops, including when the far end
    closes the connection (its DTLS transport goes down and the sender's loop ends). Only this
    view is stopped then; the long-lived track goes on for the next connection.
    """

    def __init__(self, track: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = track.kind
        self.track = track

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        return await self.track.recv()
