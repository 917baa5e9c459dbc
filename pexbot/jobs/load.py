"""The load job: N bots in one process, started at ``ramp`` per second, held, then all leave.

::

    job = LoadJob(target, LoadOptions(bots=10, ramp=2, duration=30))
    summary = await job.run(stop)     # dict: counts, join-time percentiles, failures, CPU, memory

Each bot is built by a *bot factory* (``factory(index, target, options) -> Bot``): the default,
:class:`MediaBot`, joins, starts a call sending a small test pattern and/or tone (``media``:
``video``, ``audio`` or ``none`` for signalling only) and counts what it receives. Another
factory (one sharing a pre-encoded stream, say) plugs in without touching the job.

``duration`` counts from the moment the last bot was started: the ramp, then the hold (which
also ends when no bot is left: all failed or were ended by the node). Bots that fail are
counted by reason (the error's type) with one example message. CPU and memory
are the whole process's (with no ``--node`` that includes the in-process emulator), measured
from before the first bot to the end of the hold, divided by the bots that joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiortc.mediastreams import MediaStreamTrack

from media import DiscardSink, PatternVideoSource, ToneAudioSource
from pexbot.errors import PexbotError

from .metrics import MetricsRegistry
from .stats import ProcessUsage, process_usage, summary
from .target import JoinTarget, until_end

log = logging.getLogger(__name__)

BotMedia = Literal["video", "audio", "none"]
BotState = Literal["pending", "joining", "joined", "media", "failed", "left"]


@dataclass(frozen=True)
class LoadOptions:
    bots: int
    ramp: float = 1.0  # bots started per second
    duration: float | None = 10.0  # hold after the last start; None: until stopped
    media: BotMedia = "video"
    width: int = 160
    height: int = 90
    fps: float = 10.0
    name_prefix: str = "pexbot-load"

    def __post_init__(self) -> None:
        if self.bots < 1:
            raise ValueError(f"bots must be at least 1, got {self.bots}")
        if self.ramp <= 0:
            raise ValueError(f"ramp must be positive, got {self.ramp}")


@dataclass
class BotRecord:
    """What one bot did; the job reads these for the table and the summary."""

    index: int
    state: BotState = "pending"
    join_s: float | None = None  # request_token to first roster sync
    media_s: float | None = None  # start of the bot to its first received frame
    frames: int = 0  # received so far (all kinds)
    failure: str | None = None  # error type
    failure_message: str | None = None


class Bot(Protocol):
    record: BotRecord

    async def run(self, stop: asyncio.Event) -> None:
        """Join, stay until ``stop`` (or the node ends it), leave. Failures go in ``record``."""
        ...


BotFactory = Callable[[int, JoinTarget, LoadOptions], Bot]


class MediaBot:
    """The default bot: a session and, unless ``media == "none"``, a call (see module doc)."""

    def __init__(self, index: int, target: JoinTarget, options: LoadOptions) -> None:
        self.record = BotRecord(index)
        self._target = target
        self._options = options
        self._sink = DiscardSink()

    async def run(self, stop: asyncio.Event) -> None:
        record, opts = self.record, self._options
        record.state = "joining"
        started = time.monotonic()
        tracks: list[MediaStreamTrack] = []
        try:
            async with self._target.session(
                display_name=f"{opts.name_prefix}-{record.index}"
            ) as session:
                record.join_s = time.monotonic() - started
                record.state = "joined"
                ended = [session.ended]
                watcher: asyncio.Task[None] | None = None
                if opts.media != "none":
                    audio = ToneAudioSource()
                    tracks.append(audio)
                    video = None
                    if opts.media == "video":
                        video = PatternVideoSource(opts.width, opts.height, fps=opts.fps)
                        tracks.append(video)
                    call = await session.call(
                        audio=audio,
                        video=video,
                        on_track=self._track,
                        media_type="video" if opts.media == "video" else "audio",
                    )
                    ended.append(call.ended)
                    watcher = session.spawn(self._watch_media(started), name="pexbot-load-media")
                why = await until_end(duration=None, stop=stop, ended=ended)
                if why == "ended":
                    reason = session.end_reason or "the node ended the call"
                    self._fail("Ended", reason)
                if watcher is not None:
                    watcher.cancel()
        except PexbotError as exc:
            self._fail(type(exc).__name__, str(exc))
        except Exception as exc:  # one bot's bug must not stop the others
            log.warning("bot %d failed", record.index, exc_info=exc)
            self._fail(type(exc).__name__, str(exc))
        finally:
            for track in tracks:
                track.stop()
            await self._sink.close()
            record.frames = self._frames()
            if record.failure is None:
                record.state = "left"

    def _track(self, role: str, track: MediaStreamTrack) -> None:
        self._sink.add_track(track, role=role)

    async def _watch_media(self, started: float) -> None:
        await self._sink.wait_for(1)
        self.record.media_s = time.monotonic() - started
        if self.record.state == "joined":
            self.record.state = "media"
        while True:  # keep the count current for the progress table and metrics
            self.record.frames = self._frames()
            await asyncio.sleep(1.0)

    def _frames(self) -> int:
        return sum(c.frames for c in self._sink.counts.values())

    def _fail(self, kind: str, message: str) -> None:
        self.record.state = "failed"
        self.record.failure = kind
        self.record.failure_message = message


class LoadJob:
    def __init__(
        self,
        target: JoinTarget,
        options: LoadOptions,
        *,
        factory: BotFactory = MediaBot,
        on_progress: Callable[[LoadJob], None] | None = None,
        metrics: MetricsRegistry | None = None,
        progress_every: float = 0.5,
    ) -> None:
        self.target = target
        self.options = options
        self._factory = factory
        self._on_progress = on_progress
        self._progress_every = progress_every
        self.bots: list[Bot] = []
        self.started_at = time.monotonic()
        self._metrics = metrics
        if metrics is not None:
            _describe(metrics)

    @property
    def records(self) -> list[BotRecord]:
        return [bot.record for bot in self.bots]

    def counts(self) -> dict[str, int]:
        """target, started, joined (ever), media_flowing (ever), failed, left."""
        states = Counter(r.state for r in self.records)
        return {
            "target": self.options.bots,
            "started": len(self.bots),
            "joined": sum(1 for r in self.records if r.join_s is not None),
            "media_flowing": sum(1 for r in self.records if r.media_s is not None),
            "failed": states["failed"],
            "left": states["left"],
        }

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        stop = stop or asyncio.Event()
        leave = asyncio.Event()  # tells every bot to leave
        self.started_at = time.monotonic()
        before = process_usage()
        held: ProcessUsage | None = None
        reporter = asyncio.get_running_loop().create_task(self._report_forever())
        reason = "duration"
        try:
            async with asyncio.TaskGroup() as group:
                tasks: list[asyncio.Task[None]] = []
                ramp = group.create_task(self._ramp(group, tasks, leave, stop))
                await until_end(duration=None, stop=stop, ended=[_all_done(ramp)])
                # Hold, unless there is nobody left to hold (every bot failed or was ended).
                reason = await until_end(
                    duration=self.options.duration, stop=stop, ended=[_all_done(*tasks)]
                )
                held = process_usage()
                leave.set()
        finally:
            leave.set()
            reporter.cancel()
            await asyncio.wait({reporter})
            self._report()
        return self.summary(reason, before, held or process_usage())

    async def _ramp(
        self,
        group: asyncio.TaskGroup,
        tasks: list[asyncio.Task[None]],
        leave: asyncio.Event,
        stop: asyncio.Event,
    ) -> None:
        for index in range(self.options.bots):
            due = self.started_at + index / self.options.ramp
            delay = due - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()
            if stop.is_set():
                return
            bot = self._factory(index + 1, self.target, self.options)
            self.bots.append(bot)
            tasks.append(group.create_task(bot.run(leave), name=f"pexbot-load-bot-{index + 1}"))

    async def _report_forever(self) -> None:
        while True:
            self._report()
            await asyncio.sleep(self._progress_every)

    def _report(self) -> None:
        if self._metrics is not None:
            counts = self.counts()
            live = Counter(r.state for r in self.records)
            self._metrics.set("pexbot_bots_started", counts["started"])
            self._metrics.set("pexbot_bots_joined", live["joined"] + live["media"])
            self._metrics.set("pexbot_bots_media_flowing", live["media"])
            self._metrics.set("pexbot_errors_total", counts["failed"])
            self._metrics.set("pexbot_frames_total", sum(r.frames for r in self.records))
        if self._on_progress is not None:
            self._on_progress(self)

    def summary(self, reason: str, before: ProcessUsage, after: ProcessUsage) -> dict[str, Any]:
        records = self.records
        counts = self.counts()
        failures: dict[str, dict[str, Any]] = {}
        for r in records:
            if r.failure is not None:
                entry = failures.setdefault(r.failure, {"count": 0, "example": r.failure_message})
                entry["count"] += 1
        joined = max(counts["joined"], 1)
        cores = after.cpu_share_since(before)
        return {
            "bots": self.options.bots,
            **{k: v for k, v in counts.items() if k != "target"},
            "sends": self.options.media,
            "reason": reason,
            "node": self.target.node,
            "alias": self.target.alias,
            "embedded": self.target.embedded,
            "seconds": round(after.wall - self.started_at, 3),
            "join_ms": summary([r.join_s * 1000 for r in records if r.join_s is not None]),
            "first_media_ms": summary([r.media_s * 1000 for r in records if r.media_s is not None]),
            "failures": failures,
            "cpu": {
                "process_cores": round(cores, 3),
                "per_bot_pct": round(100.0 * cores / joined, 2),
            },
            "memory": {
                "rss_start_mb": _mb(before.rss_bytes),
                "rss_end_mb": _mb(after.rss_bytes),
                "peak_rss_mb": _mb(after.peak_rss_bytes),
                "per_bot_mb": _mb(max(after.rss_bytes - before.rss_bytes, 0) / joined),
            },
            "frames_received": summary([float(r.frames) for r in records], digits=0),
        }


def _mb(value: float) -> float:
    return round(value / 2**20, 1)


def _all_done(*tasks: asyncio.Task[Any]) -> asyncio.Event:
    """An event set once every one of ``tasks`` is done (at once if there are none)."""
    event = asyncio.Event()
    pending = set(tasks)

    def done(task: asyncio.Task[Any]) -> None:
        pending.discard(task)
        if not pending:
            event.set()

    if not pending:
        event.set()
    for task in tasks:
        task.add_done_callback(done)
    return event


def _describe(m: MetricsRegistry) -> None:
    m.describe("pexbot_bots_started", "bots started so far")
    m.describe("pexbot_bots_joined", "bots in the conference now")
    m.describe("pexbot_bots_media_flowing", "bots receiving media now")
    m.describe("pexbot_errors_total", "bots that failed", "counter")
    m.describe("pexbot_frames_total", "frames received by all bots", "counter")
