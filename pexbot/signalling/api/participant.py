"""Participant functions (``participants/<uuid>/<request>``), in a room or a breakout room.

Whether a 403 means "hosts only" depends on the target: a guest may mute, buzz or caption
itself but not others, and some functions are for hosts whoever the target is. The node only
says 403; knowing the target and our role lets us raise ``HostOnly`` rather than a bare
``Forbidden``.
"""

from __future__ import annotations

from typing import Literal

from pexbot import wire
from pexbot.errors import ConferenceNotFound

from .base import ApiContext, parse, seg
from .call import CallApi

MessageType = Literal["text/plain", "application/json"]

# Host-only whoever the target is (ourselves included).
ALWAYS_HOST_ONLY = frozenset(
    {
        "spotlighton",
        "spotlightoff",
        "unlock",
        "role",
        "transfer",
        "overlaytext",
        "layout_group",
        "send_to_audio_mixes",
        "receive_from_audio_mix",
        "allowrxpresentation",
        "denyrxpresentation",
        "pres_in_mix",
        "fecc",
    }
)
# Open to anyone, whoever the target is.
NEVER_HOST_ONLY = frozenset(
    {"message", "avatar.jpg", "calls", "statistics", "take_floor", "release_floor"}
)


class ParticipantApi:
    """Functions on participant ``uuid``; ``prefix`` is ``""`` or ``"breakouts/<uuid>/"``."""

    def __init__(self, ctx: ApiContext, uuid: str, *, prefix: str = "") -> None:
        self._ctx = ctx
        self.uuid = uuid
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"ParticipantApi({self.uuid!r}, prefix={self.prefix!r})"

    def _path(self, request: str) -> str:
        return f"{self.prefix}participants/{seg(self.uuid)}/{request}"

    def _host_only(self, request: str) -> bool:
        if request in ALWAYS_HOST_ONLY:
            return True
        if request in NEVER_HOST_ONLY:
            return False
        return self.uuid != self._ctx.me

    async def _bool(self, request: str, body: wire.WireModel | None = None) -> bool:
        path = self._path(request)
        return await self._ctx.post_bool(path, body, host_only=self._host_only(request))

    async def _none(self, request: str, body: wire.WireModel | None = None) -> None:
        path = self._path(request)
        await self._ctx.post(path, body, host_only=self._host_only(request))

    def call(self, call_uuid: str) -> CallApi:
        """Functions on one of this participant's calls."""
        return CallApi(self._ctx, self.uuid, call_uuid, prefix=self.prefix)

    async def calls(self, body: wire.CallsBody) -> wire.CallsResult:
        """``calls``: add a WebRTC media call; the answer and the ``call_uuid`` come back."""
        path = self._path("calls")
        return parse(wire.CallsResult, await self._ctx.post(path, body), path)

    async def disconnect(self) -> bool:
        """``disconnect``: drop this participant (anyone from a breakout room: entirely)."""
        return await self._bool("disconnect")

    async def mute(self) -> bool:
        """``mute``: server-side audio mute."""
        return await self._bool("mute")

    async def unmute(self) -> bool:
        """``unmute``."""
        return await self._bool("unmute")

    async def video_mute(self) -> bool:
        """``video_muted``."""
        return await self._bool("video_muted")

    async def video_unmute(self) -> bool:
        """``video_unmuted``."""
        return await self._bool("video_unmuted")

    async def client_mute(self) -> bool:
        """``client_mute``: show the local microphone as muted (no server-side mute)."""
        return await self._bool("client_mute")

    async def client_unmute(self) -> bool:
        """``client_unmute``."""
        return await self._bool("client_unmute")

    async def allow_rx_presentation(self) -> bool:
        """``allowrxpresentation`` (host only)."""
        return await self._bool("allowrxpresentation")

    async def deny_rx_presentation(self) -> bool:
        """``denyrxpresentation`` (host only)."""
        return await self._bool("denyrxpresentation")

    async def spotlight_on(self) -> bool:
        """``spotlighton`` (host only)."""
        return await self._bool("spotlighton")

    async def spotlight_off(self) -> bool:
        """``spotlightoff`` (host only)."""
        return await self._bool("spotlightoff")

    async def unlock(self) -> bool:
        """``unlock``: let this participant in from the waiting room (host only)."""
        return await self._bool("unlock")

    async def dtmf(self, digits: str) -> bool:
        """``dtmf``: send DTMF digits to this participant."""
        return await self._bool("dtmf", wire.DtmfBody(digits=digits))

    async def message(self, payload: str, *, type: MessageType = "text/plain") -> bool:
        """``message``: a private chat message to this participant."""
        return await self._bool("message", wire.MessageBody(type=type, payload=payload))

    async def show_live_captions(self) -> None:
        """``show_live_captions``: start ``live_captions`` events (guests: for themselves)."""
        await self._none("show_live_captions")

    async def hide_live_captions(self) -> None:
        """``hide_live_captions``."""
        await self._none("hide_live_captions")

    async def overlay_text(self, text: str) -> bool:
        """``overlaytext``: the name shown over this participant's video (host only)."""
        return await self._bool("overlaytext", wire.OverlayTextBody(text=text))

    async def pres_in_mix(self, state: bool) -> bool:
        """``pres_in_mix``: presentation in the layout mix (Adaptive Composition; host only)."""
        return await self._bool("pres_in_mix", wire.PresInMixBody(state=state))

    async def set_role(self, role: Literal["chair", "guest"]) -> bool:
        """``role``: ``"chair"`` makes a host, ``"guest"`` a guest (host only)."""
        return await self._bool("role", wire.RoleBody(role=role))

    async def fecc(
        self,
        action: Literal["start", "stop", "continue"],
        movement: list[wire.FeccMovement],
        *,
        duration_ms: float | None = None,
    ) -> bool:
        """``fecc``: far-end camera control towards this participant; ``duration_ms`` is
        the wire ``timeout`` (1000 for a first "start", 200 for "continue")."""
        body = wire.FeccParticipantBody(
            action=action, movement=movement, timeout=duration_ms, target=self.uuid
        )
        return await self._bool("fecc", body)

    async def buzz(self) -> bool:
        """``buzz``: raise this participant's hand."""
        return await self._bool("buzz")

    async def clear_buzz(self) -> bool:
        """``clearbuzz``: lower it."""
        return await self._bool("clearbuzz")

    async def transfer(
        self,
        conference_alias: str,
        *,
        role: Literal["host", "guest"] = "guest",
        pin: str | None = None,
    ) -> bool:
        """``transfer``: move this participant to another conference (host only)."""
        body = wire.TransferBody(role=role, conference_alias=conference_alias, pin=pin)
        return await self._bool("transfer", body)

    async def take_floor(self) -> None:
        """``take_floor``: we start sending presentation; ``FloorDenied`` if refused."""
        await self._none("take_floor")

    async def release_floor(self) -> None:
        """``release_floor``: we stopped sending presentation."""
        await self._none("release_floor")

    async def avatar(self) -> bytes | None:
        """``avatar.jpg``: the participant's picture, or ``None`` when there is none."""
        try:
            return await self._ctx.get_bytes(self._path("avatar.jpg"))
        except ConferenceNotFound:  # 404 "No image available"
            return None

    async def statistics(self, body: wire.StatisticsBody) -> None:
        """``statistics``: report media statistics (direct media)."""
        await self._none("statistics", body)

    async def preferred_aspect_ratio(self, aspect_ratio: float) -> bool:
        """``preferred_aspect_ratio``: 0..2, e.g. 9/16."""
        body = wire.PreferredAspectRatioBody(aspect_ratio=aspect_ratio)
        return await self._bool("preferred_aspect_ratio", body)

    async def layout_group(self, layout_group: str) -> bool:
        """``layout_group`` (host only)."""
        return await self._bool("layout_group", wire.LayoutGroupBody(layout_group=layout_group))

    async def send_to_audio_mixes(self, mixes: list[wire.AudioMix]) -> bool:
        """``send_to_audio_mixes``: replaces the list; ``[]`` means main only (host only)."""
        return await self._bool("send_to_audio_mixes", wire.SendToAudioMixesBody(mixes=mixes))

    async def receive_from_audio_mix(self, mix_name: str | None) -> bool:
        """``receive_from_audio_mix``: ``None`` hears nothing (host only)."""
        body = wire.ReceiveFromAudioMixBody(mix_name=mix_name)
        # mix_name=None must reach the node as null, so the body keeps it.
        path = self._path("receive_from_audio_mix")
        return await self._ctx.post_bool(path, body.model_dump(mode="json"), host_only=True)

    async def notify_not_afk(self) -> bool:
        """``notify_not_afk``: tell the node we are still here."""
        return await self._bool("notify_not_afk")
