"""aiortc accepts what the munging produces, and refuses what it cleans away."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from sdp_samples import CHROME_OFFER, infinity_answer

from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import CallContext
from pexbot.rtc.ice import configuration
from pexbot.rtc.sdp import Sdp, mids, section_roles
from pexbot.rtc.sdp_codecs import prefer_video_codec, video_codec_order
from pexbot.rtc.sdp_remote import copy_candidates_to_bundle, sanitise_remote


async def offerer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(configuration([]))
    pc.addTransceiver("audio")
    pc.addTransceiver("video")
    pc.addTransceiver("video", direction="inactive")
    offer = await pc.createOffer()
    text = prefer_video_codec(offer.sdp, "h264")
    await pc.setLocalDescription(RTCSessionDescription(text, "offer"))
    return pc, text


@pytest.mark.parametrize("slides_rejected", [False, True])
async def test_infinity_answer_needs_and_survives_cleaning(slides_rejected: bool) -> None:
    pc, offer = await offerer()
    try:
        raw = infinity_answer(slides_rejected=slides_rejected)
        with pytest.raises((ValueError, AssertionError, StopIteration)):
            await pc.setRemoteDescription(RTCSessionDescription(raw, "answer"))
    finally:
        await pc.close()

    pc, offer = await offerer()
    try:
        clean = sanitise_remote(raw, local_offer=offer)
        clean = copy_candidates_to_bundle(clean, mids(clean))
        await pc.setRemoteDescription(RTCSessionDescription(clean, "answer"))
        transceivers = pc.getTransceivers()
        assert [t.currentDirection for t in transceivers] == ["sendrecv", "sendrecv", "inactive"]
        ice = transceivers[0].receiver.transport.transport
        # The candidates aiortc can use, from the first section only, reached the transport.
        remote = sorted(c.ip for c in ice.getRemoteCandidates())
        assert remote == ["10.0.0.10", "203.0.113.7"]
    finally:
        await pc.close()


async def test_emulator_answers_a_chrome_offer() -> None:
    backend = AiortcMediaBackend(card_size=(320, 180))
    ctx = CallContext(
        conference_id="c",
        conference_alias="c",
        participant_uuid="p",
        display_name="chrome",
        call_uuid="call-1",
        media_type="video",
        present=None,
        service_type="conference",
        room_id="c",
    )
    try:
        answer = await backend.open_call(ctx, CHROME_OFFER)
        sdp = Sdp.parse(answer)
        assert [(s.kind, s.mid, s.direction) for s in sdp.media] == [
            ("audio", "0", "sendrecv"),
            ("video", "1", "sendrecv"),
            ("video", "2", "inactive"),
        ]
        assert section_roles(answer) == ["audio", "video", "slides"]
        assert sdp.media[2].value("content") == "slides"
        assert all(s.values("candidate") and s.values("ssrc") for s in sdp.media)
        # The answerer follows the caller's order: Chrome listed VP8 first.
        assert video_codec_order(answer)[0][0] == "VP8"
        assert sdp.media[0].values("rtpmap")[0].startswith("111 opus/48000/2")
    finally:
        await backend.aclose()
