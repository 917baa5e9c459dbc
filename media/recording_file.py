"""One recording file and the thread that encodes and muxes into it.

Frames come in from the event loop (:meth:`RecordingFile.submit`, never blocks) already placed
on the recording clock, through a queue bounded per kind: video is dropped and counted when the
queue is full; audio has a deep queue (10 s) and is dropped only past that, counted and logged.

The file is created when its first frames can be written: all streams must exist before the
header, and a video stream needs its size. So the worker holds frames back until every kind
with a track has delivered a frame, or ``open_wait`` seconds passed (then a missing video stream
gets the configured or fallback size). With ``width``/``height`` set it opens at once. Frames
held back are not on disk yet: a crash in that window loses them.

If the worker fails (the file cannot be created, the disk is full), it logs the first error,
keeps it in :attr:`FileStats.error`, finalises what it can and counts every later frame as
dropped; nothing is raised into the event loop. A full disk does not raise inside FFmpeg: it
shows as a file that stops growing while it is fed, which the worker checks every flush.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from av import AudioFrame, VideoFrame

from media.encoders import AudioEncoder, VideoEncoder
from media.frame_queue import FrameQueue
from media.mux import ContainerSpec, Muxer
from media.sink import Kind

log = logging.getLogger(__name__)

FALLBACK_SIZE = (640, 360)
PENDING_VIDEO_LIMIT = 60
#: seconds a fed file may stand still before the disk is taken to have refused it
STALL_SECONDS = 3.0


@dataclass(frozen=True)
class OutputSettings:
    width: int | None = None
    height: int | None = None
    fps: int = 30
    video_bitrate: int | None = None
    audio_bitrate: int | None = None
    sample_rate: int = 48000
    keyframe_interval: float = 1.0
    open_wait: float = 2.0
    video_queue: int = 60
    audio_queue: int = 500
    flush_interval: float = 1.0
    fsync: bool = False
    #: free disk space below which the file stops taking frames and is finished while the
    #: trailer (index, duration) still fits: FFmpeg's I/O error is sticky, so a file that hit
    #: ENOSPC can get no trailer even once space is back. 0: write until the disk refuses.
    reserve_bytes: int = 1024 * 1024

    def bitrate_for(self, width: int, height: int) -> int:
        if self.video_bitrate is not None:
            return self.video_bitrate
        return max(300_000, round(width * height * self.fps * 0.08))


@dataclass
class StreamStats:
    frames_written: int = 0
    frames_dropped: int = 0
    packets_written: int = 0
    silence_seconds: float = 0.0  # audio: lead-in and gaps filled with silence
    filler_frames: int = 0  # video: black lead-in frame before a late first frame


@dataclass
class FileStats:
    path: Path
    streams: dict[str, StreamStats] = field(default_factory=dict)
    bytes_written: int = 0
    start: float | None = None  # recording-clock time of the first frame written
    end: float | None = None  # recording-clock time just after the last frame written
    error: str | None = None  # first error the worker hit, if any

    @property
    def duration(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(0.0, self.end - self.start)


#: a frame (decoded, or encoded for a passthrough file) and its recording-clock time
Item = tuple[object, float]


class RecordingFile:
    """Owns a worker thread, a muxer and one encoder per stream. Start with :meth:`start`."""

    #: seconds the worker lets frames gather before it writes them (None: each at once)
    batch_wait: float | None = None

    def __init__(
        self,
        path: Path,
        spec: ContainerSpec,
        settings: OutputSettings,
        *,
        kinds: set[Kind],
        now: Callable[[], float],
        metadata: dict[str, str],
        role: str,
    ) -> None:
        self.path = path
        self._spec = spec
        self._settings = settings
        self._kinds = set(kinds)
        self._now = now
        self._metadata = metadata
        self._role = role
        self._queue: FrameQueue[Item] = FrameQueue(
            {"video": settings.video_queue, "audio": settings.audio_queue},
            wake=self.batch_wait is None,
        )
        self._stats = FileStats(path, {"audio": StreamStats(), "video": StreamStats()})
        self._pending: list[tuple[Kind, Item]] = []
        self._first_pending: float | None = None
        self._muxer: Muxer | None = None
        self._video: VideoEncoder | None = None
        self._audio: AudioEncoder | None = None
        self._last_flush = 0.0
        self._size_seen = -1
        self._grown_at: float | None = None
        self._packets_at_growth = 0
        self._broken = False  # the disk refused the file: later frames are dropped, counted
        self._bytes_at_flush = 0
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._run, name=f"recorder:{role}", daemon=True)

    @property
    def stats(self) -> FileStats:
        return self._stats

    def expect(self, kind: Kind) -> None:
        """A track of ``kind`` was added: hold the file back for its first frame."""
        self._kinds.add(kind)

    def start(self) -> None:
        self._thread.start()

    def submit(self, kind: Kind, frame: object, t: float) -> bool:
        """Queue a frame placed at recording time ``t``; False if it was dropped."""
        if self._queue.put(kind, (frame, t)):
            return True
        stream = self._stats.streams[kind]
        stream.frames_dropped += 1
        dropped = stream.frames_dropped
        if self._queue.closed:
            pass  # the worker stopped (and logged why); the stats count what is lost
        elif (kind == "audio" and dropped in (1, 10, 100)) or dropped % 1000 == 0:
            log.warning(
                "recorder %s: %s queue full (worker behind), %d frames dropped so far",
                self._role,
                kind,
                dropped,
            )
        return False

    async def close(self) -> None:
        """Stop taking frames, let the worker write what is queued and finalise. Idempotent."""
        self._queue.close()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    # --- worker thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                got = self._queue.get(timeout=self.batch_wait or 0.25)
                if got is not None:
                    kind, item = got
                    self._accept("audio" if kind == "audio" else "video", item)
                elif self._queue.exhausted:
                    break
                if self._muxer is None and self._pending and self._can_open():
                    self._open()
                self._maybe_flush()
            if self._muxer is None and self._pending:
                self._open()
        except Exception as exc:
            self._fail("recording", exc)
        finally:
            self._queue.close()
            self._finish()
            lost = [kind for kind, _ in self._pending]  # held back for a file never opened
            self._pending.clear()
            while (left := self._queue.get_nowait()) is not None:
                lost.append("audio" if left[0] == "audio" else "video")
            for kind in lost:
                self._stats.streams[kind].frames_dropped += 1

    def _accept(self, kind: Kind, item: Item) -> None:
        if self._broken:
            self._stats.streams[kind].frames_dropped += 1
            return
        if self._muxer is not None:
            self._write(kind, item)
            return
        if kind == "video" and sum(k == "video" for k, _ in self._pending) >= PENDING_VIDEO_LIMIT:
            self._stats.streams[kind].frames_dropped += 1
            return
        if self._first_pending is None:
            self._first_pending = item[1]
        self._pending.append((kind, item))

    def _can_open(self) -> bool:
        seen = {kind for kind, _ in self._pending}
        if self._kinds <= seen:
            return True
        if "video" not in self._kinds - seen or self._settings.width is not None:
            return True  # only audio (whose format is known) is missing
        assert self._first_pending is not None
        return self._now() - self._first_pending >= self._settings.open_wait

    def _open(self) -> None:
        settings = self._settings
        kinds = self._kinds | {kind for kind, _ in self._pending}
        muxer = Muxer(self.path, self._spec, metadata=self._metadata, fsync=settings.fsync)
        self._muxer = muxer

        # Every stream starts at the file's first frame: a player sees them begin together,
        # and MP4 readers (which report duration as end + start) get the duration right.
        start = min(item[1] for _, item in self._pending)
        self._stats.start = start
        if "video" in kinds:
            width, height = self._video_size()
            stream = muxer.add_video_stream(
                width=width,
                height=height,
                fps=settings.fps,
                bit_rate=settings.bitrate_for(width, height),
                keyframe_interval=settings.keyframe_interval,
            )
            self._video = VideoEncoder(
                stream, keyframe_interval=settings.keyframe_interval, start=start
            )
        if "audio" in kinds:
            default = 128_000 if self._spec.audio_codec == "aac" else 64_000
            audio = muxer.add_audio_stream(
                sample_rate=settings.sample_rate, bit_rate=settings.audio_bitrate or default
            )
            self._audio = AudioEncoder(audio, start=start)
        pending, self._pending = self._pending, []
        for kind, item in pending:
            self._write(kind, item)

    def _video_size(self) -> tuple[int, int]:
        width, height = self._settings.width, self._settings.height
        if width is None or height is None:
            first = next((item[0] for kind, item in self._pending if kind == "video"), None)
            if isinstance(first, VideoFrame):
                width, height = width or first.width, height or first.height
            else:
                width, height = width or FALLBACK_SIZE[0], height or FALLBACK_SIZE[1]
        # yuv420p needs even sizes
        return max(2, width - width % 2), max(2, height - height % 2)

    def _write(self, kind: Kind, item: Item) -> None:
        frame, t = item
        stream = self._stats.streams[kind]
        assert self._muxer is not None
        try:
            if isinstance(frame, VideoFrame) and self._video is not None:
                packets = self._video.encode(frame, t)
                end = self._video.last_time
                stream.filler_frames = self._video.filler_frames
            elif isinstance(frame, AudioFrame) and self._audio is not None:
                packets = self._audio.encode(frame, t)
                end = self._audio.end_time
                stream.silence_seconds = self._audio.silence_samples / self._settings.sample_rate
            else:
                stream.frames_dropped += 1
                self._log_once(
                    kind,
                    f"{kind} frames dropped: the file was opened without a "
                    f"{kind} stream (its track started too late)",
                )
                return
            stream.packets_written += self._muxer.mux(packets)
        except Exception as exc:
            stream.frames_dropped += 1
            if isinstance(exc, OSError):
                self._broken = True  # the disk refused it: stop writing, keep what is there
            self._fail(f"writing {kind}", exc)
            return
        stream.frames_written += 1
        if end is not None:
            self._stats.end = max(self._stats.end or end, end)

    def _maybe_flush(self) -> None:
        if self._muxer is None:
            return
        now = self._now()
        if now - self._last_flush < self._settings.flush_interval:
            return
        self._last_flush = now
        try:
            self._muxer.sync()
        except OSError as exc:
            self._fail("syncing", exc)
        self._stats.bytes_written = size = self._muxer.size()
        self._check_space(size)
        self._check_growth(size, now)

    def _check_space(self, size: int) -> None:
        # Stop while the trailer still fits: a second of writing plus the reserve, or more.
        grown, self._bytes_at_flush = max(0, size - self._bytes_at_flush), size
        wanted = self._settings.reserve_bytes
        if self._broken or wanted <= 0:
            return
        free = _free_bytes(self.path.parent)
        if free is not None and free < max(wanted, 4 * grown):
            self._broken = True
            error = OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free // 1024} KiB free)")
            self._fail(f"writing ({size} bytes kept, finished while the trailer fits)", error)

    def _check_growth(self, size: int, now: float) -> None:
        # FFmpeg keeps muxing when the disk refuses its writes (the error stays inside its I/O
        # context and nothing raises), so a file that stops growing while packets keep coming
        # is how a full disk shows. Matroska writes a cluster every CHUNK_MS: a healthy file
        # never stands still for seconds while it is fed.
        packets = sum(s.packets_written for s in self._stats.streams.values())
        if size != self._size_seen:
            self._size_seen, self._grown_at, self._packets_at_growth = size, now, packets
            return
        if self._broken or self._grown_at is None:
            return
        if now - self._grown_at >= STALL_SECONDS and packets - self._packets_at_growth > 10:
            self._broken = True
            free = _free_bytes(self.path.parent)
            if free is not None and free < 1 << 20:
                error: OSError = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            else:
                error = OSError(errno.EIO, "the file stopped growing while frames were written")
            self._fail(f"writing ({size} bytes kept)", error)

    def _finish(self) -> None:
        muxer = self._muxer
        if muxer is None:
            return

        for kind, encoder in (("video", self._video), ("audio", self._audio)):
            if encoder is None:
                continue
            try:
                self._stats.streams[kind].packets_written += muxer.mux(encoder.flush())
            except Exception as exc:
                self._fail(f"flushing the {kind} encoder", exc)
        try:
            muxer.close()
        except Exception as exc:
            self._fail("writing the trailer", exc)
        self._stats.bytes_written = muxer.size()

    @property
    def failed(self) -> bool:
        """The file can take no more (the disk refused it); what was written is kept."""
        return self._broken

    def _fail(self, what: str, exc: Exception) -> None:
        if self._stats.error is None:
            self._stats.error = f"{what}: {exc!r}"
        self._log_once(what, f"{what} failed", exc)

    def _log_once(self, key: str, text: str, exc: Exception | None = None) -> None:
        """Log the first of each kind of trouble; the stats count the rest."""
        if key in self._warned:
            return
        self._warned.add(key)
        # One line at the default level (the CLI's promise); the traceback only when debugging.
        trace = exc if log.isEnabledFor(logging.DEBUG) else None
        detail = f": {exc}" if exc is not None and trace is None else ""
        log.error("recorder %s (%s): %s%s", self._role, self.path, text, detail, exc_info=trace)


def _free_bytes(directory: Path) -> int | None:
    try:
        info = os.statvfs(directory)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize
