"""Conference control payloads: status, layout, dial, chat, breakouts and the rest."""

from __future__ import annotations

from typing import Any, Literal

from .base import CallType, WireModel


class ConferenceStatus(WireModel):
    """``conference_status`` result and ``conference_update`` event data."""

    locked: bool = False
    guests_muted: bool = False
    started: bool = True
    all_muted: bool | None = None
    presentation_allowed: bool | None = None
    live_captions_available: bool | None = None
    direct_media: bool | None = None
    breakout: bool | None = None
    breakout_name: str | None = None
    breakout_description: str | None = None
    breakout_rooms: bool | None = None
    breakout_guests_allowed_to_leave: bool | None = None
    breakoutbuzz: dict[str, Any] | None = None
    end_action: Literal["transfer", "disconnect"] | None = None
    end_time: float | None = None
    classification: dict[str, Any] | None = None
    guests_can_unmute: bool | None = None
    guests_can_present: bool | None = None
    message_text: str | None = None
    pinning_config: str | None = None


class DialBody(WireModel):
    role: Literal["HOST", "GUEST"]
    destination: str
    protocol: Literal["sip", "h323", "rtmp", "mssip", "auto"]
    presentation_url: str | None = None
    streaming: Literal["yes", "no"] | None = None
    dtmf_sequence: str | None = None
    source_display_name: str | None = None
    source: str | None = None
    call_type: CallType | None = None
    keep_conference_alive: (
        Literal[
            "keep_conference_alive",
            "keep_conference_alive_if_multiple",
            "keep_conference_alive_never",
        ]
        | None
    ) = None
    remote_display_name: str | None = None
    text: str | None = None


class MessageBody(WireModel):
    """Chat message, to the conference or to one participant."""

    type: Literal["text/plain", "application/json"] = "text/plain"
    payload: str


class SetGuestsCanUnmuteBody(WireModel):
    setting: bool


class StreamingTransforms(WireModel):
    layout: str | None = None
    waiting_screen_enabled: bool | None = None
    plus_n_pip_enabled: bool | None = None
    indicators_enabled: bool | None = None
    presentation_in_mix: bool | None = None


class Transforms(WireModel):
    layout: str | None = None
    host_layout: str | None = None
    guest_layout: str | None = None
    enable_extended_ac: bool | None = None
    streaming_indicator: bool | None = None
    recording_indicator: bool | None = None
    transcribing_indicator: bool | None = None
    enable_active_speaker_indication: bool | None = None
    enable_overlay_text: bool | None = None
    streaming: StreamingTransforms | None = None
    free_form_overlay_text: list[str] | None = None


class TransformLayoutBody(WireModel):
    transforms: Transforms


class SilentVideoDetectionConfig(WireModel):
    enable: bool | None = None
    silent_after: float | None = None
    require_no_faces: bool | None = None
    reactivate_after: float | None = None


class SilentVideoDetectionBody(WireModel):
    config: SilentVideoDetectionConfig


class SetClassificationLevelBody(WireModel):
    level: int


class ClassificationLevels(WireModel):
    levels: dict[str, str] = {}
    current: int | None = None


class SetMessageTextBody(WireModel):
    text: str


class MessageText(WireModel):
    text: str = ""
    set_time: str | None = None


class PinningConfigBody(WireModel):
    pinning_config: str


class AnnotatedLayout(WireModel):
    name: str
    tags: list[str] | None = None


class ThemeBackground(WireModel):
    path: str


class ThemeText(WireModel):
    type: Literal["text"] = "text"
    color: float
    text: str


class SplashScreen(WireModel):
    layout_type: Literal["direct_media"] = "direct_media"
    background: ThemeBackground
    elements: list[ThemeText]


# -- breakouts --------------------------------------------------------------------------------


class BreakoutsBody(WireModel):
    name: str
    description: str | None = None
    duration: float | None = None
    end_action: Literal["disconnect", "transfer"] | None = None
    participants: dict[str, list[str]] | None = None
    guests_allowed_to_leave: bool | None = None


class BreakoutCreated(WireModel):
    breakout_uuid: str


class BreakoutMoveBody(WireModel):
    breakout_uuid: str
    participants: list[str]


class VideoMixCreateBody(WireModel):
    mix_name: str


class VideoMixLayout(WireModel):
    layout: str | None = None


class VideoMixConfigureBody(WireModel):
    transform_layout: VideoMixLayout
