"""A file's encoded packets, shared by every track of a process, never decoded.

:class:`SharedFile` reads a file's VP8 or H.264 video and Opus audio packets once (demuxed,
not decoded) and serves them as two shared streams like :mod:`media.shared_encoding`'s, so a
load process sends what the file holds with no encoder at all: packet ``k`` of a kind goes out
at ``k`` frame intervals, looping over the file for as long as the streams run (the frame
index, hence the RTP timestamp, keeps rising across the loop).

What a pre-encoded stream cannot do: make a keyframe on request. A track that needs one (a new
call, a receiver's PLI) waits for the next keyframe in the file, so use a file with short
GOPs (a keyframe every second or two). The frame rate is the video stream's average rate;
audio packets must be 20 ms Opus frames (what WebRTC senders use).
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from pathlib import Path

import av

from .errors import SourceError
from .shared_encoding import SharedCodec, SharedFrame, _SharedStream

RING_SECONDS = 2.0
MAX_BYTES = 256 * 2**20  # the packets are held in memory
_VIDEO_CODECS: dict[str, SharedCodec] = {"vp8": "vp8", "h264": "h264"}


@dataclass(frozen=True)
class _Packet:
    data: bytes
    keyframe: bool


class SharedFileStream(_SharedStream):
    """One kind of a :class:`SharedFile`: its packets in a loop, one per interval."""

    def __init__(self, kind: str, packets: list[_Packet], interval: float) -> None:
        time_base = fractions.Fraction(interval).limit_denominator(1000)
        super().__init__(interval, time_base, max(2, int(RING_SECONDS / interval)))
        self.kind = kind
        self._packets = packets
        #: keyframes in the file served, and the requests for one (which only waiting answers)
        self.keyframes = 0
        self.requests = 0
        self.loops = 0

    def request_keyframe(self) -> None:
        self.requests += 1

    async def _make(self, index: int, at: float) -> SharedFrame:
        loops, at_packet = divmod(index, len(self._packets))
        self.loops = loops
        packet = self._packets[at_packet]
        self.keyframes += packet.keyframe and self.kind == "video"
        return SharedFrame(index, packet.data, packet.keyframe or self.kind == "audio")


class SharedFile:
    """``.video`` (VP8/H.264) and ``.audio`` (Opus) streams of ``path``, None where absent.

    Raises :class:`~media.errors.SourceError` when the file cannot be read, holds neither, or
    holds codecs a WebRTC sender cannot pass on as they are.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.codec: SharedCodec | None = None
        self.fps: float | None = None
        self.video: SharedFileStream | None = None
        self.audio: SharedFileStream | None = None
        try:
            with av.open(str(self.path)) as container:
                video = container.streams.video[0] if container.streams.video else None
                audio = container.streams.audio[0] if container.streams.audio else None
                self._check(video, audio)
                streams = [s for s in (video, audio) if s is not None]
                found: dict[int, list[_Packet]] = {s.index: [] for s in streams}
                # (the stream objects are not to be read once the file is closed)
                video_at = video.index if video is not None else None
                audio_at = audio.index if audio is not None else None
                size = 0
                for packet in container.demux(streams):
                    if packet.size == 0:
                        continue  # the demuxer's flush packet
                    size += packet.size
                    if size > MAX_BYTES:
                        raise SourceError(
                            f"{self.path}: more than {MAX_BYTES // 2**20} MB of packets; "
                            "use a shorter file (it loops)"
                        )
                    found[packet.stream.index].append(_Packet(bytes(packet), packet.is_keyframe))
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot read media file {self.path}: {exc}") from exc
        if video_at is not None and found[video_at]:
            frames = found[video_at]
            if not frames[0].keyframe:
                raise SourceError(f"{self.path}: the video does not start with a keyframe")
            self.video = SharedFileStream("video", frames, 1.0 / (self.fps or 15.0))
        if audio_at is not None and found[audio_at]:
            self.audio = SharedFileStream("audio", found[audio_at], 0.02)
        if self.video is None and self.audio is None:
            raise SourceError(f"{self.path}: no VP8/H.264 video or Opus audio packets")

    def _check(self, video: av.VideoStream | None, audio: av.AudioStream | None) -> None:
        if video is not None:
            name = video.codec_context.name
            codec = _VIDEO_CODECS.get(name)
            if codec is None:
                raise SourceError(
                    f"{self.path}: video is {name}; sent as it is it must be VP8 or H.264"
                )
            self.codec = codec
            rate = video.average_rate or video.guessed_rate
            self.fps = float(rate) if rate else 15.0
        if audio is not None:
            name = audio.codec_context.name
            if name != "opus":
                raise SourceError(f"{self.path}: audio is {name}; sent as it is it must be Opus")
            frame_size = audio.codec_context.frame_size
            if frame_size and frame_size != 960:
                raise SourceError(
                    f"{self.path}: Opus frames of {frame_size} samples; 960 (20 ms) needed"
                )

    @classmethod
    def probe(cls, path: str | Path) -> tuple[SharedCodec | None, bool, bool]:
        """(video codec, has video, has audio) without reading the packets; SourceError as the
        constructor raises it."""
        probe = cls.__new__(cls)
        probe.path, probe.codec, probe.fps = Path(path), None, None
        try:
            with av.open(str(path)) as container:
                video = container.streams.video[0] if container.streams.video else None
                audio = container.streams.audio[0] if container.streams.audio else None
                probe._check(video, audio)
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot read media file {path}: {exc}") from exc
        if video is None and audio is None:
            raise SourceError(f"{path}: no VP8/H.264 video or Opus audio")
        return probe.codec, video is not None, audio is not None

    async def aclose(self) -> None:
        for stream in (self.video, self.audio):
            if stream is not None:
                await stream.aclose()


__all__ = ["SharedFile", "SharedFileStream"]
