"""Numbers the jobs report: percentiles, process CPU and memory, RTP counters and rates.

The summaries are pure (fed values and times); :func:`rtp_totals` and
:func:`process_usage` read aiortc's stats and the operating system.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: RTP clock rates pexbot negotiates (jitter is reported in these units)
CLOCK_RATES = {"audio": 48000, "video": 90000}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted or unsorted ``values``, linear interpolation."""
    if not values:
        raise ValueError("percentile of no values")
    data = sorted(values)
    rank = (len(data) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summary(values: Iterable[float], *, digits: int = 1) -> dict[str, float | int] | None:
    """count, min, p50, p90, p99, max and mean of ``values`` (None when there are none)."""
    data = list(values)
    if not data:
        return None
    out: dict[str, float | int] = {"count": len(data)}
    for key, value in (
        ("min", min(data)),
        ("p50", percentile(data, 50)),
        ("p90", percentile(data, 90)),
        ("p99", percentile(data, 99)),
        ("max", max(data)),
        ("mean", sum(data) / len(data)),
    ):
        out[key] = round(value, digits)
    return out


# -- the process -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessUsage:
    """CPU seconds used by the process (all threads) and its memory, at one moment."""

    wall: float  # time.monotonic()
    cpu_s: float
    rss_bytes: int
    peak_rss_bytes: int

    def cpu_share_since(self, earlier: ProcessUsage) -> float:
        """Cores used on average between ``earlier`` and this sample (1.0 = one full core)."""
        wall = self.wall - earlier.wall
        return (self.cpu_s - earlier.cpu_s) / wall if wall > 0 else 0.0


def process_usage() -> ProcessUsage:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_bytes = peak if sys.platform == "darwin" else peak * 1024
    return ProcessUsage(
        wall=time.monotonic(),
        cpu_s=time.process_time(),
        rss_bytes=_current_rss() or peak_bytes,
        peak_rss_bytes=peak_bytes,
    )


def _current_rss() -> int | None:
    try:
        text = Path("/proc/self/statm").read_text()
    except OSError:
        return None
    return int(text.split()[1]) * resource.getpagesize()


# -- RTP -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindTotals:
    packets_received: int = 0
    packets_lost: int = 0
    jitter_ms: float | None = None


@dataclass(frozen=True)
class RtpTotals:
    """Counters of one peer connection at time ``at`` (monotonic seconds)."""

    at: float
    bytes_received: int = 0
    bytes_sent: int = 0
    kinds: Mapping[str, KindTotals] = field(default_factory=dict)

    @property
    def packets_received(self) -> int:
        return sum(k.packets_received for k in self.kinds.values())

    @property
    def packets_lost(self) -> int:
        return sum(k.packets_lost for k in self.kinds.values())

    @property
    def loss_pct(self) -> float:
        return loss_pct(self.packets_lost, self.packets_received)


def loss_pct(lost: int, received: int) -> float:
    expected = received + max(lost, 0)
    return round(100.0 * max(lost, 0) / expected, 3) if expected else 0.0


@dataclass(frozen=True)
class RtpRates:
    """What happened between two :class:`RtpTotals`."""

    seconds: float
    rx_bps: float
    tx_bps: float
    packets_received: int
    packets_lost: int

    @property
    def loss_pct(self) -> float:
        return loss_pct(self.packets_lost, self.packets_received)

    @classmethod
    def between(cls, earlier: RtpTotals, later: RtpTotals) -> RtpRates:
        seconds = later.at - earlier.at
        scale = 8.0 / seconds if seconds > 0 else 0.0
        return cls(
            seconds=seconds,
            rx_bps=(later.bytes_received - earlier.bytes_received) * scale,
            tx_bps=(later.bytes_sent - earlier.bytes_sent) * scale,
            packets_received=later.packets_received - earlier.packets_received,
            packets_lost=later.packets_lost - earlier.packets_lost,
        )


def totals_from_stats(stats: Mapping[str, Any], at: float) -> RtpTotals:
    """Fold an aiortc ``RTCStatsReport`` into :class:`RtpTotals` (transports counted once)."""
    rx = tx = 0
    kinds: dict[str, KindTotals] = {}
    for item in stats.values():
        kind_of = getattr(item, "type", "")
        if kind_of == "transport":
            rx += int(item.bytesReceived)
            tx += int(item.bytesSent)
        elif kind_of == "inbound-rtp":
            kind = str(item.kind)
            rate = CLOCK_RATES.get(kind, 90000)
            before = kinds.get(kind, KindTotals())
            jitter = float(item.jitter) * 1000.0 / rate
            kinds[kind] = KindTotals(
                packets_received=before.packets_received + int(item.packetsReceived),
                packets_lost=before.packets_lost + max(int(item.packetsLost), 0),
                jitter_ms=round(max(jitter, before.jitter_ms or 0.0), 2),
            )
    return RtpTotals(at=at, bytes_received=rx, bytes_sent=tx, kinds=kinds)


async def rtp_totals(pc: Any) -> RtpTotals:
    """Counters of an aiortc ``RTCPeerConnection`` now."""
    return totals_from_stats(await pc.getStats(), time.monotonic())
