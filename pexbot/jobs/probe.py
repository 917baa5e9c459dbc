"""The probe job: join, send the test pattern and tone, measure what comes back.

::

    job = ProbeJob(target, ProbeOptions(duration=10, thresholds=Thresholds(min_fps=10)))
    report = await job.run(stop)      # a ProbeReport; report.ok against the thresholds
    job.series                        # what was measured over time (the HTML report's plots)

Measured: join time (``request_token`` to the first roster sync), call set-up, time to the first
picture and sound, frame rate, resolution, freezes, packet loss and jitter (RTP receiver
stats), the RTCP round trip and the NACKs and PLIs sent (:mod:`.probe_feedback`), bitrates, the
audio level and tone, and, when pattern codes are read from what comes back, end-to-end latency
and the A/V offset.

Two latencies, which differ: ``network.rtt_ms`` is the RTCP round trip (the path only; half its
median is ``network.one_way_ms``), ``video.latency_ms`` is the pattern's capture-to-arrival
time (in a test call: our picture there and back, through the node's decoder, compositor and
encoder, and our jitter buffer, which waits for a frame's last packet). The pattern's frame
numbers start at a random number so the probe can tell its own pattern (a test call loops it
back) from someone else's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media import Analyser, MediaClock, PatternVideoSource, ToneAudioSource
from media.analysis import LatencySummary, RoleReport
from media.pattern import FRAME_MOD
from media.sink import Kind
from pexbot.call.media_call import MediaCall

from .metrics import MetricsRegistry
from .probe_feedback import FeedbackCounter
from .probe_result import (
    AudioResult,
    NetworkResult,
    ProbeReport,
    SentMedia,
    Series,
    Thresholds,
    VideoResult,
    add_point,
    evaluate,
)
from .stats import RtpRates, RtpTotals, loss_pct, summary, totals_from_stats
from .target import JoinTarget, every, until_end


@dataclass(frozen=True)
class ProbeOptions:
    duration: float = 10.0
    width: int = 320
    height: int = 180
    fps: float = 15.0
    #: seconds between samples of the RTP counters (the plots' resolution)
    sample_every: float = 1.0
    thresholds: Thresholds = field(default_factory=Thresholds)


class NumberedPattern(PatternVideoSource):
    """The test pattern whose frame numbers count from ``first``."""

    def __init__(self, width: int, height: int, *, first: int, **options: Any) -> None:
        super().__init__(width, height, **options)
        self.first = first

    async def render(self, index: int, t: float) -> VideoFrame:
        return await super().render(self.first + index, t)


class _TimedAnalyser(Analyser):
    """An analyser that also notes when the first main picture and sound arrived."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.first_at: dict[Kind, float] = {}

    def on_frame(self, role: str, kind: Kind, frame: AudioFrame | VideoFrame) -> None:
        if role == "main" and kind not in self.first_at:
            self.first_at[kind] = time.monotonic()
        super().on_frame(role, kind, frame)


class ProbeJob:
    def __init__(
        self,
        target: JoinTarget,
        options: ProbeOptions | None = None,
        *,
        metrics: MetricsRegistry | None = None,
        rng: random.Random | None = None,
        on_sample: Callable[[ProbeJob], None] | None = None,
    ) -> None:
        self.target = target
        self.options = options or ProbeOptions()
        self.metrics = metrics or MetricsRegistry()
        self.series: Series = {}
        self._on_sample = on_sample
        self._first = (rng or random.Random()).randrange(FRAME_MOD // 2)
        self._analyser = _TimedAnalyser()
        self._call: MediaCall | None = None
        self._t0 = self._end = time.monotonic()
        self._totals: list[RtpTotals] = []
        self._rtts_seen = 0
        self.feedback = FeedbackCounter()
        _describe(self.metrics)

    async def run(self, stop: asyncio.Event | None = None) -> ProbeReport:
        opts = self.options
        report = ProbeReport(
            node=self.target.node,
            alias=self.target.alias,
            embedded=self.target.embedded,
            thresholds=opts.thresholds.given(),
            sent=SentMedia(
                width=opts.width, height=opts.height, fps=opts.fps, first_number=self._first
            ),
        )
        clock = (
            MediaClock()
        )  # one clock: pattern and tone in sync, so the A/V offset means something
        video = NumberedPattern(
            opts.width, opts.height, first=self._first, fps=opts.fps, clock=clock
        )
        audio = ToneAudioSource(clock=clock)
        try:
            started = time.monotonic()
            async with self.target.session(display_name=self.target.display_name) as session:
                report.join_ms = _ms(time.monotonic() - started)
                self.metrics.set("pexbot_bots_joined", 1)
                asked = time.monotonic()
                call = await session.call(audio=audio, video=video, on_track=self._track)
                self._call = call
                report.call_setup_ms = _ms(time.monotonic() - asked)
                self._t0 = time.monotonic()
                sampling = every(opts.sample_every, self._sample, what="probe sampling")
                sampler = session.spawn(sampling, name="pexbot-probe-sampler")
                ended = await until_end(
                    duration=opts.duration, stop=stop, ended=[session.ended, call.ended]
                )
                self._end = time.monotonic()
                report.duration_s = round(self._end - self._t0, 3)
                sampler.cancel()
                await self._sample()
                report.reason = ended
                if ended == "ended":
                    report.reason = (
                        f"ended: {session.end_reason or call.end_reason or 'by the node'}"
                    )
                for kind, at in self._analyser.first_at.items():
                    value = _ms(at - asked)
                    if kind == "video":
                        report.first_frame_ms = value
                    else:
                        report.first_audio_ms = value
        finally:
            self.metrics.set("pexbot_bots_joined", 0)
            await self._analyser.close()
            video.stop()
            audio.stop()
        self._fill(report)
        report.failures = evaluate(report, opts.thresholds)
        report.ok = not report.failures
        return report

    def _track(self, role: str, track: MediaStreamTrack) -> None:
        self._analyser.add_track(track, role=role)
        if self._call is not None:
            self.feedback.watch(self._call.pc)

    async def _sample(self) -> None:
        call = self._call
        if call is None or call.ended.is_set():
            return
        self.feedback.watch(call.pc)  # a restart brings new receivers
        stats = await call.pc.getStats()
        totals = totals_from_stats(stats, time.monotonic())
        t = totals.at - self._t0
        new = self.feedback.round_trips_ms[self._rtts_seen :]
        self._rtts_seen += len(new)
        if new:
            add_point(self.series, "rtt_ms", t, sum(new) / len(new))
        if self._totals:
            rates = RtpRates.between(self._totals[-1], totals)
            add_point(self.series, "rx_kbps", t, rates.rx_bps / 1000)
            add_point(self.series, "tx_kbps", t, rates.tx_bps / 1000)
            add_point(self.series, "loss_pct", t, rates.loss_pct)
            self.metrics.set("pexbot_rx_bitrate_bps", rates.rx_bps)
            self.metrics.set("pexbot_tx_bitrate_bps", rates.tx_bps)
        for kind, k in totals.kinds.items():
            add_point(self.series, f"{kind}_jitter_ms", t, k.jitter_ms)
        self._totals.append(totals)
        main = self._analyser.report().roles.get("main")
        if main is not None and main.video is not None:
            self.metrics.set("pexbot_media_flowing", 1)
            self.metrics.set("pexbot_video_fps", main.video.fps)
            self.metrics.set("pexbot_video_frames_total", main.video.frames)
        self.metrics.set("pexbot_packets_lost_total", totals.packets_lost)
        if self._on_sample is not None:
            self._on_sample(self)

    def _fill(self, report: ProbeReport) -> None:
        main = self._analyser.report().roles.get("main") or RoleReport(seconds=[])
        if main.video is not None:
            v = main.video
            own = sum(
                max(0, min(hi, self._first + FRAME_MOD // 2) - max(lo, self._first) + 1)
                for lo, hi in v.number_ranges
            )
            report.video = VideoResult(
                frames=v.frames,
                fps=v.fps,
                width=v.width,
                height=v.height,
                resolutions=v.resolutions,
                freezes=v.freezes,
                freeze_total_ms=v.freeze_total_ms,
                codes_read=v.numbers_read,
                own_codes=own,
                latency_ms=_latency(v.latency),
            )
        if main.audio is not None:
            a = main.audio
            report.audio = AudioResult(
                seconds=a.seconds,
                level_dbfs=a.level_dbfs if a.seconds > 0 else None,
                tone_fraction=a.tone_fraction,
                latency_ms=_latency(a.latency),
            )
        report.av_offset_ms = main.av_offset_ms
        # Per-second series from the analyser, on the probe's time axis.
        shift = self._analyser_start_offset()
        end = self._end - self._t0
        for second in main.seconds:
            t = second.second + 0.5 - shift
            if t < 0 or t + 0.5 > end + 0.05:
                continue  # mostly before the call was up, or cut short by the end
            add_point(self.series, "fps", t, second.video_frames)
            add_point(self.series, "video_latency_ms", t, second.video_latency_ms)
            add_point(self.series, "audio_latency_ms", t, second.audio_latency_ms)
            add_point(self.series, "audio_level_dbfs", t, second.audio_level_dbfs)
            add_point(self.series, "tone_fraction", t, second.tone_fraction)
        report.network = self._network()

    def _analyser_start_offset(self) -> float:
        """Seconds from the analyser's start to the probe's ``t = 0`` (the call being up)."""
        return self._t0 - (time.monotonic() - self._analyser.report().elapsed_s)

    def _jitter_means(self) -> dict[str, float]:
        out = {}
        for kind in ("audio", "video"):
            mean = _mean_after(self.series.get(f"{kind}_jitter_ms", []), 3.0)
            if mean is not None:
                out[kind] = mean
        return out

    def _network(self) -> NetworkResult:
        if len(self._totals) < 2:
            last = self._totals[-1] if self._totals else None
            return NetworkResult(
                packets_received=last.packets_received if last else 0,
                packets_lost=last.packets_lost if last else 0,
                loss_pct=last.loss_pct if last else 0.0,
            )
        first, last = self._totals[0], self._totals[-1]
        whole = RtpRates.between(first, last)
        rtt = summary(self.feedback.round_trips_ms)
        return NetworkResult(
            rx_kbps=round(whole.rx_bps / 1000, 1),
            tx_kbps=round(whole.tx_bps / 1000, 1),
            packets_received=last.packets_received,
            packets_lost=last.packets_lost,
            loss_pct=last.loss_pct,
            loss_pct_by_kind={
                kind: loss_pct(k.packets_lost, k.packets_received)
                for kind, k in sorted(last.kinds.items())
            },
            jitter_ms={kind: k.jitter_ms for kind, k in sorted(last.kinds.items())},
            jitter_mean_ms=self._jitter_means(),
            rtt_ms=_rtt(rtt),
            one_way_ms=None if rtt is None else round(float(rtt["p50"]) / 2, 1),
            nacks_sent=self.feedback.nacks,
            nacked_packets=self.feedback.nacked_packets,
            plis_sent=self.feedback.plis,
        )


def _mean_after(points: list[tuple[float, float]], start: float) -> float | None:
    values = [v for t, v in points if t >= start]
    return round(sum(values) / len(values), 2) if values else None


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def _latency(summary: LatencySummary | None) -> dict[str, float | int] | None:
    if summary is None:
        return None
    return {
        "median": summary.median_ms,
        "p95": summary.p95_ms,
        "min": summary.min_ms,
        "max": summary.max_ms,
        "mean": summary.mean_ms,
        "count": summary.count,
    }


def _rtt(values: dict[str, float | int] | None) -> dict[str, float | int] | None:
    if values is None:
        return None
    names = {"p50": "median", "p90": "p90", "min": "min", "max": "max", "mean": "mean"}
    out = {names[k]: v for k, v in values.items() if k in names}
    out["count"] = values["count"]
    return out


def _describe(m: MetricsRegistry) -> None:
    m.describe("pexbot_bots_joined", "bots in the conference")
    m.describe("pexbot_media_flowing", "1 once pictures arrive")
    m.describe("pexbot_rx_bitrate_bps", "received bitrate, bits per second")
    m.describe("pexbot_tx_bitrate_bps", "sent bitrate, bits per second")
    m.describe("pexbot_video_fps", "received frame rate")
    m.describe("pexbot_video_frames_total", "pictures received", "counter")
    m.describe("pexbot_packets_lost_total", "RTP packets lost", "counter")
    m.set("pexbot_bots_joined", 0)
