"""What the direct-media work changed for ordinary (transcoded) calls: the node's offer
crossing ours is ignored (impolite), a restart rebuilds the connection through ``update`` and
the emulator's aiortc backend follows, and statistics are there for the application."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "calls"))

from callkit import FakeSignalling, PatternVideo, ToneAudio, Tracks  # noqa: E402
from directkit import (  # noqa: E402
    ALICE_FIRST,
    BOB_FIRST,
    NumberedPattern,
    TrailAnalyser,
    feed,
    strictly_increasing,
    wait_until,
)
from intkit import media_emulator  # noqa: E402

from pexbot import Session, wire  # noqa: E402
from pexbot.call import CallOptions, MediaCall  # noqa: E402
from pexbot.emulator.media_aiortc import AiortcMediaBackend  # noqa: E402
from pexbot.events import UpdateSdp  # noqa: E402
from pexbot.sdp import Sdp  # noqa: E402

RED = (220, 40, 40)


@pytest.fixture
async def backend() -> AsyncIterator[AiortcMediaBackend]:
    b = AiortcMediaBackend(card_size=(320, 180), fps=10.0)
    yield b
    await b.aclose()


class HeldUpdates(FakeSignalling):
    """Updates wait for ``release`` before reaching the backend."""

    def __init__(self, backend: AiortcMediaBackend) -> None:
        super().__init__(backend)
        self.release = asyncio.Event()

    async def update(self, call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult:
        self.records.append(("update", body.body()))
        await self.release.wait()
        return await self.backend.update_call(call_uuid, body.sdp)


async def test_node_offer_crossing_ours_is_ignored(backend: AiortcMediaBackend) -> None:
    sig = HeldUpdates(backend)
    call = MediaCall(sig, CallOptions(video_codec="vp8"), video=PatternVideo(RED))
    try:
        await call.start()
        renegotiating = asyncio.ensure_future(call.set_slides_direction("recvonly"))
        await wait_until(lambda: "update" in sig.names(), what="our update")
        offer = call.offer_sdp or ""
        await call.handle_event(UpdateSdp(offer))  # any offer: it must not be looked at
        assert sig.records[-1] == ("ack", {"sdp": "offer_ignored", "offer_ignored": True})
        sig.release.set()
        await asyncio.wait_for(renegotiating, 10)
        assert sig.names()[-1] == "ack" and sig.records[-1][1] == {}
        assert call.state == "connected" and call.restarts == 0
    finally:
        await call.disconnect()


async def test_statistics_of_a_transcoded_call(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    tracks = Tracks()
    call = MediaCall(
        sig, CallOptions(video_codec="vp8"), audio=ToneAudio(), video=PatternVideo(RED),
        on_track=tracks,
    )
    try:
        await call.start()
        video = await tracks.get("main", "video")
        await video.wait_for(30)
        stats = await call.sample_stats()
        await asyncio.sleep(1.0)
        stats = await call.sample_stats()
        print("transcoded stats:", stats.model_dump_json(exclude={"presentation"}))
        assert not stats.direct_media and stats.connection_state == "connected"
        assert 40 <= stats.audio.tx_bitrate_kbps <= 200  # a tone: Opus at ~96 kbit/s
        assert stats.audio.rx_codec == "opus" and stats.video.rx_codec == "VP8"
        assert stats.video.rx_resolution == (320, 180)
        assert stats.video.rx_fps > 3 and stats.video.tx_fps > 5
        assert stats.video.tx_bitrate_kbps > 20
        assert "statistics" not in sig.names()  # posted in direct media only
    finally:
        await call.disconnect()
        await tracks.close()


def ufrag(sdp: str) -> str | None:
    return Sdp.parse(sdp).ice_credentials(0)[0]


async def test_restart_through_the_emulator_keeps_the_streams() -> None:
    """A restart of a transcoded call (a new connection, new ICE credentials, via update):
    the emulator's aiortc backend builds a new connection too, media flows again on the same
    incoming track, numbers still rising."""
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        at_bob = TrailAnalyser()
        handed: list[str] = []

        def on_track(role: str, track: object) -> None:
            handed.append(role)
            feed(at_bob)(role, track)  # type: ignore[arg-type]

        call_a = await alice.call(video=NumberedPattern(ALICE_FIRST), video_codec="vp8")
        call_b = await bob.call(
            video=NumberedPattern(BOB_FIRST), on_track=on_track, video_codec="vp8"
        )
        try:
            await wait_until(lambda: len(at_bob.numbers()) >= 10, what="media before")
            first_offer = call_b.offer_sdp or ""
            started = time.monotonic()
            assert await call_b.restart("test")
            assert ufrag(call_b.offer_sdp or "") != ufrag(first_offer)
            count = len(at_bob.numbers())
            await wait_until(lambda: len(at_bob.numbers()) >= count + 10, what="media after")
            resumed = time.monotonic() - started
            numbers = at_bob.numbers()
            print("transcoded restart:", json.dumps({"media_again_s": round(resumed, 2)}))
            assert strictly_increasing(numbers)
            assert handed.count("main") == 2  # audio and video, once each
            assert call_b.state == "connected" and not call_b.ended.is_set()
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_bob.close()
