"""Media statistics of a call: a typed snapshot for the application, the body for the node.

Every second the call samples cumulative counters per stream (audio, main video,
presentation): what it counted arriving (:mod:`pexbot.rtc.rtp_counter`), what aiortc's senders
report (packets and bytes sent, the far end's receiver reports), and the frames its long-lived
tracks passed (:mod:`pexbot.rtc.incoming`, :mod:`pexbot.rtc.tracks`). :class:`StatsTracker` (pure,
fed ``now``) turns two consecutive samples into rates: a :class:`CallStats`. Counters survive
a rebuilt peer connection: the tracker adds a restarted sender's counts to what it had sent.

Units follow what Pexip's client posts (official-client-flow.md §12): bitrates in kbit/s,
jitter in ms, losses in percent, codecs as mime subtypes (``opus``, ``VP8``, ``H264``),
resolutions as ``"WxH"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from pexbot import wire
from pexbot.rtc.raw_stats import STREAMS, RawStream, StreamName


class StreamStats(BaseModel):
    """One stream over the last sampling window (rates) and since the call began (totals)."""

    model_config = ConfigDict(frozen=True)

    rx_bitrate_kbps: float = 0.0
    rx_packets: int = 0
    rx_packets_lost: int = 0
    rx_loss_percent: float = 0.0  # since the start
    rx_windowed_loss_percent: float = 0.0  # over the last window
    rx_jitter_ms: float | None = None
    rx_codec: str | None = None
    rx_resolution: tuple[int, int] | None = None
    rx_fps: float = 0.0
    tx_bitrate_kbps: float = 0.0
    tx_packets: int = 0
    tx_codec: str | None = None
    tx_resolution: tuple[int, int] | None = None
    tx_fps: float = 0.0
    #: as the far end's receiver reports tell
    tx_remote_packets_lost: int | None = None
    tx_remote_jitter_ms: float | None = None

    @property
    def active(self) -> bool:
        return self.rx_packets > 0 or self.tx_packets > 0

    def to_wire(self) -> wire.StreamStats:
        return wire.StreamStats(
            rx_bitrate=round(self.rx_bitrate_kbps, 1),
            rx_codec=self.rx_codec,
            rx_fps=round(self.rx_fps, 1) if self.rx_resolution else None,
            rx_historic_packet_loss=round(self.rx_loss_percent, 2),
            rx_jitter=round(self.rx_jitter_ms, 1) if self.rx_jitter_ms is not None else None,
            rx_packets_lost=self.rx_packets_lost,
            rx_packets_received=self.rx_packets,
            rx_resolution=_resolution(self.rx_resolution),
            rx_windowed_packet_loss=round(self.rx_windowed_loss_percent, 2),
            tx_bitrate=round(self.tx_bitrate_kbps, 1),
            tx_codec=self.tx_codec,
            tx_fps=round(self.tx_fps, 1) if self.tx_resolution else None,
            tx_packets_sent=self.tx_packets,
            tx_rb_jitter=(
                round(self.tx_remote_jitter_ms, 1) if self.tx_remote_jitter_ms is not None else None
            ),
            tx_rb_packetslost=self.tx_remote_packets_lost,
            tx_resolution=_resolution(self.tx_resolution),
        )


class CallStats(BaseModel):
    """A snapshot of a call's media (``call.stats()``)."""

    model_config = ConfigDict(frozen=True)

    call_uuid: str | None = None
    direct_media: bool = False
    #: ``time.monotonic()`` of the sample, and the window the rates are over (s)
    sampled_at: float = 0.0
    window: float = 0.0
    connection_state: str = "new"
    restarts: int = 0
    audio: StreamStats = StreamStats()
    video: StreamStats = StreamStats()
    presentation: StreamStats = StreamStats()

    def stream(self, name: StreamName) -> StreamStats:
        stats: StreamStats = getattr(self, name)
        return stats

    def to_wire(self) -> wire.StatisticsBody:
        """The ``calls/<uuid>/statistics`` body: streams that carried nothing are left out."""
        parts = {name: self.stream(name) for name in STREAMS}
        return wire.StatisticsBody(**{name: s.to_wire() for name, s in parts.items() if s.active})


def _resolution(size: tuple[int, int] | None) -> str | None:
    return f"{size[0]}x{size[1]}" if size is not None else None


def _rate(delta: float, window: float) -> float:
    return max(0.0, delta) / window if window > 0 else 0.0


@dataclass
class _TxTotals:
    generation: int = 0
    base_packets: int = 0  # sent by earlier peer connections
    base_bytes: int = 0
    last_packets: int = 0
    last_bytes: int = 0

    def add(self, raw: RawStream) -> tuple[int, int]:
        if raw.tx_generation != self.generation:
            self.base_packets += self.last_packets
            self.base_bytes += self.last_bytes
            self.generation = raw.tx_generation
        self.last_packets, self.last_bytes = raw.tx_packets, raw.tx_bytes
        return self.base_packets + raw.tx_packets, self.base_bytes + raw.tx_bytes


class StatsTracker:
    """Turns cumulative samples into :class:`CallStats` (pure; fed ``now``)."""

    def __init__(self) -> None:
        self._last: dict[StreamName, tuple[RawStream, int, int]] = {}
        self._tx: dict[StreamName, _TxTotals] = {name: _TxTotals() for name in STREAMS}
        self._last_at: float | None = None
        self.latest = CallStats()

    def update(
        self,
        now: float,
        raw: Mapping[StreamName, RawStream],
        *,
        call_uuid: str | None = None,
        direct_media: bool = False,
        connection_state: str = "new",
        restarts: int = 0,
    ) -> CallStats:
        window = now - self._last_at if self._last_at is not None else 0.0
        streams: dict[str, StreamStats] = {}
        for name in STREAMS:
            sample = raw.get(name, RawStream())
            tx_packets, tx_bytes = self._tx[name].add(sample)
            previous = self._last.get(name)
            streams[name] = _stream(sample, tx_packets, tx_bytes, previous, window)
            self._last[name] = (sample, tx_packets, tx_bytes)
        self._last_at = now
        self.latest = CallStats(
            call_uuid=call_uuid,
            direct_media=direct_media,
            sampled_at=now,
            window=window,
            connection_state=connection_state,
            restarts=restarts,
            **streams,
        )
        return self.latest


def _stream(
    raw: RawStream,
    tx_packets: int,
    tx_bytes: int,
    previous: tuple[RawStream, int, int] | None,
    window: float,
) -> StreamStats:
    prev, _, prev_tx_bytes = previous or (RawStream(), 0, 0)
    if previous is None:
        window = 0.0
    d_received = raw.rx_packets - prev.rx_packets
    d_lost = raw.rx_lost - prev.rx_lost
    expected = raw.rx_packets + raw.rx_lost
    d_expected = d_received + d_lost
    return StreamStats(
        rx_bitrate_kbps=_rate(raw.rx_bytes - prev.rx_bytes, window) * 8 / 1000,
        rx_packets=raw.rx_packets,
        rx_packets_lost=raw.rx_lost,
        rx_loss_percent=100.0 * raw.rx_lost / expected if expected else 0.0,
        rx_windowed_loss_percent=100.0 * max(0, d_lost) / d_expected if d_expected > 0 else 0.0,
        rx_jitter_ms=raw.rx_jitter_ms,
        rx_codec=raw.rx_codec,
        rx_resolution=raw.rx_size,
        rx_fps=_rate(raw.rx_frames - prev.rx_frames, window) if raw.rx_size else 0.0,
        tx_bitrate_kbps=_rate(tx_bytes - prev_tx_bytes, window) * 8 / 1000,
        tx_packets=tx_packets,
        tx_codec=raw.tx_codec,
        tx_resolution=raw.tx_size,
        tx_fps=_rate(raw.tx_frames - prev.tx_frames, window) if raw.tx_size else 0.0,
        tx_remote_packets_lost=raw.tx_remote_lost,
        tx_remote_jitter_ms=raw.tx_remote_jitter_ms,
    )


def stats_interval_seconds(value: float | None) -> float | None:
    """``client_stats_update_interval`` in seconds, or None (the node asked for nothing).

    Pexip's client passes the value straight to ``setTimeout``, i.e. milliseconds; nodes are
    not known to send anything else. A value of 100 or less is taken as seconds (nobody asks
    for statistics ten times a second). Never below one second.
    """
    if value is None or value <= 0:
        return None
    seconds = value / 1000 if value > 100 else value
    return max(1.0, seconds)
