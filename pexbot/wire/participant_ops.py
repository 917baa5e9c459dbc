"""Bodies of the participant functions (``participants/<uuid>/<request>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import WireModel
from .participant import AudioMix


class DtmfBody(WireModel):
    digits: str


class OverlayTextBody(WireModel):
    text: str


class PresInMixBody(WireModel):
    state: bool


class RoleBody(WireModel):
    role: Literal["chair", "guest"]


class FeccMovement(WireModel):
    axis: Literal["pan", "tilt", "zoom"]
    direction: Literal["left", "right", "up", "down", "in", "out"]


class FeccBody(WireModel):
    """FECC on our own call (``calls/<uuid>/fecc``)."""

    action: Literal["start", "stop", "continue"]
    movement: list[FeccMovement]
    timeout: float | None = None


class FeccParticipantBody(FeccBody):
    """FECC towards another participant: names the target."""

    target: str


class TransferBody(WireModel):
    role: Literal["host", "guest"]
    conference_alias: str
    pin: str | None = Field(default=None, repr=False)


class PreferredAspectRatioBody(WireModel):
    aspect_ratio: float


class LayoutGroupBody(WireModel):
    layout_group: str


class SendToAudioMixesBody(WireModel):
    mixes: list[AudioMix]


class ReceiveFromAudioMixBody(WireModel):
    mix_name: str | None
