"""One codec per kind for the whole forwarding conference: the offer cut down before it is answered.

A forwarder passes every participant's encoded frames to others as they are, so every sender
and every receiver of a room must use the same codec: the emulator in forward mode keeps, in
each offer, only one video codec (VP8 by default, or constrained-baseline H.264 with
packetization-mode 1, the flavour WebRTC peers share) with its RTX, and only Opus on audio.
The answer then offers nothing else, so both directions of every call use exactly that codec,
whatever order the caller listed its codecs in.

Pure: SDP text in, SDP text out (:class:`pexbot.rtc.sdp.Sdp`); no sockets.
"""

from __future__ import annotations

from pexbot.errors import NegotiationError
from pexbot.rtc.sdp import MediaSection, Sdp, split_attribute
from pexbot.rtc.sdp_codecs import PayloadType, VideoCodec, payload_types

__all__ = ["codec_name", "single_codec_offer"]


def codec_name(codec: VideoCodec) -> str:
    """The encoding name a tapped receiver reports for ``codec`` (``EncodedFrame.codec``)."""
    return "H264" if codec == "h264" else "VP8"


def single_codec_offer(offer_sdp: str, video_codec: VideoCodec) -> str:
    """The offer with only ``video_codec`` (and its RTX) on video m-lines and only Opus on audio
    m-lines; rejected m-lines (port 0) are left alone.

    Raises :class:`NegotiationError` when an active m-line has no such codec: a forwarder
    cannot translate, so such a caller could neither send nor receive anything.
    """
    sdp = Sdp.parse(offer_sdp)
    for index, section in enumerate(sdp.media):
        if section.port == 0 or section.kind not in ("audio", "video"):
            continue
        types = payload_types(section)
        chosen = _chosen(types, section.kind, video_codec)
        if chosen is None:
            wanted = "Opus" if section.kind == "audio" else codec_name(video_codec)
            offered = ", ".join(sorted({p.name for p in types if p.name != "RTX"})) or "none"
            raise NegotiationError(
                f"forwarding emulator: m-line {index} ({section.kind}) offers no {wanted} "
                f"(offered: {offered}); every participant must send {wanted} to be forwarded"
            )
        keep = [chosen.pt] + [p.pt for p in types if p.name == "RTX" and p.apt == chosen.pt]
        _keep_payloads(section, keep)
    return str(sdp)


def _chosen(types: list[PayloadType], kind: str, video_codec: VideoCodec) -> PayloadType | None:
    if kind == "audio":
        return next((p for p in types if p.name == "OPUS"), None)
    if video_codec == "vp8":
        return next((p for p in types if p.name == "VP8"), None)
    h264 = [p for p in types if p.name == "H264"]
    return next((p for p in h264 if p.constrained_baseline_pm1), h264[0] if h264 else None)


def _keep_payloads(section: MediaSection, keep: list[str]) -> None:
    kept = set(keep)
    section.set_formats(keep)

    def dropped(line: str) -> bool:
        attr, value = split_attribute(line)
        if attr not in ("rtpmap", "fmtp", "rtcp-fb") or not value:
            return False
        pt = value.split(" ", 1)[0]
        return pt != "*" and pt not in kept

    section.drop_lines(dropped)
