"""The participant object of the roster (``participant_create`` / ``participants``)."""

from __future__ import annotations

from typing import Literal

from .base import WireModel, YesNo

ParticipantServiceType = Literal[
    "connecting", "waiting_room", "ivr", "conference", "lecture", "gateway", "test_call"
]


class MixConfigLayout(WireModel):
    layout: str | None = None


class MixConfig(WireModel):
    transform_layout: MixConfigLayout | None = None


class PersonalMix(WireModel):
    mix_name: str
    timestamp: float
    mix_config: MixConfig | None = None


class AudioMix(WireModel):
    mix_name: str
    prominent: bool = False


class Participant(WireModel):
    uuid: str
    display_name: str
    buzz_time: float = 0
    call_direction: Literal["in", "out"] = "in"
    call_tag: str | None = None
    disconnect_supported: YesNo = "YES"
    encryption: Literal["On", "Off"] = "On"
    external_node_uuid: str = ""
    fecc_supported: YesNo = "NO"
    has_media: bool = False
    is_audio_only_call: YesNo = "NO"
    is_client_muted: bool | None = None
    is_conjoined: bool | None = None
    is_external: bool = False
    is_idp_authenticated: bool | None = None
    is_main_video_dropped_out: bool | None = None
    is_muted: YesNo = "NO"
    is_presenting: YesNo = "NO"
    is_streaming_conference: bool = False
    is_transferring: bool | None = None
    is_video_call: YesNo = "YES"
    is_video_muted: bool = False
    is_video_silent: bool = False
    last_spoken_time: float | None = None
    layout_group: str | None = None
    local_alias: str = ""
    mute_supported: YesNo = "YES"
    needs_presentation_in_mix: bool | None = None
    overlay_text: str = ""
    presentation_supported: YesNo | None = None
    # Open sets: newer nodes add protocols and service types; keep what they send.
    protocol: Literal["api", "webrtc", "sip", "rtmp", "h323", "teams", "mssip", ""] | str = "api"
    receive_from_audio_mix: str | None = None
    role: Literal["chair", "guest"] = "guest"
    rx_presentation_policy: Literal["ALLOW", "DENY"] = "ALLOW"
    send_to_audio_mixes: list[AudioMix] | None = None
    service_type: ParticipantServiceType | str | None = None
    show_live_captions: bool | None = None
    spotlight: float = 0
    start_time: float = 0
    supports_direct_chat: bool = False
    transfer_supported: YesNo = "YES"
    uri: str | None = None
    vendor: str | None = None
    api_url: str | None = None
    can_receive_personal_mix: bool = False
    receive_from_video_mix: PersonalMix | None = None

    @property
    def is_host(self) -> bool:
        return self.role == "chair"

    @property
    def muted(self) -> bool:
        return self.is_muted == "YES"

    @property
    def presenting(self) -> bool:
        return self.is_presenting == "YES"
