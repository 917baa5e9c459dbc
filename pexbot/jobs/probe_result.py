"""What the probe measured (:class:`ProbeReport`), its time series, and the pass/fail rules
(:class:`Thresholds`). Pure: built from numbers, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel, Field


class VideoResult(BaseModel):
    frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    resolutions: list[str] = []
    freezes: int = 0
    freeze_total_ms: float = 0.0
    codes_read: int = 0  # distinct pattern frame numbers read
    own_codes: int = 0  # of those, numbers of our own pattern (it came back)
    latency_ms: dict[str, float | int] | None = None  # median, p95, min, max, mean, count


class AudioResult(BaseModel):
    seconds: float = 0.0
    level_dbfs: float | None = None
    tone_fraction: float = 0.0
    latency_ms: dict[str, float | int] | None = None


class NetworkResult(BaseModel):
    rx_kbps: float = 0.0  # average over the call
    tx_kbps: float = 0.0
    packets_received: int = 0
    packets_lost: int = 0
    loss_pct: float = 0.0
    loss_pct_by_kind: dict[str, float] = {}  # of the packets each kind expected
    jitter_ms: dict[str, float | None] = {}  # by kind, as the call ended (RFC 3550)
    #: by kind, the mean of the per-second samples past the first 3 s: the estimator's last
    #: value swings by several ms, this is what to compare with an expected figure
    jitter_mean_ms: dict[str, float] = {}
    #: RTCP round trip (our senders' reports, sampled each second): median, p95, min, max,
    #: mean, count over every sample of every kind
    rtt_ms: dict[str, float | int] | None = None
    #: half the median round trip: the one-way network latency of a symmetric path
    one_way_ms: float | None = None
    nacks_sent: int = 0  # NACK messages our receivers sent (packets asked again)
    nacked_packets: int = 0
    plis_sent: int = 0  # key frames asked for


class SentMedia(BaseModel):
    width: int
    height: int
    fps: float
    first_number: int  # the pattern's first frame number (ours are counted from it)


class ProbeReport(BaseModel):
    ok: bool = True
    failures: list[str] = []
    node: str
    alias: str
    embedded: bool = False
    reason: str = "duration"
    duration_s: float = 0.0  # of the measurement, from the call being up
    join_ms: float | None = None
    call_setup_ms: float | None = None
    first_frame_ms: float | None = None  # from asking for the call to the first picture
    first_audio_ms: float | None = None
    video: VideoResult = Field(default_factory=VideoResult)
    audio: AudioResult = Field(default_factory=AudioResult)
    av_offset_ms: float | None = None
    network: NetworkResult = Field(default_factory=NetworkResult)
    sent: SentMedia | None = None
    thresholds: dict[str, float] = {}


#: name → (title of the chart it belongs to, unit, label in the chart); the HTML report draws them
SERIES: dict[str, tuple[str, str, str]] = {
    "fps": ("Frame rate", "frames/s", "received"),
    "video_latency_ms": ("Latency", "ms", "video"),
    "audio_latency_ms": ("Latency", "ms", "audio"),
    "rx_kbps": ("Bitrate", "kbit/s", "received"),
    "tx_kbps": ("Bitrate", "kbit/s", "sent"),
    "loss_pct": ("Packet loss", "%", "lost"),
    "video_jitter_ms": ("Jitter", "ms", "video"),
    "audio_jitter_ms": ("Jitter", "ms", "audio"),
    "rtt_ms": ("Round trip (RTCP)", "ms", "round trip"),
    "audio_level_dbfs": ("Audio level", "dBFS", "received"),
    "tone_fraction": ("Tone present", "share of 10 ms blocks", "received"),
}

Series = dict[str, list[tuple[float, float]]]


def add_point(series: Series, name: str, t: float, value: float | None) -> None:
    """Append ``(t, value)`` to the named series (None values are gaps: not drawn)."""
    if name not in SERIES:
        raise KeyError(f"unknown series {name!r}")
    if value is not None:
        series.setdefault(name, []).append((round(t, 3), round(float(value), 3)))


@dataclass(frozen=True)
class Thresholds:
    """Limits the probe checks; None means not checked. A limit on something that could not be
    measured (no latency because no pattern came back) fails too."""

    min_fps: float | None = None
    max_latency_ms: float | None = None
    max_loss_pct: float | None = None
    max_freezes: int | None = None
    max_join_ms: float | None = None
    max_first_frame_ms: float | None = None
    max_jitter_ms: float | None = None
    min_audio_dbfs: float | None = None
    max_av_offset_ms: float | None = None

    def given(self) -> dict[str, float]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def _latency(summary: dict[str, float | int] | None) -> float | None:
    return None if summary is None else summary.get("median")


def evaluate(report: ProbeReport, limits: Thresholds) -> list[str]:
    """One sentence per limit not met (empty: the probe passed)."""
    jitters = [j for j in report.network.jitter_ms.values() if j is not None]
    measured: dict[str, float | None] = {
        "min_fps": report.video.fps if report.video.frames else None,
        "max_latency_ms": _latency(report.video.latency_ms),
        "max_loss_pct": report.network.loss_pct,
        "max_freezes": float(report.video.freezes) if report.video.frames else None,
        "max_join_ms": report.join_ms,
        "max_first_frame_ms": report.first_frame_ms,
        "max_jitter_ms": max(jitters) if jitters else None,
        "min_audio_dbfs": report.audio.level_dbfs,
        "max_av_offset_ms": None if report.av_offset_ms is None else abs(report.av_offset_ms),
    }
    labels = {
        "min_fps": "fps",
        "max_latency_ms": "video latency (median, ms)",
        "max_loss_pct": "packet loss (%)",
        "max_freezes": "freezes",
        "max_join_ms": "join time (ms)",
        "max_first_frame_ms": "time to first frame (ms)",
        "max_jitter_ms": "jitter (ms)",
        "min_audio_dbfs": "audio level (dBFS)",
        "max_av_offset_ms": "A/V offset (|ms|)",
    }
    failures = []
    for name, limit in limits.given().items():
        value = measured[name]
        label = labels[name]
        option = "--" + name.replace("_", "-")
        if value is None:
            failures.append(f"{label} not measured ({option} {_num(limit)})")
        elif name.startswith("min_") and value < limit:
            failures.append(f"{label} {_num(value)} < {option} {_num(limit)}")
        elif name.startswith("max_") and value > limit:
            failures.append(f"{label} {_num(value)} > {option} {_num(limit)}")
    return failures


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def jsonable_report(report: ProbeReport) -> dict[str, Any]:
    return report.model_dump(mode="json")
