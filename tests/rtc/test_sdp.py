"""Pure SDP munging on aiortc-generated and Chrome/Infinity-style SDP (no sockets)."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection
from sdp_samples import CHROME_OFFER, infinity_answer

from pexbot import wire
from pexbot.rtc.ice import end_of_candidates, ice_servers, remote_candidate
from pexbot.rtc.sdp import (
    Direction,
    Sdp,
    add_content,
    extract_candidates,
    offer_roles,
    section_roles,
    sections_without_ssrc,
    set_direction,
    strip_candidates,
)
from pexbot.rtc.sdp_codecs import payload_types, prefer_video_codec, video_codec_order
from pexbot.rtc.sdp_remote import (
    candidate_type,
    candidate_usable,
    copy_candidates_to_bundle,
    sanitise_remote,
)


async def aiortc_offer() -> str:
    """A real aiortc offer (createOffer gathers nothing: no sockets)."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio")
    pc.addTransceiver("video")
    pc.addTransceiver("video", direction="inactive")
    offer = await pc.createOffer()
    await pc.close()
    return str(offer.sdp)


def lines_after(sdp: str, prefix: str) -> list[str]:
    lines = sdp.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line.startswith(prefix)]


def test_round_trip_keeps_every_line() -> None:
    assert str(Sdp.parse(CHROME_OFFER)) == CHROME_OFFER
    assert Sdp.parse(CHROME_OFFER).bundle() == ["0", "1", "2"]


async def test_content_goes_right_after_each_mid() -> None:
    offer = await aiortc_offer()
    out = add_content(offer, ["audio", "video", "slides"])
    assert lines_after(out, "a=mid:") == ["a=content:main", "a=content:main", "a=content:slides"]
    # Idempotent, and no other line changed.
    assert add_content(out, ["audio", "video", "slides"]) == out
    assert [x for x in out.splitlines() if not x.startswith("a=content")] == offer.splitlines()


def test_content_replaces_existing_and_skips_unknown_roles() -> None:
    marked = add_content(CHROME_OFFER, ["audio", "video", "video"])
    out = add_content(marked, ["audio", None, "slides"])
    assert lines_after(out, "a=mid:") == ["a=content:main", "a=content:main", "a=content:slides"]
    assert out.count("a=content:") == 3


@pytest.mark.parametrize(
    ("media_type", "present", "roles"),
    [
        ("video", None, ["audio", "video", "slides"]),
        ("video", "main", ["audio", "video"]),
        ("video-only", None, ["audio", "video"]),
        ("audio", None, ["audio"]),
        ("audio", "main", ["audio"]),
    ],
)
def test_offer_shape(media_type: wire.CallType, present: str | None, roles: list[str]) -> None:
    assert offer_roles(media_type, present) == roles


async def test_section_roles_from_content_or_position() -> None:
    offer = await aiortc_offer()
    assert section_roles(offer) == ["audio", "video", "slides"]
    assert section_roles(CHROME_OFFER) == ["audio", "video", "slides"]
    # a=content:slides wins over position.
    swapped = add_content(offer, ["audio", "slides", "video"])
    assert section_roles(swapped) == ["audio", "slides", "video"]


def test_chrome_offer_h264_first_like_pexip() -> None:
    out = prefer_video_codec(CHROME_OFFER, "h264")
    main = Sdp.parse(out).media[1]
    # Only constrained baseline + packetization-mode 1 survives of H.264, first, with its RTX.
    assert main.formats == ["106", "107", "96", "97", "98", "99", "45", "46", "116", "117", "118"]
    assert [p.pt for p in payload_types(main) if p.name == "H264"] == ["106"]
    # aiortc ranks codecs by rtpmap line order: it must follow the m= line.
    assert [v.split()[0] for v in main.values("rtpmap")] == main.formats
    for pt in ("102", "103", "104", "105", "108", "109", "112", "113"):
        assert not any(line.split(" ")[0].endswith(f":{pt}") for line in main.lines[1:])
    assert "a=rtcp-fb:106 nack pli" in main.lines
    # Audio untouched; slides reordered too.
    assert Sdp.parse(out).media[0].lines == Sdp.parse(CHROME_OFFER).media[0].lines
    assert Sdp.parse(out).media[2].formats == ["106", "107", "96", "97"]


def test_chrome_offer_vp8_first() -> None:
    out = prefer_video_codec(CHROME_OFFER, "vp8")
    assert video_codec_order(out)[0][:4] == ["VP8", "RTX", "H264", "RTX"]
    assert video_codec_order(out)[0].count("H264") == 1
    keep_all = prefer_video_codec(CHROME_OFFER, "vp8", single_h264=False)
    assert video_codec_order(keep_all)[0].count("H264") == 5


async def test_aiortc_offer_codec_preference() -> None:
    offer = await aiortc_offer()
    assert video_codec_order(offer)[0] == ["VP8", "RTX", "H264", "RTX", "H264", "RTX"]
    h264 = prefer_video_codec(offer, "h264")
    assert video_codec_order(h264) == [["H264", "RTX", "VP8", "RTX"]] * 2
    h264_pt = Sdp.parse(h264).media[1].formats[0]
    fmtp = Sdp.parse(h264).media[1].value("fmtp") or ""
    assert fmtp.startswith(h264_pt) and "profile-level-id=42e01f" in fmtp
    assert "packetization-mode=1" in fmtp
    assert video_codec_order(prefer_video_codec(h264, "vp8"))[0][0] == "VP8"


def test_sanitise_infinity_answer() -> None:
    out = sanitise_remote(infinity_answer())
    audio = Sdp.parse(out).media[0]
    assert "b=TIAS" not in out and "b=AS:128" in out
    assert "a=fmtp:120 0-15" not in out  # fmtp with no rtpmap
    assert "a=ssrc:4002" not in audio.lines and "a=ssrc:4001 cname:infinity" in audio.lines
    candidates = audio.values("candidate")
    assert [c.split()[0] for c in candidates] == ["1", "3", "5"]  # tcp and host name dropped
    assert audio.value("end-of-candidates") == ""


def test_candidate_usable() -> None:
    assert candidate_usable("candidate:1 1 udp 1 10.0.0.1 5000 typ host")
    assert candidate_usable("a=candidate:1 1 UDP 1 fd00::1 5000 typ host")
    assert candidate_usable("candidate:1 1 udp 1 abc.local 5000 typ host")
    assert not candidate_usable("candidate:1 1 tcp 1 10.0.0.1 443 typ host tcptype passive")
    assert not candidate_usable("candidate:1 1 udp 1 node.example.com 5000 typ host")
    assert not candidate_usable("candidate:garbage")
    assert candidate_type("1 1 udp 1 10.0.0.1 5000 typ relay raddr 1.2.3.4 rport 9") == "relay"


def test_copy_candidates_across_the_bundle() -> None:
    out = copy_candidates_to_bundle(sanitise_remote(infinity_answer()))
    sections = Sdp.parse(out).media
    for section in sections:
        assert [c.split()[0] for c in section.values("candidate")] == ["1", "3", "5"]
        assert section.value("end-of-candidates") == ""
    # Not bundled: nothing to copy, unless we say which sections share a transport.
    unbundled = infinity_answer().replace("a=group:BUNDLE 0 1 2\r\n", "")
    assert copy_candidates_to_bundle(unbundled) == unbundled
    shared = Sdp.parse(copy_candidates_to_bundle(unbundled, ["0", "2"])).media
    assert [len(s.values("candidate")) for s in shared] == [5, 0, 5]


async def test_rejected_minimal_section_rebuilt_from_our_offer() -> None:
    offer = prefer_video_codec(await aiortc_offer(), "h264")
    answer = infinity_answer(slides_rejected=True)
    out = Sdp.parse(sanitise_remote(answer, local_offer=offer))
    slides = out.media[2]
    assert slides.port == 0 and slides.mid == "2" and slides.direction == "inactive"
    assert slides.value("ice-ufrag") == "NoDe" and slides.value("setup") == "active"
    assert slides.value("rtcp-mux") == ""
    assert slides.formats == Sdp.parse(offer).media[2].formats
    # Without our offer the section is left alone.
    assert "m=video 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:2\r\n" in sanitise_remote(answer)


async def test_strip_and_extract_candidates() -> None:
    with_candidates = copy_candidates_to_bundle(sanitise_remote(infinity_answer()))
    found = extract_candidates(with_candidates)
    assert [(f.mid, f.ufrag, f.complete) for f in found] == [
        ("0", "NoDe", True),
        ("1", "NoDe", True),
        ("2", "NoDe", True),
    ]
    assert found[0].candidates[0] == "candidate:1 1 udp 2130706431 10.0.0.10 40000 typ host"
    assert found[0].pwd == "n0d3p4ssw0rdn0d3p4ssw0rd"
    stripped = strip_candidates(with_candidates)
    assert "a=candidate" not in stripped and "a=end-of-candidates" not in stripped
    assert all(not f.candidates for f in extract_candidates(stripped))


def test_session_level_ice_credentials() -> None:
    text = "v=0\r\na=ice-ufrag:sess\r\na=ice-pwd:sesspwd\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\n"
    assert extract_candidates(text)[0].ufrag == "sess"
    assert extract_candidates(text)[0].pwd == "sesspwd"


async def test_set_direction() -> None:
    offer = await aiortc_offer()
    directions: list[Direction] = ["sendonly", "recvonly", "inactive", "sendrecv"]
    for direction in directions:
        out = set_direction(offer, 2, direction)
        assert Sdp.parse(out).media[2].direction == direction
        assert Sdp.parse(out).media[1].direction == "sendrecv"
        assert sum(line == f"a={direction}" for line in Sdp.parse(out).media[2].lines) == 1


async def test_sections_without_ssrc() -> None:
    offer = await aiortc_offer()
    assert sections_without_ssrc(offer) == []
    no_ssrc = "\r\n".join(x for x in offer.splitlines() if not x.startswith("a=ssrc")) + "\r\n"
    # The inactive slides line sends nothing, so only the two sendrecv lines are flagged.
    assert sections_without_ssrc(no_ssrc) == ["0", "1"]


def test_ice_servers_from_request_token() -> None:
    stun = [wire.StunServer(url="stun:stun.example.com:3478"), wire.StunServer(url="bogus:x")]
    turn = [
        wire.TurnServer(
            urls=["turn:turn.example.com:3478?transport=udp", "nonsense"],
            username="u",
            credential="c",
        ),
        wire.TurnServer(urls=["also-nonsense"]),
    ]
    servers = ice_servers(stun, turn)
    assert [s.urls for s in servers] == [
        "stun:stun.example.com:3478",
        ["turn:turn.example.com:3478?transport=udp"],
    ]
    assert servers[1].username == "u" and servers[1].credential == "c"
    assert ice_servers(None, None) == []  # never None: aiortc would use Google's STUN


def test_remote_candidate_parsing() -> None:
    parsed = remote_candidate("candidate:1 1 udp 2130706431 10.0.0.10 40000 typ host", "0")
    assert parsed is not None and parsed.ip == "10.0.0.10" and parsed.port == 40000
    assert parsed.sdpMid == "0"
    assert remote_candidate("", "0") is None
    assert end_of_candidates().body() == {"candidate": "", "mid": "0"}


def test_call_options_from_request_token() -> None:
    from pexbot.call.media_call import CallOptions

    info = wire.RequestTokenResult.model_validate(
        {
            "token": "t",
            "expires": "120",
            "participant_uuid": "p",
            "display_name": "bot",
            "role": "GUEST",
            "version": {"version_id": "35"},
            "current_service_type": "conference",
            "call_type": "video-only",
            "stun": [{"url": "stun:stun.example.com:19302"}],
            "turn": [{"urls": ["turn:t.example.com:3478"], "username": "u", "credential": "c"}],
            "use_relay_candidates_only": True,
        }
    )
    opts = CallOptions.from_token(info, video_codec="vp8")
    assert opts.media_type == "video-only" and opts.relay_only and opts.video_codec == "vp8"
    assert [s.urls for s in opts.ice_servers] == [
        "stun:stun.example.com:19302",
        ["turn:t.example.com:3478"],
    ]
    bare = info.model_copy(update={"stun": None, "turn": None, "call_type": None})
    assert CallOptions.from_token(bare).ice_servers == ()
    assert CallOptions.from_token(bare).media_type == "video"
