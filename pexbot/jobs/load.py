"""The load job: N bots in one process, started at ``ramp`` per second, held, then all leave.

::

    job = LoadJob(target, LoadOptions(bots=10, ramp=2, duration=30))
    summary = await job.run(stop)     # dict: counts, join-time percentiles, failures, CPU, memory

Each bot is built by a *bot factory* (``factory(index, target, options) -> Bot``): the default,
:class:`MediaBot`, joins, starts a call sending the numbered pattern and/or tone (``media``:
``video``, ``audio`` or ``none`` for signalling only) and counts what it receives. Another
factory plugs in without touching the job.

With ``encoded`` (the default) the media is encoded once per process (:class:`SharedMedia`,
owned by the job: :mod:`media.shared_encoding`) and every bot's call sends those packets and
receives undecoded (``encoded_receive``), counting frames, keyframes and gaps from the payload
(:mod:`media.encoded_counter`; one keyframe in ``verify_every`` frames decoded to read the
pattern's number). A bot whose media stops for ``stall_after`` seconds after it had media
fails with ``MediaStalled``. The summary has each bot's media health.

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
from media.encoded_counter import EncodedCounterSink
from media.errors import SourceError
from media.shared_encoding import SharedCodec, SharedOpusEncoder, SharedVideoEncoder
from media.shared_file import SharedFile, SharedFileStream
from pexbot.errors import PexbotError

from .event_loop import loop_in_use
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
    width: int = 640
    height: int = 360
    fps: float = 15.0
    name_prefix: str = "pexbot-load"
    #: shared encoded media out, undecoded media in (False: an encoder and decoder per bot)
    encoded: bool = True
    codec: SharedCodec = "vp8"
    verify_every: int = 150  # decode one keyframe per this many video frames (0: never)
    stall_after: float = 5.0  # seconds without media, after some came: MediaStalled
    #: send this file's VP8/H.264 + Opus packets as they are, looped (``codec`` must be the
    #: file's); None: the numbered pattern and the tone, encoded once per process
    media_file: str | None = None

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
    #: media health (encoded bots): per kind fps, plus losses, NACKs, keyframes, staleness
    health: dict[str, Any] | None = None


class Bot(Protocol):
    record: BotRecord

    async def run(self, stop: asyncio.Event) -> None:
        """Join, stay until ``stop`` (or the node ends it), leave. Failures go in ``record``."""
        ...


BotFactory = Callable[[int, JoinTarget, LoadOptions], Bot]


class SharedMedia:
    """The encoders a load process shares (one per option set), owned by whoever made it."""

    def __init__(self, options: LoadOptions) -> None:
        self.audio: SharedOpusEncoder | SharedFileStream
        self.video: SharedVideoEncoder | SharedFileStream | None = None
        if options.media_file is not None:
            file = SharedFile(options.media_file)
            if file.video is not None and file.codec != options.codec:
                raise SourceError(
                    f"{options.media_file} holds {file.codec} video, the bots send {options.codec}"
                )
            self.audio = file.audio or SharedOpusEncoder()
            self.video = file.video if options.media == "video" else None
            return
        self.audio = SharedOpusEncoder()
        if options.media == "video":
            self.video = SharedVideoEncoder(
                options.codec, options.width, options.height, options.fps
            )

    def figures(self) -> dict[str, Any]:
        video = self.video
        return {
            "video_frames_encoded": video.frames if video else 0,
            "video_keyframes": video.keyframes if video else 0,
            "video_keyframe_requests": video.requests if video else 0,
            "encode_ms_per_frame": round(1000 * video.encode_seconds / max(video.frames, 1), 2)
            if video
            else None,
            "audio_frames_encoded": self.audio.frames,
        }

    async def aclose(self) -> None:
        await self.audio.aclose()
        if self.video is not None:
            await self.video.aclose()


class MediaBot:
    """The default bot: a session and, unless ``media == "none"``, a call (see module doc)."""

    def __init__(
        self,
        index: int,
        target: JoinTarget,
        options: LoadOptions,
        *,
        shared: SharedMedia | None = None,
    ) -> None:
        self.record = BotRecord(index)
        self._target = target
        self._options = options
        self._sink = DiscardSink()
        self._counter = EncodedCounterSink(verify_every=options.verify_every)
        self._shared = shared
        self._stalled = asyncio.Event()
        self._call: Any = None

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
                ended = [session.ended, self._stalled]
                watcher: asyncio.Task[None] | None = None
                if opts.media != "none":
                    audio, video = self._sources(tracks)
                    call = await session.call(
                        audio=audio,
                        video=video,
                        on_track=self._track,
                        media_type="video" if opts.media == "video" else "audio",
                        video_codec=opts.codec,
                        encoded_receive=opts.encoded,
                        fast_rtp=opts.encoded,
                    )
                    self._call = call
                    ended.append(call.ended)
                    watcher = session.spawn(self._watch_media(started), name="pexbot-load-media")
                why = await until_end(duration=None, stop=stop, ended=ended)
                if self._stalled.is_set():
                    pass  # failed already
                elif why == "ended":
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
            if self._own_shared is not None:
                await self._own_shared.aclose()
            self._update_health()
            await self._sink.close()
            await self._counter.close()
            record.frames = self._frames()
            if record.failure is None:
                record.state = "left"

    _own_shared: SharedMedia | None = None

    def _sources(
        self, tracks: list[MediaStreamTrack]
    ) -> tuple[MediaStreamTrack, MediaStreamTrack | None]:
        opts = self._options
        video: MediaStreamTrack | None = None
        if opts.encoded:
            shared = self._shared
            if shared is None:  # made outside a LoadJob: this bot's own encoders
                shared = self._own_shared = SharedMedia(opts)
            audio: MediaStreamTrack = shared.audio.track()
            if shared.video is not None:
                video = shared.video.track()
        else:
            audio = ToneAudioSource()
            if opts.media == "video":
                video = PatternVideoSource(opts.width, opts.height, fps=opts.fps)
        tracks.append(audio)
        if video is not None:
            tracks.append(video)
        return audio, video

    def _track(self, role: str, track: MediaStreamTrack) -> None:
        if self._options.encoded:
            self._counter.add_track(track, role=role)
        else:
            self._sink.add_track(track, role=role)

    async def _watch_media(self, started: float) -> None:
        if self._options.encoded:
            await self._counter.wait_for(1)
        else:
            await self._sink.wait_for(1)
        self.record.media_s = time.monotonic() - started
        if self.record.state == "joined":
            self.record.state = "media"
        while True:  # keep the count current for the progress table and metrics
            self.record.frames = self._frames()
            self._update_health()
            age = self._media_age()
            if age is not None and age > self._options.stall_after:
                self._fail(
                    "MediaStalled", f"no media for {age:.1f} s after {self._frames()} frames"
                )
                self._stalled.set()
                return
            await asyncio.sleep(1.0)

    def _media_age(self) -> float | None:
        """Seconds since the freshest kind last had a frame (video if sent, else audio)."""
        if not self._options.encoded:
            return None
        now = time.monotonic()
        kind = "video" if self._options.media == "video" else "audio"
        ages = [c.age(now) for (_, k), c in self._counter.counts.items() if k == kind]
        known = [a for a in ages if a is not None]
        return min(known) if known else None

    def _update_health(self) -> None:
        if not self._options.encoded:
            return
        now = time.monotonic()
        health: dict[str, Any] = {}
        for (role, kind), count in self._counter.counts.items():
            if role != "main":
                continue
            age = count.age(now)
            health[kind] = {
                "frames": count.frames,
                "fps": round(count.fps(), 1),
                "kbps": round(
                    8
                    * count.bytes
                    / max((count.last_at or now) - (count.first_at or now), 1e-3)
                    / 1000,
                    1,
                ),
                "keyframes": count.keyframes,
                "gaps": count.gaps,
                "verified": count.verified,
                "last_number": count.last_number,
                "unreadable": count.unreadable,
                "undecodable": count.undecodable,
                "last_frame_age_s": None if age is None else round(age, 2),
            }
        call = self._call
        if call is not None:
            for role, kind in (("audio", "audio"), ("video", "video")):
                counter = call.media.counters[role]
                entry = health.setdefault(kind, {})
                entry.update(
                    packets=counter.packets,
                    lost=counter.lost,
                    nacks=counter.nacks,
                    plis=counter.plis,
                )
            health["rtp"] = {"fast_packets": call.fast_packets}
        self.record.health = health

    def _frames(self) -> int:
        if self._options.encoded:
            return self._counter.frames()
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
        factory: BotFactory | None = None,
        on_progress: Callable[[LoadJob], None] | None = None,
        metrics: MetricsRegistry | None = None,
        progress_every: float = 0.5,
    ) -> None:
        self.target = target
        self.options = options
        self._factory = factory
        #: the encoders the default bots share; made in run(), closed at its end
        self.shared: SharedMedia | None = None
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
        if self._factory is None and self.options.encoded and self.options.media != "none":
            self.shared = SharedMedia(self.options)
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
            if self.shared is not None:
                await self.shared.aclose()
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
            if self._factory is None:
                bot: Bot = MediaBot(index + 1, self.target, self.options, shared=self.shared)
            else:
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
            "loop": loop_in_use(),
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
            **self._media_summary(records),
        }

    def _media_summary(self, records: list[BotRecord]) -> dict[str, Any]:
        """Media health over the bots, and per bot (encoded bots only)."""
        healths = [(r.index, r.health) for r in records if r.health]
        if not healths:
            return {}
        out: dict[str, Any] = {"encoded": True, "codec": self.options.codec}
        for kind in ("video", "audio"):
            entries = [h[kind] for _, h in healths if kind in h and "fps" in h[kind]]
            if not entries:
                continue
            out[f"{kind}_fps"] = summary([float(e["fps"]) for e in entries], digits=1)
            out[f"{kind}_lost"] = sum(int(e.get("lost", 0)) for e in entries)
            out[f"{kind}_nacks"] = sum(int(e.get("nacks", 0)) for e in entries)
            out[f"{kind}_gaps"] = sum(int(e.get("gaps", 0)) for e in entries)
            if kind == "video":
                out["video_keyframes"] = sum(int(e.get("keyframes", 0)) for e in entries)
                out["video_verified"] = sum(int(e.get("verified", 0)) for e in entries)
                out["video_unreadable"] = sum(int(e.get("unreadable", 0)) for e in entries)
                out["video_undecodable"] = sum(int(e.get("undecodable", 0)) for e in entries)
        received = sum(
            int(h[k].get("packets", 0)) for _, h in healths for k in ("audio", "video") if k in h
        )
        fast = sum(int(h.get("rtp", {}).get("fast_packets", 0)) for _, h in healths)
        #: share of received packets that took the RTP shortcut (pexbot.rtc.rtp_fast)
        out["rtp_fast_share"] = round(fast / received, 3) if received else None
        out["healthy"] = sum(1 for r in records if r.health and r.failure is None)
        if self.shared is not None:
            out["shared"] = self.shared.figures()
        out["per_bot"] = [{"bot": index, **health} for index, health in healths]
        return out


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
