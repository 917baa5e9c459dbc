"""Video codec preference in SDP text, the way Pexip's own client munges it.

Pexip's client keeps a single H.264 flavour, constrained baseline with packetization-mode 1,
and moves it to the front of every video m-line, in its offers and in the node's answers
before applying them. The sender uses the first codec both sides share, so the order decides
what is sent: aiortc sends the first codec of the remote description's list, and an aiortc
answerer keeps the offer's order. VP8 can be put first instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiortc.sdp import H264Profile, parse_h264_profile_level_id

from .sdp import MediaSection, Sdp, split_attribute

VideoCodec = Literal["h264", "vp8"]
VIDEO_CODECS: tuple[VideoCodec, ...] = ("h264", "vp8")


@dataclass(frozen=True)
class PayloadType:
    pt: str
    name: str  # upper case encoding name: VP8, H264, RTX, ...
    params: dict[str, str]

    @property
    def apt(self) -> str | None:
        return self.params.get("apt")

    @property
    def constrained_baseline_pm1(self) -> bool:
        """H.264 constrained baseline with packetization-mode 1 (what WebRTC peers share)."""
        if self.name != "H264" or self.params.get("packetization-mode", "0") != "1":
            return False
        try:
            profile, _ = parse_h264_profile_level_id(self.params.get("profile-level-id", "42e01f"))
        except ValueError:
            return False
        return bool(profile == H264Profile.PROFILE_CONSTRAINED_BASELINE)


def payload_types(section: MediaSection) -> list[PayloadType]:
    """The section's payload types in m-line order, with encoding names and fmtp parameters."""
    names: dict[str, str] = {}
    for value in section.values("rtpmap"):
        pt, _, desc = value.partition(" ")
        names[pt] = desc.split("/", 1)[0].upper()
    params: dict[str, dict[str, str]] = {}
    for value in section.values("fmtp"):
        pt, _, desc = value.partition(" ")
        parsed: dict[str, str] = {}
        for item in desc.split(";"):
            key, _, val = item.strip().partition("=")
            if key:
                parsed[key] = val
        params[pt] = parsed
    return [PayloadType(pt, names.get(pt, ""), params.get(pt, {})) for pt in section.formats]


def video_codec_order(sdp_text: str) -> list[list[str]]:
    """Encoding names of each video section in preference order (for tests and logs)."""
    return [
        [p.name for p in payload_types(s)] for s in Sdp.parse(sdp_text).media if s.kind == "video"
    ]


def prefer_video_codec(sdp_text: str, codec: VideoCodec, *, single_h264: bool = True) -> str:
    """Put ``codec`` (and its RTX) first on every video m-line.

    With ``single_h264`` and a constrained-baseline packetization-mode-1 H.264 present, every
    other H.264 payload type (and its RTX) is removed, as Pexip's client does; H.264 then means
    that one flavour in both directions.
    """
    sdp = Sdp.parse(sdp_text)
    for section in sdp.media:
        if section.kind == "video" and section.port != 0:
            _reorder(section, codec, single_h264=single_h264)
    return str(sdp)


def _reorder(section: MediaSection, codec: VideoCodec, *, single_h264: bool) -> None:
    types = payload_types(section)
    rtx_of = {p.apt: p.pt for p in types if p.name == "RTX" and p.apt is not None}
    dropped: set[str] = set()
    chosen_h264 = next((p for p in types if p.constrained_baseline_pm1), None)
    if single_h264 and chosen_h264 is not None:
        for p in types:
            if p.name == "H264" and p.pt != chosen_h264.pt:
                dropped.add(p.pt)
                if p.pt in rtx_of:
                    dropped.add(rtx_of[p.pt])
    if codec == "h264":
        first = [chosen_h264.pt] if chosen_h264 is not None else []
    else:
        first = [p.pt for p in types if p.name == "VP8"][:1]
    order: list[str] = []
    for pt in first:
        order.append(pt)
        if pt in rtx_of:
            order.append(rtx_of[pt])
    order += [p.pt for p in types if p.pt not in order and p.pt not in dropped]
    section.set_formats(order)
    _reorder_codec_lines(section, order)


def _reorder_codec_lines(section: MediaSection, order: list[str]) -> None:
    # aiortc takes codec preference from the order of the a=rtpmap lines, not the m= line, so
    # each payload type's rtpmap / rtcp-fb / fmtp lines move with it (dropped types vanish).
    by_pt: dict[str, list[str]] = {pt: [] for pt in order}
    first: int | None = None
    rest: list[str] = []
    for line in section.lines:
        pt = _payload_of(line)
        if pt is None or pt == "*":
            rest.append(line)
            continue
        if first is None:
            first = len(rest)
        if pt in by_pt:
            by_pt[pt].append(line)
    if first is None:
        return
    codec_lines = [line for pt in order for line in by_pt[pt]]
    section.lines[:] = rest[:first] + codec_lines + rest[first:]


def _payload_of(line: str) -> str | None:
    attr, value = split_attribute(line)
    if attr in ("rtpmap", "fmtp", "rtcp-fb") and value:
        return value.split(" ", 1)[0]
    return None
