"""Router legs for in-process tests of the emulator's media routers (no peer connection): a
leg whose slides input never delivers, enough to see which legs a router feeds."""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame

from pexbot.emulator import CallContext
from pexbot.emulator.media.router import Leg
from pexbot.rtc.tracks import OutgoingVideoTrack


class Idle(MediaStreamTrack):
    kind = "video"

    async def recv(self) -> VideoFrame:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def slides_leg(participant: str) -> Leg:
    context = CallContext(
        conference_id="room",
        conference_alias="meet",
        participant_uuid=participant,
        display_name=participant,
        call_uuid=f"{participant}-call",
        media_type="video",
        present=None,
        service_type="conference",
        room_id="room",
    )
    return Leg(context, {"slides": OutgoingVideoTrack()}, inputs={"slides": Idle()})
