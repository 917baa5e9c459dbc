"""Whether a received video frame is whole, read off its bytes (pure; no decoder).

aiortc's jitter buffer starts at the first packet it gets, and after a reset (a sequence jump,
an overflow) at whatever packet comes next: the first frame it then hands over can be the tail
of a frame whose first packets it never had. The tail of an H.264 IDR frame still holds IDR
slices, so :func:`media.encoded.h264_is_keyframe` takes it for a keyframe, yet it has no
parameter sets and lacks the top of the picture. Written first into a Matroska file it fails the
muxer: FFmpeg builds the H.264 CodecPrivate (avcC) from the first packet when the stream has no
extradata, and without SPS/PPS there it gives up with "Invalid data found when processing
input" (a presentation is where this shows: its stream starts while the call is up, and its
first packets can come before the receiver takes them). Anywhere in a file such a frame does
not decode.

A frame is whole when it starts where a frame starts:

* H.264 (Annex B): the data opens with a start code and its first slice starts at macroblock 0
  (``first_mb_in_slice``, the slice header's first field, is 0: its first bit is 1). A frame to
  start a stream from must also be an IDR with its SPS and PPS in front.
* VP8 (RFC 6386 9.1): the 3-byte frame tag has version 0-3 and a first partition that fits in
  the data; a key frame also carries the start code 9d 01 2a.
"""

from __future__ import annotations

_START = b"\x00\x00\x01"
_SLICE = 1
_IDR = 5
_SPS = 7
_PPS = 8


def h264_units(data: bytes) -> list[tuple[int, int]]:
    """(NAL type, offset of the NAL header byte) of each unit of an Annex B buffer."""
    units: list[tuple[int, int]] = []
    pos = data.find(_START)
    while pos != -1 and pos + 3 < len(data):
        header = pos + 3
        units.append((data[header] & 0x1F, header))
        pos = data.find(_START, header)
    return units


def h264_whole(data: bytes, *, start: bool = False) -> bool:
    """Whether an Annex B access unit begins with its first slice (and, with ``start``, is an
    IDR with SPS and PPS before it: a stream can begin there)."""
    if not (data.startswith(_START) or data.startswith(b"\x00" + _START)):
        return False
    seen: set[int] = set()
    for kind, header in h264_units(data):
        if _SLICE <= kind <= _IDR:
            if header + 1 >= len(data) or not data[header + 1] & 0x80:
                return False  # not the slice at macroblock 0: the frame's head is missing
            return not start or (kind == _IDR and {_SPS, _PPS} <= seen)
        seen.add(kind)
    return False  # no slice at all


def vp8_whole(data: bytes, *, start: bool = False) -> bool:
    """Whether a VP8 frame's tag is sound (and, with ``start``, it is a key frame)."""
    if len(data) < 3:
        return False
    tag = data[0] | data[1] << 8 | data[2] << 16
    key = not tag & 0x01
    version = (tag >> 1) & 0x07
    first_partition = tag >> 5
    header = 10 if key else 3
    if version > 3 or first_partition == 0 or header + first_partition > len(data):
        return False
    if key:
        return data[3:6] == b"\x9d\x01\x2a"
    return not start


def whole_frame(codec: str, data: bytes, *, start: bool = False) -> bool:
    """:func:`h264_whole` / :func:`vp8_whole` by codec name; other codecs are taken as whole."""
    name = codec.upper()
    if name == "H264":
        return h264_whole(data, start=start)
    if name == "VP8":
        return vp8_whole(data, start=start)
    return True


__all__ = ["h264_units", "h264_whole", "vp8_whole", "whole_frame"]
