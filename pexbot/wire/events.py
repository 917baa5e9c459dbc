"""Data of the server-sent events (what follows ``data:`` for each event name)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import WireModel


class PresentationStartData(WireModel):
    presenter_name: str = ""
    presenter_uri: str = ""
    presenter_uuid: str | None = None
    source: Literal["video", "static"] | str | None = None


class ParticipantDeleteData(WireModel):
    uuid: str


class LayoutData(WireModel):
    view: str
    participants: list[str] = []
    requested_layout: str | dict[str, Any] | None = None
    overlay_text_enabled: bool | None = None


class LiveCaptionsData(WireModel):
    data: str
    is_final: bool = False


class MessageReceivedData(WireModel):
    origin: str = ""
    uuid: str = ""
    type: str = "text/plain"
    payload: str
    direct: bool | None = None


class StageEntry(WireModel):
    participant_uuid: str
    stage_index: int
    vad: int = 0


class CallDisconnectedData(WireModel):
    call_uuid: str
    reason: str | None = None


class DisconnectData(WireModel):
    reason: str | None = None


class SplashScreenData(WireModel):
    screen_key: str
    display_duration: float | None = None


class SdpData(WireModel):
    """``new_offer`` / ``update_sdp``."""

    sdp: str


class CandidateData(WireModel):
    candidate: str
    mid: str | None = None
    ufrag: str | None = None
    pwd: str | None = None


class ReferData(WireModel):
    alias: str
    token: str | None = Field(default=None, repr=False)
    breakout_name: str | None = None
    target: str | None = None


class BreakoutBeginData(WireModel):
    breakout_uuid: str
    participant_uuid: str


class BreakoutEventData(WireModel):
    breakout_uuid: str
    event: str
    data: Any = None


class BreakoutEndData(WireModel):
    breakout_uuid: str
    participant_uuid: str | None = None


class BreakoutReferData(WireModel):
    breakout_uuid: str
    breakout_name: str | None = None
