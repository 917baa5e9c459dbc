"""Containers for recordings, and the muxer stage: encoded packets in, a file written as it goes.

The muxer knows nothing of frames. An encoder stage (``media.encoders``) sits in front of it
when transcoding; a passthrough recording (``media.passthrough_recorder``) adds streams with
:meth:`Muxer.add_copy_stream` and hands it the received packets as they are.

Written incrementally so that a killed process leaves a readable file:

* Matroska/WebM: FFmpeg builds each cluster in memory and writes it when it closes, so
  clusters are cut every ``CHUNK_MS``; ``flush_packets`` hands every write to the OS at once.
* MP4: fragmented (``frag_keyframe+empty_moov+default_base_moof``, fragments of ``CHUNK_MS``),
  so the file is readable while written. ``frag_discont`` makes the first fragment carry its
  real decode time, so a file that starts late (a presentation) keeps its place on the
  recording clock instead of being moved to 0.
* ``max_interleave_delta`` of 1 s: FFmpeg otherwise holds up to 10 s of one stream while it
  waits for a quiet other stream.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from media.errors import MediaError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    AnyPacket: TypeAlias = Packet[Any]  # generic only in PyAV's stubs
else:
    AnyPacket = Packet

CHUNK_MS = 500  # a SIGKILL loses about this much (the open cluster or fragment)
VIDEO_TIME_BASE = Fraction(1, 1000)

FORMATS = {"mkv": "matroska", "webm": "webm", "mp4": "mp4"}
VIDEO_CODECS = {"vp8": "libvpx", "h264": "libx264"}
AUDIO_CODECS = {"opus": "libopus", "aac": "aac"}
ALLOWED = {
    "mkv": ({"vp8", "h264"}, {"opus", "aac"}),
    "webm": ({"vp8"}, {"opus"}),
    "mp4": ({"h264"}, {"aac", "opus"}),
}
DEFAULTS = {"mkv": ("vp8", "opus"), "webm": ("vp8", "opus"), "mp4": ("h264", "aac")}

# Encoder settings for recording live calls: fast, no lookahead, no B-frames (packets come out
# as frames go in, so a crash loses nothing that is still inside the encoder). libvpx: a fixed
# speed (negative cpu-used; a positive one spends a share of each frame interval) and one
# thread: its worker threads spin between frames, which at 30 fps in real time cost 0.33
# core-seconds per second against 0.05 single-threaded (640x360, measured).
VIDEO_OPTIONS = {
    "vp8": {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0", "threads": "1"},
    "h264": {"preset": "veryfast", "tune": "zerolatency", "forced-idr": "1"},
}


class RecordingError(MediaError):
    """A recording could not be set up or written."""


@dataclass(frozen=True)
class ContainerSpec:
    """Container and codecs of one recording file."""

    container: str  # "mkv" | "webm" | "mp4"
    video_codec: str  # "vp8" | "h264"
    audio_codec: str  # "opus" | "aac"
    extra_options: dict[str, str] = field(default_factory=dict)

    @property
    def suffix(self) -> str:
        return "." + self.container

    @property
    def format_name(self) -> str:
        return FORMATS[self.container]

    def container_options(self) -> dict[str, str]:
        options = {"flush_packets": "1", "max_interleave_delta": "1000000"}
        if self.container == "mp4":
            options["movflags"] = (
                "frag_keyframe+empty_moov+default_base_moof+frag_discont+use_metadata_tags"
            )
            options["use_editlist"] = "0"  # fragments carry their real times (frag_discont)
            options["frag_duration"] = str(CHUNK_MS * 1000)
            # AAC's priming samples start before 0; shift both streams alike rather than write
            # a negative decode time into the first fragment.
            options["avoid_negative_ts"] = "make_non_negative"
        else:
            options["cluster_time_limit"] = str(CHUNK_MS)
        options.update(self.extra_options)
        return options


def container_spec(
    container: str, *, video_codec: str | None = None, audio_codec: str | None = None
) -> ContainerSpec:
    """Validated spec for ``container`` ("mkv", "webm", "mp4"; a leading dot is allowed)."""
    name = container.lower().lstrip(".")
    if name not in FORMATS:
        raise RecordingError(f"unsupported container {container!r}; use one of {sorted(FORMATS)}")
    video = (video_codec or DEFAULTS[name][0]).lower()
    audio = (audio_codec or DEFAULTS[name][1]).lower()
    videos, audios = ALLOWED[name]
    if video not in videos:
        raise RecordingError(f"{name} cannot carry {video!r} video; use one of {sorted(videos)}")
    if audio not in audios:
        raise RecordingError(f"{name} cannot carry {audio!r} audio; use one of {sorted(audios)}")
    return ContainerSpec(name, video, audio)


class Muxer:
    """One output file: streams are added, then packets muxed; :meth:`close` writes the trailer.

    Not thread-safe: one worker thread owns it. Opening creates the file.
    """

    def __init__(
        self,
        path: Path,
        spec: ContainerSpec,
        *,
        metadata: dict[str, str] | None = None,
        fsync: bool = False,
    ) -> None:
        self.path = path
        self.spec = spec
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._container: OutputContainer = av.open(
                str(path),
                "w",
                format=spec.format_name,
                container_options=spec.container_options(),
            )
        except (OSError, av.FFmpegError) as exc:
            raise RecordingError(f"cannot open {path} for writing as {spec.container}") from exc
        self._container.metadata.update(metadata or {})
        self._fsync = fsync
        self._sync_fd: int | None = None  # opened once FFmpeg has created the file
        self._closed = False
        self._started = False  # a packet (and so the header) has been written
        self._header_failed: str | None = None

    def add_video_stream(
        self, *, width: int, height: int, fps: int, bit_rate: int, keyframe_interval: float
    ) -> VideoStream:
        stream = self._container.add_stream(
            VIDEO_CODECS[self.spec.video_codec],
            rate=fps,
            options=dict(VIDEO_OPTIONS[self.spec.video_codec]),
        )
        assert isinstance(stream, VideoStream)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        ctx = stream.codec_context
        ctx.time_base = VIDEO_TIME_BASE
        ctx.gop_size = max(1, round(fps * keyframe_interval))
        ctx.max_b_frames = 0
        return stream

    def add_audio_stream(self, *, sample_rate: int, bit_rate: int) -> AudioStream:
        stream = self._container.add_stream(AUDIO_CODECS[self.spec.audio_codec], rate=sample_rate)
        assert isinstance(stream, AudioStream)
        stream.bit_rate = bit_rate
        stream.codec_context.time_base = Fraction(1, sample_rate)
        stream.codec_context.layout = "stereo"
        return stream

    def add_copy_stream(
        self, codec: str, *, width: int = 0, height: int = 0, sample_rate: int = 48000
    ) -> Any:
        """A stream for packets muxed as they are (passthrough: no codec context).

        ``codec`` is FFmpeg's name ("vp8", "h264", "opus"); a video stream's size goes into the
        track header only (Matroska players follow in-band size changes at keyframes).
        """
        try:
            if codec == "opus":
                return self._container.add_mux_stream(codec, rate=sample_rate)
            return self._container.add_mux_stream(codec, width=width, height=height)
        except ValueError as exc:
            raise RecordingError(f"{self.spec.container} cannot carry {codec}") from exc

    def mux(self, packets: Iterable[AnyPacket]) -> int:
        """Write encoded packets (each knows its stream); returns how many were written.

        The first packet writes the header too. If that fails (a copy stream whose first packet
        cannot describe it), the muxer takes no more packets: FFmpeg's half-written header
        state crashes the process when later packets are muxed into it.
        """
        if self._header_failed is not None:
            raise RecordingError(f"{self.path}: the header was not written: {self._header_failed}")
        count = 0
        for packet in packets:
            if packet.dts is None:
                continue  # an encoder's empty flush marker
            try:
                self._container.mux_one(packet)
            except av.FFmpegError as exc:
                if not self._started:
                    self._header_failed = str(exc)
                raise
            self._started = True
            count += 1
        return count

    def sync(self) -> None:
        """Push written data to the disk (the OS already has it: ``flush_packets``)."""
        if not self._fsync:
            return
        if self._sync_fd is None:
            if not self.path.exists():
                return  # nothing muxed yet
            self._sync_fd = os.open(self.path, os.O_RDONLY)
        os.fsync(self._sync_fd)

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def close(self) -> None:
        """Write the trailer and close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
            self.sync()
        finally:
            if self._sync_fd is not None:
                os.close(self._sync_fd)
                self._sync_fd = None
