"""The functions every room offers, the main room and each breakout room alike.

The node accepts them under ``breakouts/<uuid>/`` too ("each breakout room can be controlled by
hosts like a normal VMR"), so one class serves both: ``prefix`` says which room.
:class:`~.conference.ConferenceApi` and :class:`~.breakout.BreakoutApi` are rooms with what
only exists on each. Methods are named after the endpoint; the endpoint is in each docstring.
Boolean functions return the node's "true if successful, false otherwise"; refusals raise
(``HostOnly`` when a host-only function is called as a guest).
"""

from __future__ import annotations

from typing import Literal

from pexbot import wire

from .base import ApiContext, parse, parse_as, seg
from .participant import ParticipantApi

MessageType = Literal["text/plain", "application/json"]


class RoomApi:
    """Controls of one room; ``prefix`` is ``""`` (main room) or ``"breakouts/<uuid>/"``."""

    def __init__(self, ctx: ApiContext, prefix: str = "") -> None:
        self._ctx = ctx
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r})"

    def _path(self, request: str) -> str:
        return f"{self.prefix}{request}"

    async def _host(self, request: str, body: wire.WireModel | None = None) -> bool:
        return await self._ctx.post_bool(self._path(request), body, host_only=True)

    def participant(self, uuid: str) -> ParticipantApi:
        """Functions on one participant of this room."""
        return ParticipantApi(self._ctx, uuid, prefix=self.prefix)

    # -- host controls ---------------------------------------------------------------------

    async def dial(self, body: wire.DialBody) -> list[str]:
        """``dial``: dial out; returns the UUIDs of the new participants (host only)."""
        path = self._path("dial")
        result = await self._ctx.post(path, body, host_only=True)
        uuids: list[str] = parse_as(list[str], result, path)
        return uuids

    async def lock(self) -> bool:
        """``lock`` (host only)."""
        return await self._host("lock")

    async def unlock(self) -> bool:
        """``unlock`` (host only)."""
        return await self._host("unlock")

    async def start_conference(self) -> bool:
        """``start_conference``: let guests in from the waiting room (host only)."""
        return await self._host("start_conference")

    async def mute_guests(self) -> bool:
        """``muteguests`` (host only)."""
        return await self._host("muteguests")

    async def unmute_guests(self) -> bool:
        """``unmuteguests`` (host only)."""
        return await self._host("unmuteguests")

    async def set_guests_can_unmute(self, setting: bool) -> bool:
        """``set_guests_can_unmute`` (host only)."""
        return await self._host(
            "set_guests_can_unmute", wire.SetGuestsCanUnmuteBody(setting=setting)
        )

    async def disconnect_all(self) -> bool:
        """``disconnect``: disconnect everyone in the room, ourselves included (host only).

        On a breakout room this closes it (participants move back or leave per end_action).
        """
        return await self._host("disconnect")

    async def transform_layout(self, transforms: wire.Transforms) -> bool:
        """``transform_layout`` (host only). ``Transforms()`` resets every parameter."""
        return await self._host("transform_layout", wire.TransformLayoutBody(transforms=transforms))

    async def clear_all_buzz(self) -> bool:
        """``clearallbuzz``: lower all raised hands (host only)."""
        return await self._host("clearallbuzz")

    async def clear_spotlights(self) -> bool:
        """``clearspotlights`` (host only)."""
        return await self._host("clearspotlights")

    async def silent_video_detection(self, config: wire.SilentVideoDetectionConfig) -> bool:
        """``silent_video_detection`` (host only)."""
        return await self._host(
            "silent_video_detection", wire.SilentVideoDetectionBody(config=config)
        )

    async def set_classification_level(self, level: int) -> bool:
        """``set_classification_level`` (host only)."""
        return await self._host(
            "set_classification_level", wire.SetClassificationLevelBody(level=level)
        )

    async def set_message_text(self, text: str) -> bool:
        """``set_message_text``: the banner; ``""`` clears it (host only)."""
        return await self._host("set_message_text", wire.SetMessageTextBody(text=text))

    async def set_pinning_config(self, pinning_config: str) -> bool:
        """``set_pinning_config`` (host only)."""
        body = wire.PinningConfigBody(pinning_config=pinning_config)
        return await self._host("set_pinning_config", body)

    async def move_participants(self, to: str, participants: list[str]) -> bool:
        """``participants/breakout``: move people from this room to ``to`` (a breakout UUID,
        ``"main"`` or ``"previous"``); an empty list moves everyone (host only)."""
        body = wire.BreakoutMoveBody(breakout_uuid=to, participants=participants)
        return await self._host("participants/breakout", body)

    async def video_mix_create(self, mix_name: str) -> bool:
        """``video_mixes/create`` (host only)."""
        return await self._host("video_mixes/create", wire.VideoMixCreateBody(mix_name=mix_name))

    async def video_mix_configure(self, mix_name: str, layout: str | None = None) -> bool:
        """``video_mixes/<mix>/configure`` (host only)."""
        body = wire.VideoMixConfigureBody(transform_layout=wire.VideoMixLayout(layout=layout))
        return await self._host(f"video_mixes/{seg(mix_name)}/configure", body)

    async def video_mix_delete(self, mix_name: str) -> bool:
        """``video_mixes/<mix>/delete`` (host only)."""
        return await self._host(f"video_mixes/{seg(mix_name)}/delete")

    # -- anyone ----------------------------------------------------------------------------

    async def status(self) -> wire.ConferenceStatus:
        """``conference_status``."""
        path = self._path("conference_status")
        return parse(wire.ConferenceStatus, await self._ctx.get(path), path)

    async def message(self, payload: str, *, type: MessageType = "text/plain") -> bool:
        """``message``: chat to everyone in the room."""
        body = wire.MessageBody(type=type, payload=payload)
        return await self._ctx.post_bool(self._path("message"), body)

    async def participants(self) -> list[wire.Participant]:
        """``participants``: the full roster."""
        path = self._path("participants")
        roster: list[wire.Participant] = parse_as(
            list[wire.Participant], await self._ctx.get(path), path
        )
        return roster

    async def get_classification_level(self) -> wire.ClassificationLevels:
        """``get_classification_level``."""
        path = self._path("get_classification_level")
        return parse(wire.ClassificationLevels, await self._ctx.get(path), path)

    async def theme(self) -> dict[str, wire.SplashScreen]:
        """``theme/``: splash-screen descriptions by screen key (empty when there is no theme)."""
        path = self._path("theme/")
        raw = await self._ctx.request("GET", path)
        if raw.status == 204 or not isinstance(raw.result, dict):
            return {}
        screens: dict[str, wire.SplashScreen] = parse_as(
            dict[str, wire.SplashScreen], raw.result, path
        )
        return screens

    async def theme_resource(self, resource_path: str) -> bytes:
        """``theme/<path>``: one theme resource (an image, usually) as bytes."""
        quoted = "/".join(seg(part) for part in resource_path.lstrip("/").split("/"))
        return await self._ctx.get_bytes(self._path(f"theme/{quoted}"))

    async def available_layouts(self) -> list[str]:
        """``available_layouts``: layout names."""
        path = self._path("available_layouts")
        names: list[str] = parse_as(list[str], await self._ctx.get(path), path)
        return names

    async def available_layouts_annotated(self) -> list[wire.AnnotatedLayout]:
        """``available_layouts?annotate=true``: layouts with their tags."""
        path = self._path("available_layouts")
        result = await self._ctx.get(path, params={"annotate": "true"})
        layouts: list[wire.AnnotatedLayout] = parse_as(list[wire.AnnotatedLayout], result, path)
        return layouts

    async def layout_svgs(self) -> dict[str, str]:
        """``layout_svgs``: SVG of each active layout, by name."""
        path = self._path("layout_svgs")
        svgs: dict[str, str] = parse_as(dict[str, str], await self._ctx.get(path), path)
        return svgs

    async def get_message_text(self) -> wire.MessageText:
        """``get_message_text``."""
        path = self._path("get_message_text")
        return parse(wire.MessageText, await self._ctx.get(path), path)

    async def get_pinning_config(self) -> str:
        """``get_pinning_config``."""
        path = self._path("get_pinning_config")
        return parse(wire.PinningConfigBody, await self._ctx.get(path), path).pinning_config

    async def breakout_buzz(self) -> bool:
        """``breakoutbuzz``: ask the hosts for help (from inside a breakout room)."""
        return await self._ctx.post_bool(self._path("breakoutbuzz"))

    async def clear_breakout_buzz(self) -> bool:
        """``clearbreakoutbuzz``: withdraw the request for help."""
        return await self._ctx.post_bool(self._path("clearbreakoutbuzz"))
