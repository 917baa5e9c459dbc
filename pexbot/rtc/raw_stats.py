"""One stream's cumulative counters at one instant, as the peer connection reads them.

The rtc layer samples them (:class:`pexbot.rtc.peer.Peer`); the call layer turns two
consecutive samples into rates (:mod:`pexbot.call.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StreamName = Literal["audio", "video", "presentation"]
STREAMS: tuple[StreamName, ...] = ("audio", "video", "presentation")


@dataclass(frozen=True)
class RawStream:
    """Cumulative counters of one stream at one instant (tx counts of the current sender)."""

    rx_packets: int = 0
    rx_bytes: int = 0
    rx_lost: int = 0
    rx_jitter_ms: float | None = None
    rx_codec: str | None = None
    rx_frames: int = 0
    rx_size: tuple[int, int] | None = None
    tx_generation: int = 0  # which peer connection the tx counts are from
    tx_packets: int = 0
    tx_bytes: int = 0
    tx_codec: str | None = None
    tx_frames: int = 0
    tx_size: tuple[int, int] | None = None
    tx_remote_lost: int | None = None
    tx_remote_jitter_ms: float | None = None
