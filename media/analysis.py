"""Pure accumulators behind :class:`media.analyser.Analyser`, and the report they produce.

Fed with ``now`` (monotonic seconds since the analyser started) and wall-clock milliseconds,
never reading a clock themselves, so they are tested without tracks or sockets.

Latency: a pattern code carries its capture time (wall ms, 32 bits), so video latency is the
arrival wall time minus that, modulo 2**32. Tone markers start on multiples of the tone period
of the capture wall clock, so audio latency is the arrival time of a marker onset modulo the
period (unambiguous while latency stays below one period, less a 100 ms margin for early
readings). The A/V offset of a role is median audio latency minus median video latency:
positive when audio arrives later than the picture taken at the same time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from .pattern import FRAME_MOD, Code
from .tone import ToneDetector, ToneSpec, level_dbfs

MAX_SAMPLES = 20000  # latency samples kept per role and kind


class LatencySummary(BaseModel):
    count: int
    mean_ms: float
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float


class SecondStats(BaseModel):
    """One second of one role, counted from the analyser's start."""

    second: int
    video_frames: int = 0
    codes_read: int = 0
    video_latency_ms: float | None = None
    audio_level_dbfs: float | None = None
    tone_fraction: float | None = None
    audio_latency_ms: float | None = None


class VideoReport(BaseModel):
    frames: int
    fps: float
    width: int
    height: int
    resolutions: list[str]
    freezes: int
    freeze_total_ms: float
    frozen_for_ms: float  # how long the picture has not changed at report time
    frames_analysed: int
    frames_not_analysed: int  # dropped because the decode worker was busy
    frames_with_code: int
    numbers_read: int  # distinct frame numbers
    number_ranges: list[tuple[int, int]]
    numbers_missing: int  # inside the lowest..highest number read
    latency: LatencySummary | None


class AudioReport(BaseModel):
    frames: int
    seconds: float
    level_dbfs: float
    tone_fraction: float  # share of 10 ms blocks carrying the tone
    markers: int
    latency: LatencySummary | None


class RoleReport(BaseModel):
    video: VideoReport | None = None
    audio: AudioReport | None = None
    av_offset_ms: float | None = None
    seconds: list[SecondStats]


class AnalyserReport(BaseModel):
    elapsed_s: float
    roles: dict[str, RoleReport]


def summarise(values: deque[float] | list[float]) -> LatencySummary | None:
    if not values:
        return None
    data = np.asarray(values, np.float64)
    return LatencySummary(
        count=data.size,
        mean_ms=round(float(data.mean()), 2),
        median_ms=round(float(np.median(data)), 2),
        p95_ms=round(float(np.percentile(data, 95)), 2),
        min_ms=round(float(data.min()), 2),
        max_ms=round(float(data.max()), 2),
    )


def ranges(numbers: set[int]) -> list[tuple[int, int]]:
    """Sorted numbers as inclusive (first, last) runs."""
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def wrap_diff(a: int, b: int, modulus: int) -> int:
    """``a - b`` in (-modulus/2, modulus/2]."""
    d = (a - b) % modulus
    return d - modulus if d > modulus // 2 else d


@dataclass
class _Bucket:
    video_frames: int = 0
    codes: int = 0
    video_latency_sum: float = 0.0
    video_latency_n: int = 0
    audio_sum_squares: float = 0.0
    audio_samples: int = 0
    tone_blocks: int = 0
    blocks: int = 0
    audio_latency_sum: float = 0.0
    audio_latency_n: int = 0

    def to_stats(self, second: int) -> SecondStats:
        return SecondStats(
            second=second,
            video_frames=self.video_frames,
            codes_read=self.codes,
            video_latency_ms=_mean(self.video_latency_sum, self.video_latency_n),
            audio_level_dbfs=(
                round(level_dbfs(self.audio_sum_squares, self.audio_samples), 2)
                if self.audio_samples
                else None
            ),
            tone_fraction=round(self.tone_blocks / self.blocks, 3) if self.blocks else None,
            audio_latency_ms=_mean(self.audio_latency_sum, self.audio_latency_n),
        )


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 2) if n else None


class RoleStats:
    """Everything measured for one role (main, presentation, ...)."""

    def __init__(self, *, tone: ToneSpec, freeze_ms: float) -> None:
        self.video = VideoStats(self, freeze_ms=freeze_ms)
        self.audio = AudioStats(self, tone=tone)
        self.buckets: dict[int, _Bucket] = {}

    def bucket(self, now: float) -> _Bucket:
        second = max(0, int(now))
        found = self.buckets.get(second)
        if found is None:
            found = self.buckets[second] = _Bucket()
        return found

    def report(self, now: float) -> RoleReport:
        video = self.video.report(now) if self.video.frames else None
        audio = self.audio.report() if self.audio.frames else None
        offset = None
        if self.video.latencies and self.audio.latencies:
            offset = float(np.median(self.audio.latencies) - np.median(self.video.latencies))
            offset = round(offset, 2)
        seconds = [b.to_stats(s) for s, b in sorted(self.buckets.items())]
        return RoleReport(video=video, audio=audio, av_offset_ms=offset, seconds=seconds)


class VideoStats:
    def __init__(self, role: RoleStats, *, freeze_ms: float) -> None:
        self._role = role
        self.freeze_ms = freeze_ms
        self.frames = 0
        self.first_at: float | None = None
        self.last_at = 0.0
        self.size = (0, 0)
        self.resolutions: list[str] = []
        self._signature: npt.NDArray[np.int16] | None = None
        self._changed_at = 0.0
        self.freezes = 0
        self.freeze_total_ms = 0.0
        self.analysed = 0
        self.not_analysed = 0
        self.with_code = 0
        self.numbers: set[int] = set()
        self.latencies: deque[float] = deque(maxlen=MAX_SAMPLES)

    def on_frame(
        self, now: float, width: int, height: int, signature: npt.NDArray[np.int16]
    ) -> None:
        """A frame arrived; ``signature`` is a subsampled luma used to spot repeated pictures."""
        self.frames += 1
        self._role.bucket(now).video_frames += 1
        if self.first_at is None:
            self.first_at = self._changed_at = now
        self.last_at = now
        if (width, height) != self.size:
            self.size = (width, height)
            self.resolutions.append(f"{width}x{height}")
        previous, self._signature = self._signature, signature
        same = (
            previous is not None
            and previous.shape == signature.shape
            and float(np.mean(np.abs(previous - signature))) < 1.0
        )
        if not same:
            still_ms = (now - self._changed_at) * 1000.0
            if still_ms > self.freeze_ms:
                self.freezes += 1
                self.freeze_total_ms += still_ms
            self._changed_at = now

    def on_codes(self, arrived: float, arrived_wall_ms: float, codes: list[Code]) -> None:
        self.analysed += 1
        if not codes:
            return
        self.with_code += 1
        bucket = self._role.bucket(arrived)
        for code in codes:
            self.numbers.add(code.number % FRAME_MOD)
            latency = wrap_diff(int(arrived_wall_ms), code.timestamp_ms, 1 << 32)
            self.latencies.append(float(latency))
            bucket.codes += 1
            bucket.video_latency_sum += latency
            bucket.video_latency_n += 1

    def report(self, now: float) -> VideoReport:
        span = self.last_at - (self.first_at or 0.0)
        fps = (self.frames - 1) / span if span > 0 else 0.0
        lo, hi = (min(self.numbers), max(self.numbers)) if self.numbers else (0, -1)
        frozen_for = (now - self._changed_at) * 1000.0
        return VideoReport(
            frames=self.frames,
            fps=round(fps, 2),
            width=self.size[0],
            height=self.size[1],
            resolutions=self.resolutions,
            freezes=self.freezes,
            freeze_total_ms=round(self.freeze_total_ms, 1),
            frozen_for_ms=round(frozen_for, 1) if frozen_for > self.freeze_ms else 0.0,
            frames_analysed=self.analysed,
            frames_not_analysed=self.not_analysed,
            frames_with_code=self.with_code,
            numbers_read=len(self.numbers),
            number_ranges=ranges(self.numbers),
            numbers_missing=hi - lo + 1 - len(self.numbers),
            latency=summarise(self.latencies),
        )


class AudioStats:
    def __init__(self, role: RoleStats, *, tone: ToneSpec) -> None:
        self._role = role
        self.detector = ToneDetector(tone)
        self.frames = 0
        self.samples = 0
        self.sum_squares = 0.0
        self.blocks = 0
        self.tone_blocks = 0
        self.markers = 0
        self.latencies: deque[float] = deque(maxlen=MAX_SAMPLES)

    def on_frame(self, now: float, arrived_wall_ms: float, mono: npt.NDArray[np.float64]) -> None:
        """Mono samples in [-1, 1] that arrived (the last of them) at ``arrived_wall_ms``."""
        chunk = self.detector.feed(mono)
        self.frames += 1
        self.samples += chunk.samples
        self.sum_squares += chunk.sum_squares
        self.blocks += chunk.blocks
        self.tone_blocks += chunk.tone_blocks
        bucket = self._role.bucket(now)
        bucket.audio_sum_squares += chunk.sum_squares
        bucket.audio_samples += chunk.samples
        bucket.blocks += chunk.blocks
        bucket.tone_blocks += chunk.tone_blocks
        spec = self.detector.spec
        for onset in chunk.markers:
            behind_ms = (self.detector.samples_fed - onset) * 1000.0 / spec.sample_rate
            latency = _marker_latency(arrived_wall_ms - behind_ms, spec.period_ms)
            self.markers += 1
            self.latencies.append(latency)
            bucket.audio_latency_sum += latency
            bucket.audio_latency_n += 1

    def report(self) -> AudioReport:
        return AudioReport(
            frames=self.frames,
            seconds=round(self.samples / self.detector.spec.sample_rate, 3),
            level_dbfs=round(level_dbfs(self.sum_squares, self.samples), 2),
            tone_fraction=round(self.tone_blocks / self.blocks, 3) if self.blocks else 0.0,
            markers=self.markers,
            latency=summarise(self.latencies),
        )


def _marker_latency(onset_wall_ms: float, period_ms: int) -> float:
    latency = math.fmod(onset_wall_ms, period_ms)
    if latency > period_ms - 100:
        latency -= period_ms
    return round(latency, 2)
