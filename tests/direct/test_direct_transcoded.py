"""What the direct-media work changed for ordinary (transcoded) calls, over real HTTP against
the emulator with its aiortc backend: the node's offer crossing ours is ignored (impolite),
statistics are there for the application (and not posted), and a restart rebuilds the
connection through ``update`` with the emulator following."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from directkit import (
    ALICE_FIRST,
    BOB_FIRST,
    NumberedPattern,
    Numbers,
    strictly_increasing,
    wait_until,
)

from media import ToneAudioSource
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.router import RelayRouter
from pexbot.rtc.sdp import Sdp

ALIAS = "meet"


@contextlib.asynccontextmanager
async def emulator() -> AsyncIterator[Emulator]:
    """Conference ``meet`` answered by aiortc, relaying each participant's media 1:1."""
    backend = AiortcMediaBackend(router_factory=RelayRouter, card_size=(320, 180), fps=15.0)
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    async with Emulator(config, media=backend) as emu:
        yield emu


def ufrag(sdp: str) -> str | None:
    return Sdp.parse(sdp).ice_credentials(0)[0]


async def test_node_offer_crossing_ours_is_ignored() -> None:
    async with emulator() as emu, Session(emu.base_url, ALIAS, display_name="alice") as alice:
        call = await alice.call(video=NumberedPattern(ALICE_FIRST), video_codec="vp8")
        try:
            emu.faults.delay_next(delay=1.5, path_contains="/update")
            renegotiating = asyncio.ensure_future(call.set_slides_direction("recvonly"))
            await wait_until(lambda: call._update is not None, what="our update out")
            # the node's offer arrives while ours is out: glare, and our call is impolite
            emu.node.bus.send(alice.info.participant_uuid, "update_sdp", {"sdp": "v=0\r\n"})
            await wait_until(
                lambda: any(
                    x.path.endswith("/ack") and (x.request_json or {}).get("offer_ignored")
                    for x in emu.traffic
                ),
                what="ack offer_ignored",
            )
            await asyncio.wait_for(renegotiating, 10)
            acks = [x.request_json for x in emu.traffic if x.path.endswith("/ack")]
            assert acks == [{}, {"sdp": "offer_ignored", "offer_ignored": True}, {}]
            assert call.state == "connected" and call.restarts == 0
        finally:
            await call.disconnect()


async def test_statistics_of_a_transcoded_call() -> None:
    async with (
        emulator() as emu,
        Session(emu.base_url, ALIAS, display_name="alice") as alice,
        Session(emu.base_url, ALIAS, display_name="bob") as bob,
    ):
        at_bob = Numbers()
        call_a = await alice.call(
            audio=ToneAudioSource(), video=NumberedPattern(ALICE_FIRST), video_codec="vp8"
        )
        call_b = await bob.call(
            audio=ToneAudioSource(), on_track=at_bob.on_track, video_codec="vp8"
        )
        try:
            await wait_until(lambda: at_bob.count_from(ALICE_FIRST) >= 20, what="media")
            await asyncio.sleep(1.5)  # the call samples every second
            stats = call_b.stats()
            print("transcoded stats:", stats.model_dump_json(exclude={"presentation"}))
            assert not stats.direct_media and stats.connection_state == "connected"
            assert 30 <= stats.audio.tx_bitrate_kbps <= 200  # a tone: Opus, ~96 kbit/s and up
            assert 30 <= stats.audio.rx_bitrate_kbps <= 200
            assert stats.audio.rx_codec == "opus" and stats.video.rx_codec == "VP8"
            assert stats.video.rx_resolution == (320, 180) and 5 <= stats.video.rx_fps <= 25
            assert stats.video.tx_fps > 5 and stats.video.tx_bitrate_kbps > 2  # black filler: tiny
            assert stats.audio.rx_packets > 50 and stats.audio.rx_packets_lost == 0
            assert not [x for x in emu.traffic if x.path.endswith("/statistics")]
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_bob.close()


async def test_restart_through_the_emulator_keeps_the_streams() -> None:
    """A restart of a transcoded call (a new connection, new ICE credentials, via update):
    the emulator's aiortc backend builds a new connection too, and media flows again on the
    same incoming track, numbers still rising."""
    async with (
        emulator() as emu,
        Session(emu.base_url, ALIAS, display_name="alice") as alice,
        Session(emu.base_url, ALIAS, display_name="bob") as bob,
    ):
        at_bob = Numbers()
        call_a = await alice.call(video=NumberedPattern(ALICE_FIRST), video_codec="vp8")
        call_b = await bob.call(
            video=NumberedPattern(BOB_FIRST), on_track=at_bob.on_track, video_codec="vp8"
        )
        try:
            await wait_until(lambda: at_bob.count_from(ALICE_FIRST) >= 10, what="media before")
            first_offer = call_b.offer_sdp or ""
            started = time.monotonic()
            assert await call_b.restart("test")
            assert ufrag(call_b.offer_sdp or "") != ufrag(first_offer)
            count = len(at_bob.numbers())
            await wait_until(
                lambda: len(at_bob.numbers()) >= count + 10, within=15, what="media after"
            )
            print("transcoded restart:", json.dumps({"media_again_s": time.monotonic() - started}))
            numbers = at_bob.numbers()
            assert strictly_increasing(numbers)
            assert sorted(at_bob.tracks) == [("main", "audio"), ("main", "video")]
            assert call_b.state == "connected" and not call_b.ended.is_set()
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_bob.close()
