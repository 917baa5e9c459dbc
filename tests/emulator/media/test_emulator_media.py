"""Choosing the emulator's media, malformed offers, and calls that follow their participant into
a breakout room (real aiortc, real HTTP)."""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import pytest
from compose_kit import SIZE, codes_in, join, leave, wait_until
from emu_helpers import Client

from pexbot import wire
from pexbot.cli import emulator_cmd
from pexbot.emulator import Emulator, EmulatorConfig, NullMediaBackend
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.cards import is_waiting_card
from pexbot.emulator.media.compositor import ComposeRouter
from pexbot.emulator.media.router import RelayRouter
from pexbot.session.session import Session

CONFIG = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])


async def test_media_choices() -> None:
    assert isinstance(Emulator(CONFIG, media="none").media, NullMediaBackend)
    own = NullMediaBackend()
    assert Emulator(CONFIG, media=own).media is own
    for choice, router_type in (("relay", RelayRouter), (None, ComposeRouter)):
        backend = Emulator(CONFIG, media=choice).media  # type: ignore[arg-type]
        assert isinstance(backend, AiortcMediaBackend)
        router = backend._router_factory("room")
        assert type(router) is router_type
        await router.aclose()
    with pytest.raises(ValueError, match="unknown media backend"):
        Emulator(CONFIG, media="mixer")  # type: ignore[arg-type]


def test_cli_media_options() -> None:
    parser = argparse.ArgumentParser()
    emulator_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["emulator"])
    assert (args.media, args.video_size, args.fps) == ("compose", (640, 360), 15.0)
    args = parser.parse_args(["emulator", "--media", "relay", "--video-size", "320x180"])
    assert (args.media, args.video_size) == ("relay", (320, 180))
    for bad in (["--media", "mixer"], ["--video-size", "321x180"], ["--video-size", "big"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["emulator", *bad])


@pytest.mark.parametrize(
    ("offer", "reason"),
    [
        ("not an SDP at all", "not an SDP with media sections"),
        ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", "ICE username fragment"),
    ],
)
async def test_malformed_offer_is_a_400_with_the_reason(offer: str, reason: str) -> None:
    async with Emulator(CONFIG) as emu, aiohttp.ClientSession() as http:
        client = Client(http, emu, "meet")
        await client.join("x")
        body = {"call_type": "WEBRTC", "sdp": offer}
        status, data = await client.post(f"participants/{client.uuid}/calls", body)
        assert status == 400 and data["status"] == "failed"
        assert "refused the SDP" in data["result"] and reason in data["result"]
        participant = emu.node.participants[client.uuid]
        assert participant.calls == {} and not participant.has_media
        assert (
            isinstance(emu.media, AiortcMediaBackend)
            and emu.media.router(participant.conference_id) is None
        )  # nothing left behind
        await client.close()


async def test_calls_follow_their_participant_into_a_breakout() -> None:
    async with Emulator(CONFIG, media_size=SIZE) as emu:
        backend = emu.media
        assert isinstance(backend, AiortcMediaBackend)
        async with (
            Session(emu.base_url, "meet", display_name="a") as sa,
            Session(emu.base_url, "meet", display_name="b") as sb,
        ):
            a = await join(sa.call_signalling(), 0)
            b = await join(sb.call_signalling(), 1)
            try:
                video_a = await a.received.get("video")
                video_b = await b.received.get("video")

                def shows(receiver: Any, who: int) -> bool:
                    return receiver.last is not None and [
                        s.who for s in codes_in(receiver.last)
                    ] == [who]

                await wait_until(lambda: shows(video_a, 1) and shows(video_b, 0), what="a<->b")
                body = wire.BreakoutsBody(
                    name="side", participants={"main": [str(sb.participant_uuid)]}
                )
                breakout = await sa.conference.create_breakout(body)
                # b's call now belongs to the breakout: both are alone, both see the card
                await wait_until(
                    lambda: backend.router(breakout) is not None, what="a breakout router"
                )
                leg_b = backend.leg(b.call.call_uuid or "")
                assert leg_b.room == breakout
                await wait_until(
                    lambda: video_a.last is not None and is_waiting_card(video_a.last),
                    what="the card at a",
                )
                await wait_until(
                    lambda: video_b.last is not None and is_waiting_card(video_b.last),
                    what="the card at b",
                )
                # and back to the main room: they see each other again
                assert await sa.conference.empty_breakouts()
                await wait_until(lambda: leg_b.room != breakout, what="b's call back in main")
                await wait_until(lambda: shows(video_a, 1) and shows(video_b, 0), what="again")
            finally:
                await leave(a, b)
