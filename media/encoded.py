"""Encoded media as it travels: one received frame, still compressed, and what can be read off it
without a decoder (pure).

A receiver tapped for encoded media (``pexbot.rtc.encoded.tap_encoded``) delivers
:class:`EncodedFrame` objects from its track's ``recv()`` instead of decoded frames: the jitter
buffer has reassembled the frame from its RTP packets and depayloaded it (VP8: the frame as a
VP8 decoder takes it; H.264: Annex B NAL units with start codes; Opus: one packet), but nothing
has decoded it. Passthrough recording, the forwarding emulator and load bots that verify
without decoding all read these.

:func:`as_packet` turns a frame back into an ``av.Packet`` for a muxer or for a sender (aiortc's
sender packetizes an ``av.Packet`` without encoding it).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000

_H264_START = b"\x00\x00\x01"
_H264_IDR = 5
_H264_SPS = 7


#: the time bases of the RTP clocks in use (constants, shared by every frame)
_TIME_BASES = {rate: Fraction(1, rate) for rate in (90_000, 48_000, 16_000, 8_000)}


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One frame as received: ``timestamp`` is the RTP timestamp mapped to start at 0 (aiortc's
    timestamp mapper, so it survives wrap-around), in units of ``clock_rate``; ``arrival`` is the
    receiver's monotonic clock when the frame was complete."""

    codec: str  # "VP8", "H264", "opus", ...
    data: bytes
    timestamp: int
    clock_rate: int
    arrival: float
    keyframe: bool

    @property
    def kind(self) -> str:
        return "video" if self.clock_rate == VIDEO_CLOCK and self.codec != "opus" else "audio"

    @property
    def time_base(self) -> Fraction:
        # (a Fraction made per frame per consumer showed in a recorder's profile)
        return _TIME_BASES.get(self.clock_rate) or Fraction(1, self.clock_rate)

    @property
    def seconds(self) -> float:
        return self.timestamp / self.clock_rate


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether a depayloaded frame starts a decodable picture (audio frames always do)."""
    name = codec.upper()
    if name == "VP8":
        return vp8_is_keyframe(data)
    if name == "H264":
        return h264_is_keyframe(data)
    return True


def vp8_is_keyframe(data: bytes) -> bool:
    """RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame, which also carries the
    start code 9d 01 2a at bytes 3..5."""
    return len(data) >= 6 and (data[0] & 0x01) == 0 and data[3:6] == b"\x9d\x01\x2a"


def vp8_frame_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame's header, None for inter frames."""
    if not vp8_is_keyframe(data) or len(data) < 10:
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return width, height


def h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex B buffer, in order."""
    types: list[int] = []
    pos = data.find(_H264_START)
    while pos != -1 and pos + 3 < len(data):
        types.append(data[pos + 3] & 0x1F)
        pos = data.find(_H264_START, pos + 3)
    return types


def h264_is_keyframe(data: bytes) -> bool:
    """An IDR slice, or parameter sets (which senders put in front of their IDR slices)."""
    types = h264_nal_types(data)
    return _H264_IDR in types or _H264_SPS in types


def as_packet(frame: EncodedFrame, *, pts: int | None = None) -> av.Packet:  # type: ignore[type-arg]
    """An ``av.Packet`` of the frame's bytes, stamped ``pts`` (default: its own timestamp) in
    its clock's time base, marked a keyframe when it is one."""
    packet = av.Packet(frame.data)
    packet.pts = frame.timestamp if pts is None else pts
    packet.dts = packet.pts
    packet.time_base = frame.time_base
    packet.is_keyframe = frame.keyframe
    return packet


__all__ = [
    "AUDIO_CLOCK",
    "VIDEO_CLOCK",
    "EncodedFrame",
    "as_packet",
    "h264_is_keyframe",
    "h264_nal_types",
    "is_keyframe",
    "vp8_frame_size",
    "vp8_is_keyframe",
]
