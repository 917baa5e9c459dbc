"""MediaCall against the emulator's aiortc backend, in process: wire order, media both ways,
loopback, two participants through the relay, mute, DTMF, disconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import numpy as np
import pytest
from av import VideoFrame
from callkit import (
    FakeSignalling,
    PatternVideo,
    ToneAudio,
    Tracks,
    close_colour,
    read_pattern,
    wait_until,
)

from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.cards import is_waiting_card

log = logging.getLogger(__name__)

RED = (220, 40, 40)
GREEN = (40, 200, 60)


@pytest.fixture
async def backend() -> AsyncIterator[AiortcMediaBackend]:
    b = AiortcMediaBackend(card_size=(320, 180), fps=10.0)
    yield b
    await b.aclose()


def options(**kw: object) -> CallOptions:
    return CallOptions(video_codec="vp8", ice_timeout=15.0, **kw)  # type: ignore[arg-type]


async def test_wire_order_and_media_both_ways(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    tracks = Tracks()
    video = PatternVideo(RED)
    call = MediaCall(sig, options(), audio=ToneAudio(), video=video, on_track=tracks)
    try:
        await call.start()
        names = sig.names()
        # POST calls -> new_candidate x N -> ack {} -> end-of-candidates, as Pexip's client.
        n = names.index("ack") - 1
        assert names[0] == "calls" and n >= 1
        assert names == ["calls"] + ["new_candidate"] * n + ["ack", "new_candidate"]
        calls_body = sig.records[0][1]
        assert calls_body["call_type"] == "WEBRTC" and calls_body["media_type"] == "video"
        assert calls_body["fecc_supported"] is False
        assert "a=candidate" not in calls_body["sdp"]
        assert calls_body["sdp"].count("a=content:main") == 2
        assert calls_body["sdp"].count("a=content:slides") == 1
        for _, body in sig.records[1 : n + 1]:
            assert body["candidate"].startswith("candidate:") and body["mid"] == "0"
            assert body["ufrag"] and "pwd" not in body
        assert sig.records[n + 1][1] == {}
        assert sig.records[-1][1] == {"candidate": "", "mid": "0"}

        # Alone in the conference: the emulator sends the waiting card and silence.
        main_video = await tracks.get("main", "video")
        main_audio = await tracks.get("main", "audio")
        await main_video.wait_for(5)
        await main_audio.wait_for(25)
        assert is_waiting_card(main_video.last)
        assert max(main_audio.rms[-10:]) < 50
        log.info(
            "first frame after start: video %.2f s, audio %.2f s; connected %.2f s",
            main_video.first_at,
            main_audio.first_at,
            call.timings.dtls_connected,
        )

        # And it receives ours.
        leg = backend.leg(call.call_uuid or "")
        await wait_until(lambda: leg.frames_in["video"] >= 5, what="video at the emulator")
        await wait_until(lambda: leg.frames_in["audio"] >= 25, what="audio at the emulator")
        colour, _ = read_pattern(leg.last_in["video"])
        assert close_colour(colour, RED)
        pcm = leg.last_in["audio"].to_ndarray().astype(np.float64)
        assert np.sqrt((pcm**2).mean()) > 1000  # the tone, not silence
    finally:
        await call.disconnect()
        await tracks.close()
    assert sig.names()[-1] == "disconnect"
    assert call.ended.is_set()


async def test_test_call_loops_own_media_back(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend, service_type="test_call")
    tracks = Tracks()
    video = PatternVideo(GREEN)
    call = MediaCall(sig, options(), audio=ToneAudio(), video=video, on_track=tracks)
    try:
        await call.start()
        main_video = await tracks.get("main", "video")
        main_audio = await tracks.get("main", "audio")

        def looped() -> bool:
            if main_video.last is None:
                return False
            colour, _ = read_pattern(main_video.last)
            return close_colour(colour, GREEN)

        await wait_until(looped, what="own video looped back")
        _, first = read_pattern(main_video.last)
        await main_video.wait_for(main_video.frames + 5)
        _, later = read_pattern(main_video.last)
        assert later != first  # moving frames, not one frozen picture
        await wait_until(
            lambda: bool(main_audio.rms) and main_audio.rms[-1] > 1000, what="own tone looped back"
        )
    finally:
        await call.disconnect()
        await tracks.close()


async def test_two_participants_see_each_other(backend: AiortcMediaBackend) -> None:
    sig_a, sig_b = (
        FakeSignalling(backend, participant="a"),
        FakeSignalling(backend, participant="b"),
    )
    tracks_a, tracks_b = Tracks(), Tracks()
    a = MediaCall(sig_a, options(), audio=ToneAudio(), video=PatternVideo(RED), on_track=tracks_a)
    b = MediaCall(
        sig_b, options(), audio=ToneAudio(660), video=PatternVideo(GREEN), on_track=tracks_b
    )
    try:
        await a.start()
        await b.start()
        video_a = await tracks_a.get("main", "video")
        video_b = await tracks_b.get("main", "video")

        def shows(collector: object, colour: tuple[int, int, int]) -> bool:
            last = getattr(collector, "last", None)
            return last is not None and close_colour(read_pattern(last)[0], colour)

        await wait_until(lambda: shows(video_a, GREEN), what="b's video at a")
        await wait_until(lambda: shows(video_b, RED), what="a's video at b")
        audio_a = await tracks_a.get("main", "audio")
        await wait_until(lambda: bool(audio_a.rms) and audio_a.rms[-1] > 1000, what="b's tone")

        # b leaves: a is alone again and gets the waiting card.
        await b.disconnect()
        await wait_until(lambda: is_waiting_card(video_a.last), what="waiting card after b left")
    finally:
        await a.disconnect()
        await b.disconnect()
        await tracks_a.close()
        await tracks_b.close()


async def test_local_mute_sends_black_and_silence(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    call = MediaCall(sig, options(), audio=ToneAudio(), video=PatternVideo(RED))
    try:
        await call.start()
        leg = backend.leg(call.call_uuid or "")
        await wait_until(lambda: "video" in leg.last_in and "audio" in leg.last_in)
        call.set_video_muted(True)
        call.set_audio_muted(True)

        def black_and_silent() -> bool:
            video = leg.last_in["video"]
            assert isinstance(video, VideoFrame)
            rgb = video.to_ndarray(format="rgb24")
            pcm = leg.last_in["audio"].to_ndarray().astype(np.float64)
            return bool(rgb.mean() < 30 and np.sqrt((pcm**2).mean()) < 50)

        await wait_until(black_and_silent, what="black video and silence at the emulator")
        call.set_video_muted(False)
        await wait_until(
            lambda: close_colour(read_pattern(leg.last_in["video"])[0], RED),
            what="video back after unmute",
        )
        await call.send_dtmf("1234#")
        assert ("dtmf", {"digits": "1234#"}) in sig.records
    finally:
        await call.disconnect()


async def test_unconsumed_remote_tracks_are_drained(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    call = MediaCall(sig, options(), audio=ToneAudio(), video=PatternVideo(RED))  # no on_track
    try:
        await call.start()
        receivers = [t.receiver for t in call.pc.getTransceivers()[:2]]
        await wait_until(lambda: all(r.track is not None for r in receivers))
        await wait_until(
            lambda: backend.leg(call.call_uuid or "").outputs["video"].filler_frames >= 10,
            what="cards sent",
        )
        # aiortc's receive queues stay short because the call reads them.
        assert all(r.track._queue.qsize() < 10 for r in receivers)  # type: ignore[attr-defined]
    finally:
        await call.disconnect()


async def test_node_sends_nothing_before_the_ack(backend: AiortcMediaBackend) -> None:
    class HoldAck(FakeSignalling):
        async def ack(self, call_uuid: str, body: wire.AckBody) -> None:
            self.records.append(("ack", body.body()))  # the node does not hear of it yet

    sig = HoldAck(backend)
    tracks = Tracks()
    call = MediaCall(sig, options(), audio=ToneAudio(), video=PatternVideo(RED), on_track=tracks)
    try:
        await call.start()  # ICE and DTLS come up without the ack
        video = await tracks.get("main", "video")
        audio = await tracks.get("main", "audio")
        await asyncio.sleep(1.0)
        assert (video.frames, audio.frames) == (0, 0)
        await backend.ack(call.call_uuid or "")
        await video.wait_for(3)
        await audio.wait_for(10)
    finally:
        await call.disconnect()
        await tracks.close()
