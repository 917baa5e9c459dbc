"""Play a media file (anything av reads) as an audio track and a video track, in real time.

One demuxer feeds both tracks, so they stay in sync: every frame gets a presentation time on
the source's :class:`~media.clock.MediaClock` and each track releases a frame when the clock
reaches it. Decoding and resampling run in a worker thread that keeps ``lookahead`` seconds
ahead of the clock; frames reach each track through a bounded buffer (the oldest goes if a
track is not being read). Nothing is decoded on the event loop.

Looping (``loop=True`` for ever, or ``loops=N`` plays) reopens the file and continues the
timestamps: play ``n`` starts where play ``n - 1`` ended (its last frame's end), so pts never
jump back. After the last play both tracks end; put a switchable track in front of a sender to
hide that.

Audio comes out as s16 at 48 kHz, mono or stereo, what aiortc's Opus encoder takes; video
keeps the decoder's format unless ``size`` asks for scaling to yuv420p.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

from .clock import AUDIO_SAMPLE_RATE, VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, MediaClock
from .errors import SourceError

log = logging.getLogger(__name__)

_EOF = object()
_AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_SAMPLE_RATE)


def probe(path: str | Path) -> tuple[bool, bool]:
    """(has audio, has video). Raises :class:`SourceError` if av cannot open the file."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio), bool(container.streams.video)
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open media file {path}: {exc}") from exc


class FileTrack(MediaStreamTrack):
    """One kind of a :class:`FileSource`. Ends (MediaStreamError) after the last play."""

    def __init__(self, source: FileSource, kind: str, *, max_frames: int) -> None:
        super().__init__()
        self.kind = kind
        self._source = source
        self._items: deque[Any] = deque(maxlen=max_frames)
        self._ready = asyncio.Event()
        self.frames_out = 0
        self.frames_dropped = 0
        self.last_pts: int | None = None

    def _push(self, item: Any) -> None:
        """Called on the event loop by the worker thread."""
        if len(self._items) == self._items.maxlen:
            self.frames_dropped += 1
        self._items.append(item)
        self._ready.set()

    async def recv(self) -> AudioFrame | VideoFrame:
        clock = self._source.clock
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            self._source._start()
            if not self._items:
                self._ready.clear()
                await self._ready.wait()
                continue
            item = self._items.popleft()
            if item is _EOF:
                self.stop()
                raise MediaStreamError
            due, frame = item
            late = clock.now() - due
            if late > self._source.late_drop and self._items and self._items[0] is not _EOF:
                self.frames_dropped += 1  # a reader that started late catches up, keeping sync
                continue
            await clock.sleep_until(due)
            if self.readyState != "live":
                raise MediaStreamError
            self.last_pts = frame.pts
            self.frames_out += 1
            return frame  # type: ignore[no-any-return]

    def stop(self) -> None:
        super().stop()
        self._ready.set()


class FileSource:
    """A file as ``.audio`` and ``.video`` tracks (None for a kind the file lacks)."""

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = False,
        loops: int | None = None,
        audio_layout: str = "stereo",
        size: tuple[int, int] | None = None,
        lookahead: float = 0.5,
        late_drop: float = 0.25,
        clock: MediaClock | None = None,
        on_loop: Callable[[int], None] | None = None,
        _probed: tuple[bool, bool] | None = None,
    ) -> None:
        if loops is not None and (loops < 1 or loop):
            raise ValueError(f"loops must be >= 1 and not combined with loop=True, got {loops}")
        if audio_layout not in ("mono", "stereo"):
            raise ValueError(f"audio_layout must be mono or stereo, got {audio_layout!r}")
        self.path = str(path)
        self.plays: int | None = None if loop else (loops or 1)
        self.audio_layout = audio_layout
        self.size = size
        self.lookahead = lookahead
        self.late_drop = late_drop
        self.clock = clock or MediaClock()
        self.on_loop = on_loop
        has_audio, has_video = _probed if _probed is not None else probe(path)
        if not (has_audio or has_video):
            raise SourceError(f"media file {path} has neither audio nor video")
        queue_len = int(lookahead * 100) + 50
        self.audio = FileTrack(self, "audio", max_frames=queue_len) if has_audio else None
        self.video = FileTrack(self, "video", max_frames=queue_len) if has_video else None
        self.loops_completed = 0
        self.loop_starts: list[float] = []  # stream time at which each play started
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, **options: Any) -> FileSource:
        """Like the constructor, but probes the file in a thread (for slow storage or URLs)."""
        probed = await asyncio.to_thread(probe, path)
        return cls(path, _probed=probed, **options)

    @property
    def tracks(self) -> list[FileTrack]:
        return [t for t in (self.audio, self.video) if t is not None]

    def _start(self) -> None:
        if self._thread is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self.clock.start()
        self._thread = threading.Thread(target=self._run, name="file-source", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Stop decoding, end both tracks, wait for the worker. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for track in self.tracks:
            track.stop()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    # --- worker thread ---------------------------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closing: nobody is listening
            self._loop.call_soon_threadsafe(callback, *args)

    def _deliver(self, track: FileTrack | None, due: float, frame: object) -> bool:
        """Hand a frame over once the clock is within ``lookahead``; False when stopping."""
        wait = due - self.lookahead - self.clock.now()
        if wait > 0 and self._stop.wait(wait):
            return False
        if track is not None:
            self._post(track._push, (due, frame))
        return not self._stop.is_set()

    def _looped(self, plays: int) -> None:
        self.loops_completed = plays
        if self.on_loop is not None:
            self.on_loop(plays)

    def _run(self) -> None:
        offset = 0.0
        plays = 0
        try:
            while not self._stop.is_set():
                self.loop_starts.append(offset)
                length = self._play_once(offset)
                if length is None:
                    break
                plays += 1
                self._post(self._looped, plays)
                if (self.plays is not None and plays >= self.plays) or length <= 0:
                    break
                offset += length
        except Exception as exc:
            self.error = exc
            log.exception("file source %s failed after %d plays", self.path, plays)
        finally:
            for track in self.tracks:
                self._post(track._push, _EOF)

    def _play_once(self, offset: float) -> float | None:
        """Decode the file once with presentation times from ``offset``; its length, or None."""
        with av.open(self.path) as container:
            video = container.streams.video[0] if self.video is not None else None
            audio = container.streams.audio[0] if self.audio is not None else None
            streams = [s for s in (video, audio) if s is not None]
            starts = [
                float(s.start_time * s.time_base)
                for s in streams
                if s.start_time is not None and s.time_base is not None
            ]
            play = _Play(offset, min(starts) if starts else 0.0, self.audio_layout)
            if video is not None and video.average_rate:
                play.frame_duration = 1.0 / float(video.average_rate)
            for packet in container.demux(streams):
                for frame in packet.decode():
                    if isinstance(frame, VideoFrame) and frame.time is not None:
                        due, out = play.video(self._prepare_video(frame), frame)
                        if not self._deliver(self.video, due, out):
                            return None
                    elif isinstance(frame, AudioFrame) and frame.time is not None:
                        for due, chunk in play.audio(frame):
                            if not self._deliver(self.audio, due, chunk):
                                return None
            if audio is not None:
                for due, chunk in play.audio(None):
                    if not self._deliver(self.audio, due, chunk):
                        return None
            return play.end

    def _prepare_video(self, frame: VideoFrame) -> VideoFrame:
        if self.size is None:
            return frame
        width, height = self.size
        return frame.reformat(width=width, height=height, format="yuv420p")


class _Play:
    """Presentation times for one play of the file, starting at stream time ``offset``."""

    def __init__(self, offset: float, base: float, layout: str) -> None:
        self.offset = offset
        self.base = base  # the file's own start time
        self.end = 0.0  # end of the last frame, relative to the play's start
        self.frame_duration = 0.04
        self._resampler = AudioResampler(format="s16", layout=layout, rate=AUDIO_SAMPLE_RATE)
        self._audio_start: float | None = None
        self._audio_samples = 0

    def video(self, out: VideoFrame, decoded: VideoFrame) -> tuple[float, VideoFrame]:
        rel = float(decoded.time or 0.0) - self.base
        due = self.offset + rel
        out.pts = round(due * VIDEO_CLOCK_RATE)
        out.time_base = VIDEO_TIME_BASE
        duration = self.frame_duration
        if decoded.duration and decoded.time_base:
            duration = float(decoded.duration * decoded.time_base)
        self.end = max(self.end, rel + duration)
        return due, out

    def audio(self, decoded: AudioFrame | None) -> list[tuple[float, AudioFrame]]:
        """Resampled chunks with contiguous pts; ``None`` flushes the resampler."""
        out: list[tuple[float, AudioFrame]] = []
        for chunk in self._resampler.resample(decoded):
            if self._audio_start is None:
                rel = float(decoded.time or 0.0) - self.base if decoded is not None else 0.0
                self._audio_start = max(rel, 0.0)
            start = self._audio_start + self._audio_samples / AUDIO_SAMPLE_RATE
            chunk.pts = round((self.offset + start) * AUDIO_SAMPLE_RATE)
            chunk.time_base = _AUDIO_TIME_BASE
            self._audio_samples += chunk.samples
            self.end = max(self.end, start + chunk.samples / AUDIO_SAMPLE_RATE)
            out.append((self.offset + start, chunk))
        return out
