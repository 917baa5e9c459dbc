"""Media call payloads: ``calls``, ``ack``, ``new_candidate``, ``update``, ``statistics``."""

from __future__ import annotations

from typing import Literal

from .base import CallType, WireModel
from .token import TurnServer


class CallsBody(WireModel):
    call_type: Literal["WEBRTC"] = "WEBRTC"
    sdp: str
    media_type: CallType | None = None
    present: Literal["main", "send", "receive"] | None = None
    fecc_supported: bool | None = None


class CallsResult(WireModel):
    call_uuid: str
    sdp: str
    offer_ignored: bool | None = None
    turn: list[TurnServer] | None = None

    @property
    def waits_for_peer(self) -> bool:
        """Direct media: no far end yet; a ``new_offer`` event will come later."""
        return bool(self.offer_ignored) or not self.sdp


class AckBody(WireModel):
    sdp: str | None = None
    offer_ignored: bool | None = None


class NewCandidateBody(WireModel):
    """One trickled candidate; ``candidate == ""`` marks end-of-candidates."""

    candidate: str
    mid: str
    ufrag: str | None = None
    pwd: str | None = None


class UpdateBody(WireModel):
    sdp: str
    fecc_supported: bool | None = None


class UpdateResult(WireModel):
    call_uuid: str
    sdp: str


class StreamStats(WireModel):
    rx_bitrate: float | None = None
    rx_codec: str | None = None
    rx_fps: float | None = None
    rx_historic_packet_loss: float | None = None
    rx_jitter: float | None = None
    rx_packets_lost: int | None = None
    rx_packets_received: int | None = None
    rx_resolution: str | None = None
    rx_windowed_packet_loss: float | None = None
    tx_bitrate: float | None = None
    tx_codec: str | None = None
    tx_fps: float | None = None
    tx_historic_packet_loss: float | None = None
    tx_packets_sent: int | None = None
    tx_rb_jitter: float | None = None
    tx_rb_packetslost: int | None = None
    tx_resolution: str | None = None
    tx_windowed_packet_loss: float | None = None


class StatisticsBody(WireModel):
    audio: StreamStats | None = None
    video: StreamStats | None = None
    presentation: StreamStats | None = None
