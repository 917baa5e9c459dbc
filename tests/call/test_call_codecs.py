"""VP8 and H.264 (constrained baseline, packetization-mode 1) in each direction."""

from __future__ import annotations

import pytest
from callkit import FakeSignalling, PatternVideo, Tracks, close_colour, read_pattern, wait_until

from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.cards import is_waiting_card
from pexbot.rtc.sdp_codecs import VideoCodec, video_codec_order

RED = (220, 40, 40)
MIME = {"h264": "video/H264", "vp8": "video/VP8"}


def send_codec(pc: object, index: int) -> str:
    transceiver = pc.getTransceivers()[index]  # type: ignore[attr-defined]
    return str(transceiver._codecs[0].mimeType)


@pytest.mark.parametrize(
    ("client", "node"),
    [("h264", None), ("vp8", None), ("h264", "vp8"), ("vp8", "h264")],
)
async def test_codec_each_direction(client: VideoCodec, node: VideoCodec | None) -> None:
    backend = AiortcMediaBackend(card_size=(320, 180), fps=10.0, video_codec=node)
    sig = FakeSignalling(backend)
    tracks = Tracks()
    call = MediaCall(sig, CallOptions(video_codec=client), video=PatternVideo(RED), on_track=tracks)
    try:
        await call.start()
        offered = video_codec_order(sig.records[0][1]["sdp"])
        assert offered[0][0] == client.upper()
        assert offered[0].count("H264") == 1  # one H.264 flavour, as Pexip's client offers
        # What each side sends: ours is our preference; the node's is its own, or ours.
        assert send_codec(call.pc, 1) == MIME[client]
        node_pc = backend.peer_connection(call.call_uuid or "")
        assert send_codec(node_pc, 1) == MIME[node or client]

        leg = backend.leg(call.call_uuid or "")
        await wait_until(lambda: leg.frames_in["video"] >= 5, what="our video at the node")
        assert close_colour(read_pattern(leg.last_in["video"])[0], RED)
        video = await tracks.get("main", "video")
        await video.wait_for(5)
        assert is_waiting_card(video.last)
    finally:
        await call.disconnect()
        await tracks.close()
        await backend.aclose()
