"""Passthrough recording: the packets received (VP8/H.264/Opus) muxed as they are, no decode.

:class:`PassthroughRecorder` takes tracks whose ``recv()`` returns
:class:`~media.encoded.EncodedFrame` (a receiver tapped with ``pexbot.rtc.encoded.tap_encoded``,
or a call made with ``encoded_receive=True``) and writes one Matroska/WebM file per role, named
and crash-safe like :class:`~media.recorder.Recorder` (same worker, flush, free-space reserve
and stall check: :class:`PassthroughFile` is a :class:`~media.recording_file.RecordingFile`
whose stage copies packets instead of encoding frames).

Timing (one recording clock for audio and video, so they stay in sync): each stream's RTP
timestamps are mapped onto the recording clock from its first frame's arrival, then advance by
RTP time (:class:`~media.recording_clock.RecordingClock`: an earlier arrival moves the mapping
down, a jump of a second or more re-anchors at the arrival, a replaced track anchors afresh).
A frame's arrival is taken as that of its first packet: aiortc releases a frame only when a
later one starts (``RECEIVE_LAG``), and an audio packet is sent once its last sample was
captured, so its first sample is one packet earlier. Without these, video lands a frame
interval late, audio 100 ms, and the two are apart by the difference.
Written timestamps never go backwards: video is kept strictly rising, audio packets are kept
back to back unless a real gap (> 40 ms) leaves a hole, and a packet wholly behind the audio
already written is dropped.

Video starts at a keyframe: frames before the first one are dropped and a keyframe is asked
for (``request_keyframe(role)``, at start and every second while waiting). After a loss the
recorder asks again: a timestamp gap of more than twice the usual frame interval asks only (the
jitter buffer passes on complete frames, so what follows still decodes); a gap over
``LOSS_GAP`` seconds, a frame the writer's queue had no room for, or a replaced track also drops
until the keyframe, so every frame in the file decodes.

Size changes (Pexip's composed layouts switch resolution): VP8 and H.264 carry the size in
every keyframe, so the packets go in as they are and the track header keeps the first size.
FFmpeg/PyAV and ffprobe decode such files frame by frame at each frame's own size.

A role whose frames arrive decoded (``av.VideoFrame``/``AudioFrame``: a presentation sent as
JPEG stills) is transcoded into its file as :class:`~media.recorder.Recorder` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.encoded import EncodedFrame, vp8_frame_size
from media.mux import VIDEO_TIME_BASE, Muxer, RecordingError, container_spec
from media.recorder import Recorder
from media.recording_clock import AudioPlacer
from media.recording_file import FALLBACK_SIZE, Item, OutputSettings, RecordingFile
from media.sink import Kind

log = logging.getLogger(__name__)

#: seconds of missing video timestamps taken as a loss the decoder cannot bridge
LOSS_GAP = 0.5
#: seconds between keyframe requests for one role
REQUEST_EVERY = 1.0
#: frames aiortc's jitter buffer holds a frame back: it releases a video frame at the next
#: frame's first packet, an audio frame at the fourth one after it (``prefetch=4``)
RECEIVE_LAG: dict[str, int] = {"video": 1, "audio": 4}
AUDIO_RATE = 48_000
AUDIO_SLACK = round(0.04 * AUDIO_RATE)
FFMPEG_CODECS = {"VP8": "vp8", "H264": "h264", "OPUS": "opus"}

KeyframeRequest = Callable[[str], Awaitable[object] | object]


def opus_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) in one Opus packet, from its TOC byte (RFC 6716 3.1)."""
    if not packet:
        return 0
    config, code = packet[0] >> 3, packet[0] & 0x03
    if config < 12:
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:
        frame = (480, 960)[config % 2]
    else:
        frame = (120, 240, 480, 960)[config % 4]
    count = (
        1 if code == 0 else 2 if code in (1, 2) else (packet[1] & 0x3F if len(packet) > 1 else 1)
    )
    return frame * max(1, count)


@dataclass
class _VideoGate:
    """Per role: whether video waits for a keyframe, and the frame interval seen so far."""

    waiting: bool = True
    asked_at: float | None = None
    last_ts: int | None = None
    interval: float | None = None  # smoothed RTP interval between frames, seconds


class PassthroughRecorder(Recorder):
    """A sink that muxes received encoded frames into one file per role, without decoding.

    ``request_keyframe(role)`` (may be async) is called when a role's video needs a keyframe;
    ``video_codec`` ("vp8"/"h264", the call's) names the video stream of a file whose video
    had not started when it opened;
    ``container`` is mkv (default) or webm (VP8 + Opus only). Other options as
    :class:`~media.recorder.Recorder`: ``video_queue``/``audio_queue`` bound the frames waiting
    for the writer, ``fsync`` also pushes the file to disk every second.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        container: str | None = None,
        request_keyframe: KeyframeRequest | None = None,
        video_codec: str = "vp8",
        video_queue: int = 120,
        audio_queue: int = 500,
        fsync: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            target,
            container=container,
            video_queue=video_queue,
            audio_queue=audio_queue,
            fsync=fsync,
            clock=clock,
        )
        if self.spec.container == "mp4":
            raise RecordingError("passthrough writes mkv or webm; mp4 needs transcoding")
        self.request_keyframe = request_keyframe
        self.video_codec = video_codec
        self._gates: dict[str, _VideoGate] = {}
        self._released: dict[tuple[str, Kind], deque[float]] = {}
        self._decoded_roles: set[str] = set()
        self._requests: set[asyncio.Task[None]] = set()
        self.keyframe_requests = 0
        self.video_dropped_waiting = 0  # video frames dropped while waiting for a keyframe

    def on_track_added(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:
        super().on_track_added(role, kind, track)
        self._released.pop((role, kind), None)
        if kind == "video":
            # A new track (a re-join, a rebuilt call): its first frames may reference pictures
            # the file never got.
            self._gates[role] = _VideoGate()

    def on_frame(self, role: str, kind: Kind, frame: object) -> None:
        if not isinstance(frame, EncodedFrame):
            # A role that arrives decoded (a presentation sent as JPEG stills) is transcoded.
            if isinstance(frame, AudioFrame | VideoFrame):
                self._decoded_roles.add(role)
                super().on_frame(role, kind, frame)
                return
            raise RecordingError(f"cannot record a {type(frame).__name__} on {role}/{kind}")
        now = frame.arrival
        # aiortc's jitter buffer hands a frame over only when a later frame's first packet
        # arrives (``RECEIVE_LAG`` frames later): that packet's arrival, which is the release
        # of the frame that many before this one, is when this frame arrived.
        released = self._released.setdefault((role, kind), deque(maxlen=RECEIVE_LAG[kind]))
        if len(released) == released.maxlen:
            arrived = released[0]
        elif kind == "audio":  # until then: the lag in packets of this one's duration
            arrived = now - RECEIVE_LAG["audio"] * opus_samples(frame.data) / AUDIO_RATE
        else:
            arrived = now
        released.append(now)
        if kind == "video" and not self._pass_video(role, frame, now):
            return
        if kind == "audio":
            # An audio packet leaves its sender once its last sample is captured; its
            # timestamp is that of its first sample.
            arrived -= opus_samples(frame.data) / AUDIO_RATE
        if self._started_at is None:
            self._started_at = datetime.now(UTC)
        t = self._clock.place((role, kind), frame.seconds, arrived)
        file = self._files.get(role)
        if file is None:
            file = self._open_file(role, kind)
        if not file.submit(kind, frame, t) and kind == "video":
            self._lost(role, now)  # the file lacks a frame later ones refer to

    def _pass_video(self, role: str, frame: EncodedFrame, now: float) -> bool:
        gate = self._gates.setdefault(role, _VideoGate())
        if gate.last_ts is not None:
            step = (frame.timestamp - gate.last_ts) / frame.clock_rate
            if step >= LOSS_GAP:
                self._lost(role, now)
            elif gate.interval is not None and step > 2 * gate.interval:
                self._ask(role, now)
            elif step > 0:
                gate.interval = step if gate.interval is None else 0.9 * gate.interval + 0.1 * step
        gate.last_ts = frame.timestamp
        if gate.waiting and frame.keyframe:
            gate.waiting = False
        if gate.waiting:
            self.video_dropped_waiting += 1
            if gate.asked_at is None or now - gate.asked_at >= REQUEST_EVERY:
                self._ask(role, now)
            return False
        return True

    def _lost(self, role: str, now: float) -> None:
        gate = self._gates.setdefault(role, _VideoGate())
        if not gate.waiting:
            gate.waiting = True
            gate.asked_at = None
        self._ask(role, now)

    def _ask(self, role: str, now: float) -> None:
        gate = self._gates.setdefault(role, _VideoGate())
        if gate.asked_at is not None and now - gate.asked_at < REQUEST_EVERY / 2:
            return
        gate.asked_at = now
        if self.request_keyframe is None or self.closed:
            return
        self.keyframe_requests += 1
        task = asyncio.get_running_loop().create_task(
            self._send_request(role), name=f"passthrough-keyframe:{role}"
        )
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _send_request(self, role: str) -> None:
        assert self.request_keyframe is not None
        try:
            result = self.request_keyframe(role)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a call going away: the next keyframe request may get through
            log.debug("passthrough %s: keyframe request failed: %r", role, exc)

    def _open_file(self, role: str, kind: Kind) -> RecordingFile:
        if role in self._decoded_roles:
            return super()._open_file(role, kind)
        assert self._started_at is not None
        file = PassthroughFile(
            self.path_for(role),
            self.spec.container,
            self._settings,
            kinds=self._expected.get(role, set()) | {kind},
            now=self.elapsed,
            metadata={
                "recording_start": self._started_at.isoformat(timespec="milliseconds"),
                "role": role,
            },
            role=role,
            video_codec=self.video_codec,
        )
        self._files[role] = file
        file.start()
        return file

    async def finalise(self) -> None:
        requests = list(self._requests)
        for task in requests:
            task.cancel()
        if requests:
            await asyncio.wait(requests)
        await super().finalise()


class PassthroughFile(RecordingFile):
    """A :class:`RecordingFile` that copies encoded frames into the muxer as they are."""

    def __init__(
        self,
        path: Path,
        container: str,
        settings: OutputSettings,
        *,
        kinds: set[Kind],
        now: Callable[[], float],
        metadata: dict[str, str],
        role: str,
        video_codec: str = "vp8",
    ) -> None:
        super().__init__(
            path,
            container_spec(container),
            settings,
            kinds=kinds,
            now=now,
            metadata=metadata,
            role=role,
        )
        self._container_name = container
        self._video_hint = video_codec.lower()
        self._streams: dict[Kind, Any] = {}
        self._last_video: int | None = None
        self._audio_placer = AudioPlacer(AUDIO_SLACK)

    def _can_open(self) -> bool:
        # Every stream must be in the header, and a stream's codec and size are known from its
        # first frame: wait for a frame of each kind, or ``open_wait`` (then a missing stream
        # gets the hinted codec).
        if self._kinds <= {kind for kind, _ in self._pending}:
            return True
        assert self._first_pending is not None
        return self._now() - self._first_pending >= self._settings.open_wait

    def _open(self) -> None:
        pending, self._pending = self._pending, []
        frames = [(kind, item) for kind, item in pending if isinstance(item[0], EncodedFrame)]
        video = next((i[0] for k, i in frames if k == "video"), None)
        audio = next((i[0] for k, i in frames if k == "audio"), None)
        assert video is None or isinstance(video, EncodedFrame)
        assert audio is None or isinstance(audio, EncodedFrame)
        kinds = self._kinds | {kind for kind, _ in frames}
        vcodec = _ffmpeg_codec(video) if video is not None else None
        acodec = _ffmpeg_codec(audio) if audio is not None else None
        if vcodec is None and "video" in kinds:
            vcodec = self._video_hint
        if acodec is None and "audio" in kinds:
            acodec = "opus"  # the only audio codec a call negotiates here
        spec = container_spec(self._container_name, video_codec=vcodec, audio_codec=acodec)
        self._spec = spec
        muxer = Muxer(self.path, spec, metadata=self._metadata, fsync=self._settings.fsync)
        self._muxer = muxer
        self._stats.start = min(item[1] for _, item in frames) if frames else 0.0
        if vcodec is not None:
            width, height = FALLBACK_SIZE if video is None else _frame_size(video)
            self._streams["video"] = muxer.add_copy_stream(vcodec, width=width, height=height)
        if acodec is not None:
            self._streams["audio"] = muxer.add_copy_stream(acodec, sample_rate=AUDIO_RATE)
        for kind, item in frames:
            self._write(kind, item)

    def _write(self, kind: Kind, item: Item) -> None:
        frame, t = item
        stats = self._stats.streams[kind]
        stream = self._streams.get(kind)
        if stream is None or not isinstance(frame, EncodedFrame):
            stats.frames_dropped += 1
            self._log_once(
                kind, f"{kind} frames dropped: the file was opened without a {kind} stream"
            )
            return
        packet = av.Packet(frame.data)
        if kind == "video":
            pts = round(t / VIDEO_TIME_BASE)
            if self._last_video is not None and pts <= self._last_video:
                pts = self._last_video + 1
            self._last_video = pts
            packet.time_base = VIDEO_TIME_BASE
            packet.is_keyframe = frame.keyframe
            end = float(pts * VIDEO_TIME_BASE)
        else:
            samples = opus_samples(frame.data) or 960
            placement = self._audio_placer.place(round(t * AUDIO_RATE), samples)
            if placement.skip >= samples:
                stats.frames_dropped += 1  # wholly behind what is written: time never goes back
                return
            pts = placement.position + placement.silence
            stats.silence_seconds += placement.silence / AUDIO_RATE
            packet.time_base = fractions.Fraction(1, AUDIO_RATE)
            packet.duration = samples
            end = (pts + samples) / AUDIO_RATE
        packet.pts = packet.dts = pts
        packet.stream = stream
        assert self._muxer is not None
        try:
            stats.packets_written += self._muxer.mux([packet])
        except Exception as exc:
            stats.frames_dropped += 1
            if isinstance(exc, OSError):
                self._broken = True
            self._fail(f"writing {kind}", exc)
            return
        stats.frames_written += 1
        self._stats.end = max(self._stats.end or end, end)

    def _finish(self) -> None:
        muxer = self._muxer
        if muxer is None:
            return
        try:
            muxer.close()
        except Exception as exc:
            self._fail("writing the trailer", exc)
        self._stats.bytes_written = muxer.size()


def _ffmpeg_codec(frame: EncodedFrame) -> str:
    name = FFMPEG_CODECS.get(frame.codec.upper())
    if name is None:
        raise RecordingError(f"passthrough cannot record {frame.codec} ({frame.kind})")
    return name


def _frame_size(frame: EncodedFrame) -> tuple[int, int]:
    """Size of the first (key) frame, for the track header."""
    size = vp8_frame_size(frame.data) if frame.codec.upper() == "VP8" else None
    if size is not None:
        return size
    with contextlib.suppress(av.FFmpegError, ValueError):
        decoder: Any = av.CodecContext.create(_ffmpeg_codec(frame), "r")
        for picture in decoder.decode(av.Packet(frame.data)):
            if isinstance(picture, av.VideoFrame):
                return picture.width, picture.height
    return FALLBACK_SIZE


__all__ = ["LOSS_GAP", "PassthroughFile", "PassthroughRecorder", "opus_samples"]
