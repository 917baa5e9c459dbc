"""The slides m-line: sent after an update to sendonly, received after an update to recvonly,
through the emulator's relay between two participants; wire order of each renegotiation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from callkit import (
    Collector,
    FakeSignalling,
    PatternVideo,
    Tracks,
    close_colour,
    read_pattern,
    wait_until,
)

from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.cards import is_waiting_card
from pexbot.errors import CallError, NodeUnavailable
from pexbot.rtc.sdp import MediaRole, Sdp

BLUE = (30, 60, 230)
YELLOW = (230, 210, 30)
RED = (220, 40, 40)
GREEN = (40, 200, 60)


@pytest.fixture
async def backend() -> AsyncIterator[AiortcMediaBackend]:
    b = AiortcMediaBackend(card_size=(320, 180), fps=10.0)
    yield b
    await b.aclose()


def shows(collector: Collector, colour: tuple[int, int, int]) -> bool:
    return collector.last is not None and close_colour(read_pattern(collector.last)[0], colour)


async def test_presentation_both_ways_between_two_participants(
    backend: AiortcMediaBackend,
) -> None:
    opts = CallOptions(video_codec="vp8")
    sig_a, sig_b = (
        FakeSignalling(backend, participant="a"),
        FakeSignalling(backend, participant="b"),
    )
    tracks_a, tracks_b = Tracks(), Tracks()
    a = MediaCall(sig_a, opts, video=PatternVideo(RED), on_track=tracks_a)
    b = MediaCall(sig_b, opts, video=PatternVideo(GREEN), on_track=tracks_b)
    try:
        await a.start()
        await b.start()
        leg_a = backend.leg(a.call_uuid or "")

        # a presents: take_floor -> update (slides sendonly) -> ack {}.
        mark = len(sig_a.records)
        await a.start_presenting(PatternVideo(BLUE, fps=5.0))
        assert sig_a.names()[mark:] == ["take_floor", "update", "ack"]
        update_sdp = sig_a.records[mark + 1][1]["sdp"]
        slides = Sdp.parse(update_sdp).media[2]
        assert slides.direction == "sendonly" and slides.value("content") == "slides"
        assert sig_a.records[mark + 2][1] == {}
        await wait_until(lambda: leg_a.frames_in["slides"] >= 3, what="a's slides at the node")
        assert close_colour(read_pattern(leg_a.last_in["slides"])[0], BLUE)

        # b receives it: update (slides recvonly) -> ack; the track comes as "presentation".
        await b.receive_presentation()
        pres_b = await tracks_b.get("presentation", "video")
        await wait_until(lambda: shows(pres_b, BLUE), what="a's slides at b")
        main_b = await tracks_b.get("main", "video")
        assert shows(main_b, RED)  # main video still a's camera

        # Now b presents and a receives: a's own presentation stops first.
        await b.start_presenting(PatternVideo(YELLOW, fps=5.0))
        mark = len(sig_a.records)
        await a.receive_presentation()
        assert sig_a.names()[mark:] == ["release_floor", "update", "ack", "update", "ack"]
        assert not a.presenting
        pres_a = await tracks_a.get("presentation", "video")
        await wait_until(lambda: shows(pres_a, YELLOW), what="b's slides at a")

        # b stops: a's slides line gets the waiting card, as nobody presents.
        await b.stop_presenting()
        await wait_until(lambda: is_waiting_card(pres_a.last), what="card after b stopped")
        await a.stop_receiving_presentation()
        assert Sdp.parse(sig_a.records[-2][1]["sdp"]).media[2].direction == "inactive"
    finally:
        await a.disconnect()
        await b.disconnect()
        await tracks_a.close()
        await tracks_b.close()


async def test_present_main_and_video_only_have_no_slides_line(
    backend: AiortcMediaBackend,
) -> None:
    for opts in (
        CallOptions(video_codec="vp8", present="main"),
        CallOptions(video_codec="vp8", media_type="video-only"),
    ):
        sig = FakeSignalling(backend)
        call = MediaCall(sig, opts, video=PatternVideo(RED))
        try:
            await call.start()
            body = sig.records[0][1]
            sdp = Sdp.parse(body["sdp"])
            assert [s.kind for s in sdp.media] == ["audio", "video"]
            assert body.get("present") == opts.present
            assert body["media_type"] == opts.media_type
            with pytest.raises(CallError, match="no presentation line"):
                await call.start_presenting(PatternVideo(BLUE))
        finally:
            await call.disconnect()


async def test_audio_only_call(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    tracks = Tracks()
    call = MediaCall(sig, CallOptions(media_type="audio"), on_track=tracks)
    try:
        await call.start()
        assert [s.kind for s in Sdp.parse(sig.records[0][1]["sdp"]).media] == ["audio"]
        audio = await tracks.get("main", "audio")
        await audio.wait_for(10)
        assert list(tracks.collectors) == [("main", "audio")]
    finally:
        await call.disconnect()
        await tracks.close()


async def test_failed_renegotiation_gives_the_floor_back(backend: AiortcMediaBackend) -> None:
    """take_floor granted, then the node refuses the update: the call puts itself back (not
    presenting, no source, release_floor) before raising; a second try works."""
    sig = FakeSignalling(backend, participant="a")
    call = MediaCall(sig, CallOptions(video_codec="vp8"), video=PatternVideo(RED))
    real_update = sig.update
    refusals = 1

    async def refusing(call_uuid: str, body: wire.UpdateBody) -> str | wire.UpdateResult:
        nonlocal refusals
        if refusals:
            refusals -= 1
            sig.records.append(("update", body.body()))
            raise NodeUnavailable("participants/a/calls/x/update", 502, "Bad gateway")
        return await real_update(call_uuid, body)

    sig.update = refusing  # type: ignore[method-assign]
    try:
        await call.start()
        mark = len(sig.records)
        with pytest.raises(NodeUnavailable):
            await call.start_presenting(PatternVideo(BLUE, fps=5.0))
        assert not call.presenting and call.slides.source is None
        after = sig.names()[mark:]
        assert after[:3] == ["take_floor", "update", "release_floor"]
        assert after[3:] == ["update", "ack"]  # the line back to inactive
        assert call.current_peer is not None
        assert call.current_peer.negotiated_direction("slides") == "inactive"

        await call.start_presenting(PatternVideo(BLUE, fps=5.0))
        assert call.presenting and call.current_peer.negotiated_direction("slides") == "sendonly"
    finally:
        await call.disconnect()


async def test_rollback_takes_back_a_reoffer_on_the_same_connection() -> None:
    """aiortc has no rollback; the compat helper's must leave a live connection able to answer
    the far end's offer on the same transports (this guards it against aiortc upgrades)."""
    from aiortc import RTCConfiguration

    from pexbot.call.media import CallMedia
    from pexbot.rtc import aiortc_compat
    from pexbot.rtc.peer import Peer

    roles: list[MediaRole] = ["audio", "video", "slides"]
    media_a, media_b = CallMedia(roles), CallMedia(roles)
    peers = [
        Peer(
            n,
            RTCConfiguration(iceServers=[]),
            roles=roles,
            outgoing=m.outgoing,
            counters=m.counters,
            on_track=lambda *_: None,
            munge_remote=False,
        )
        for n, m in ((1, media_a), (2, media_b))
    ]
    a, b = peers
    try:
        assert aiortc_compat.aiortc_tested()
        offer = await a.create_offer()
        await a.set_local_offer(offer)
        answer = await b.answer_offer(a.local_description(), presenting=False)
        await a.apply_answer(answer, a.local_description())
        ufrag = a.remote_ice_ufrag()

        assert not a.rollback()  # nothing pending
        await a.set_local_offer(await a.create_offer("sendonly"))
        assert a.pc.signalingState == "have-local-offer"
        assert a.rollback() and a.pc.signalingState == "stable"
        # b's offer (b presents) is answered on a's same connection
        await b.set_local_offer(await b.create_offer("sendonly"))
        reply = await a.answer_offer(b.local_description(), presenting=True)
        await b.apply_answer(reply, b.local_description())
        assert a.pc.signalingState == b.pc.signalingState == "stable"
        assert a.remote_ice_ufrag() == ufrag  # the same far end connection
        assert a.negotiated_direction("slides") == "recvonly"  # theirs wins over our presenting
        assert b.negotiated_direction("slides") == "sendonly"
    finally:
        for peer in peers:
            await peer.close()
        await media_a.close()
        await media_b.close()
