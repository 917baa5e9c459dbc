"""One passthrough recording file: received packets muxed as they are (no encoder in between).

:class:`PassthroughFile` is a :class:`~media.recording_file.RecordingFile` whose stage copies
packets: it opens the file once each expected kind has delivered a frame (or ``open_wait``
passed: a stream without a frame gets the hinted codec), takes the codecs and the video size
from the first frames, and writes timestamps that never go back (video strictly rising; audio
packets back to back unless a real gap leaves a hole, see
:class:`~media.recording_clock.AudioPlacer`). Video of another codec than the file's stream
(opened from the hint) is dropped and logged, never written as the wrong codec. Used by
:class:`~media.passthrough_recorder.PassthroughRecorder`.
"""

from __future__ import annotations

import contextlib
import fractions
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from media.encoded import EncodedFrame, vp8_frame_size
from media.mux import VIDEO_TIME_BASE, Muxer, RecordingError, container_spec
from media.recording_clock import AudioPlacer
from media.recording_file import FALLBACK_SIZE, Item, OutputSettings, RecordingFile
from media.sink import Kind

AUDIO_RATE = 48_000
AUDIO_SLACK = round(0.04 * AUDIO_RATE)
FFMPEG_CODECS = {"VP8": "vp8", "H264": "h264", "OPUS": "opus"}


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


class PassthroughFile(RecordingFile):
    """A :class:`RecordingFile` that copies encoded frames into the muxer as they are."""

    # Copying a packet costs far less than waking the worker for it: write ten times a second.
    batch_wait = 0.1

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
        self._video_codec: str | None = None
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
        self._video_codec = vcodec
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
        if kind == "video" and FFMPEG_CODECS.get(frame.codec.upper()) != self._video_codec:
            # The stream was opened for the hinted codec before any video came, and the call's
            # is another: these packets would not decode as that codec.
            stats.frames_dropped += 1
            self._log_once(
                "codec", f"{frame.codec} video dropped: the file's video is {self._video_codec}"
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


__all__ = ["AUDIO_RATE", "FFMPEG_CODECS", "PassthroughFile", "opus_samples"]
