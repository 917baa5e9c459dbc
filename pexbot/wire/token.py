"""request_token / refresh_token / release_token payloads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import CallType, WireModel

ServiceType = Literal["conference", "gateway", "test_call", "lecture", "media_playback"]
CurrentServiceType = Literal[
    "conference", "gateway", "test_call", "waiting_room", "ivr", "lecture", "media_playback"
]
Role = Literal["HOST", "GUEST"]


class RequestTokenBody(WireModel):
    display_name: str
    call_tag: str | None = None
    chosen_idp: str | None = None
    client_id: str | None = None
    sso_token: str | None = Field(default=None, repr=False)
    sso_redirect_target: str | None = None
    node: str | None = None
    conference_extension: str | None = None
    token: str | None = Field(default=None, repr=False)
    direct_media: bool | None = None
    breakout_rooms: bool | None = None
    supports_direct_chat: bool | None = None


class Version(WireModel):
    version_id: str | None = None
    pseudo_version: str | None = None


class StunServer(WireModel):
    url: str


class TurnServer(WireModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = Field(default=None, repr=False)


class RequestTokenResult(WireModel):
    token: str = Field(repr=False)
    expires: str
    participant_uuid: str
    display_name: str
    role: Role
    version: Version
    current_service_type: CurrentServiceType
    service_type: ServiceType | None = None
    conference_name: str | None = None
    call_tag: str | None = None
    call_type: CallType | None = None
    allow_1080p: bool | None = None
    analytics_enabled: bool | None = None
    bandwidth_in: float | None = None
    bandwidth_out: float | None = None
    chat_enabled: bool | None = None
    fecc_enabled: bool | None = None
    rtmp_enabled: bool | None = None
    rtsp_enabled: bool | None = None
    guests_can_present: bool | None = None
    vp9_enabled: bool | None = None
    trickle_ice_enabled: bool | None = None
    route_via_registrar: bool | None = None
    idp_uuid: str | None = None
    service_name: str | None = None
    stun: list[StunServer] | None = None
    turn: list[TurnServer] | None = None
    direct_media: bool | None = None
    pex_datachannel_id: int | None = None
    client_stats_update_interval: float | None = None
    use_relay_candidates_only: bool | None = None
    breakout_rooms: bool | None = None

    @property
    def expires_seconds(self) -> float:
        return float(self.expires)


# -- 403 outcomes of request_token ------------------------------------------------------------


class PinChallenge(WireModel):
    """The conference wants a PIN: which ones exist."""

    pin: Literal["required", "none"]
    guest_pin: Literal["required", "none"]
    version: Version
    conference_extension: Literal["standard", "mssip"] | None = None


class Idp(WireModel):
    name: str
    uuid: str
    img: str | None = None
    disable_popup_flow: bool | None = None


class IdpChoice(WireModel):
    """SSO: pick one of these identity providers (``chosen_idp``)."""

    idp: list[Idp]
    version: Version


class RedirectIdp(WireModel):
    name: str
    uuid: str


class SsoRedirect(WireModel):
    """SSO: follow ``redirect_url``; come back with an ``sso_token``."""

    redirect_url: str
    redirect_idp: RedirectIdp
    version: Version
    disable_popup_flow: bool | None = None


class ExtensionRequired(WireModel):
    """Virtual Reception: ask again with ``conference_extension`` = target alias."""

    conference_extension: Literal["required"]
    conference_extension_type: Literal["standard", "mssip"]


class RefreshTokenResult(WireModel):
    token: str = Field(repr=False)
    expires: str
    role: Role | None = None
    client_stats_update_interval: float | None = None


class ReleaseTokenBody(WireModel):
    reason: str | None = None
