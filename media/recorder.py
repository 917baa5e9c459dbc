"""Record tracks to files: audio and video muxed in sync, one file per role, one clock for all.

Naming (``target`` is the constructor's first argument):

* a file name with a known suffix (``out/call.mkv``): the ``main`` role is written there, any
  other role beside it as ``out/call.<role>.mkv``;
* a pattern containing ``{role}`` (``out/{role}.webm``): every role fills it in;
* anything else is a directory: ``out/main.mkv``, ``out/presentation.mkv``.

The container comes from the suffix (``.mkv`` Matroska, VP8 + Opus by default; ``.webm`` VP8 +
Opus; ``.mp4`` fragmented MP4, H.264 + AAC by default), else from ``container=`` (default mkv).
Roles other than ``[A-Za-z0-9_-]`` characters are replaced by ``_`` in file names.

Timing: every file uses one recording clock, ``t = 0`` at the first frame of any track (see
:mod:`media.recording_clock`). A presentation that starts 40 s into the call starts at 40 s in
its own file, so the files line up as they are. Each file also carries ``recording_start``
(UTC, ISO 8601, the wall-clock time of ``t = 0``) and ``role`` metadata.

A file is created at the first frame of its role: a recorder that received no frames for a role
leaves no file for it (never an empty or corrupt one). ``close()`` writes what is queued and
finalises every file; it is idempotent and runs however the pulling tasks ended.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.mux import FORMATS, ContainerSpec, RecordingError, container_spec
from media.recording_clock import RecordingClock
from media.recording_file import FileStats, OutputSettings, RecordingFile
from media.sink import Kind, Sink

MAIN_ROLE = "main"


class Recorder(Sink):
    """A :class:`~media.sink.Sink` that encodes and muxes each role into its own file.

    Encoding runs on one worker thread per file; :meth:`on_frame` only places the frame on the
    recording clock and queues it.

    * ``width``/``height``: None takes the size of the first video frame; frames of another
      size (a sender changing resolution) are scaled to it.
    * ``fps``: nominal rate for rate control and the bitrate default; frames keep their own
      timestamps (variable frame rate). ``video_bitrate`` defaults to 0.08 bit per pixel per
      frame (at least 300 kbit/s); ``audio_bitrate`` to 64 kbit/s Opus or 128 kbit/s AAC.
    * ``keyframe_interval``: seconds of recording time between forced keyframes.
    * ``video_queue``/``audio_queue``: frames waiting for the worker; past them frames are
      dropped and counted in :meth:`stats` (audio also logged).
    * ``fsync``: also push the file to disk every second (SIGKILL safety needs only the OS).
    * ``clock``: ``time.monotonic`` unless a test drives time itself.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        container: str | None = None,
        video_codec: str | None = None,
        audio_codec: str | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: int = 30,
        video_bitrate: int | None = None,
        audio_bitrate: int | None = None,
        audio_sample_rate: int = 48000,
        keyframe_interval: float = 1.0,
        video_queue: int = 60,
        audio_queue: int = 500,
        fsync: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if (width is None) != (height is None):
            raise RecordingError(f"give both width and height or neither (got {width}x{height})")
        if not 0 < keyframe_interval <= 10:
            raise RecordingError(f"keyframe_interval must be in (0, 10] s, got {keyframe_interval}")
        self._pattern, self._spec = _naming(Path(target), container, video_codec, audio_codec)
        self._settings = OutputSettings(
            width=width,
            height=height,
            fps=fps,
            video_bitrate=video_bitrate,
            audio_bitrate=audio_bitrate,
            sample_rate=audio_sample_rate,
            keyframe_interval=keyframe_interval,
            video_queue=video_queue,
            audio_queue=audio_queue,
            fsync=fsync,
        )
        self._now = clock
        self._clock = RecordingClock()
        self._started_at: datetime | None = None
        self._expected: dict[str, set[Kind]] = {}
        self._files: dict[str, RecordingFile] = {}

    @property
    def spec(self) -> ContainerSpec:
        return self._spec

    @property
    def started_at(self) -> datetime | None:
        """Wall-clock time (UTC) of ``t = 0``, once the first frame arrived."""
        return self._started_at

    def path_for(self, role: str) -> Path:
        """Where ``role`` is (or would be) recorded."""
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", role) or "_"
        if "{role}" in str(self._pattern):
            return Path(str(self._pattern).replace("{role}", safe))
        if role == MAIN_ROLE:
            return self._pattern
        return self._pattern.with_name(f"{self._pattern.stem}.{safe}{self._pattern.suffix}")

    @property
    def paths(self) -> dict[str, Path]:
        """Files created so far, by role."""
        return {role: file.path for role, file in self._files.items()}

    def stats(self) -> dict[str, FileStats]:
        """Per role: frames written/dropped per stream, bytes written, duration, first error."""
        return {role: file.stats for role, file in self._files.items()}

    def elapsed(self) -> float:
        """Seconds on the recording clock (0 before the first frame)."""
        return self._clock.elapsed(self._now())

    def on_track_added(self, role: str, kind: Kind, track: MediaStreamTrack) -> None:
        # A replacement track has pts unrelated to the one before it.
        self._clock.forget((role, kind))
        self._expected.setdefault(role, set()).add(kind)
        file = self._files.get(role)
        if file is not None:
            file.expect(kind)

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        now = self._now()
        if self._started_at is None:
            self._started_at = datetime.now(UTC)
        pts = None
        if frame.pts is not None and frame.time_base is not None:
            pts = float(frame.pts * frame.time_base)
        t = self._clock.place((role, kind), pts, now)
        file = self._files.get(role)
        if file is None:
            file = self._open_file(role, kind)
        file.submit(kind, frame, t)

    def _open_file(self, role: str, kind: Kind) -> RecordingFile:
        assert self._started_at is not None
        file = RecordingFile(
            self.path_for(role),
            self._spec,
            self._settings,
            kinds=self._expected.get(role, set()) | {kind},
            now=self.elapsed,
            metadata={
                "recording_start": self._started_at.isoformat(timespec="milliseconds"),
                "role": role,
            },
            role=role,
        )
        self._files[role] = file
        file.start()
        return file

    async def finalise(self) -> None:
        await asyncio.gather(*(file.close() for file in self._files.values()))


def _naming(
    target: Path, container: str | None, video_codec: str | None, audio_codec: str | None
) -> tuple[Path, ContainerSpec]:
    """(main-file path or ``{role}`` pattern, spec) for a recorder target."""
    suffix = target.suffix.lower().lstrip(".")
    from_suffix = suffix if suffix in FORMATS else None
    if container is not None and from_suffix is not None and container.lstrip(".") != suffix:
        raise RecordingError(f"container={container!r} contradicts the file name {target}")
    spec = container_spec(
        from_suffix or container or "mkv", video_codec=video_codec, audio_codec=audio_codec
    )
    if from_suffix is not None:
        return target, spec
    if "{role}" in str(target):
        return target.with_name(target.name + spec.suffix), spec
    return target / f"{{role}}{spec.suffix}", spec
