"""The forwarder's packet rewrite, pure: headers rebuilt for the destination's session, one
continuous outgoing stream across source switches, and video gated on a keyframe start."""

from __future__ import annotations

import fractions
import itertools
import random

import av
import numpy as np
import pytest
from aiortc.codecs.vpx import Vp8Encoder, VpxPayloadDescriptor
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from pexbot.emulator.media.forward_rtp import (
    HISTORY,
    StreamBinding,
    StreamRewriter,
    h264_keyframe_start,
    vp8_keyframe_start,
)
from pexbot.emulator.media.forward_tracks import SourceKey
from pexbot.rtc.rtp_fast import RtpHeader, RtpWriter, parse_header

A: SourceKey = ("call-a", "video")
B: SourceKey = ("call-b", "video")
DEST = StreamBinding(ssrc=0xDE57, payload_type=120, mid="1", mid_id=9, abs_send_time_id=3)
NTP = 3_900_000_000.25


def dest_extensions(mid_id: int = 9, ast_id: int = 3) -> HeaderExtensionsMap:
    ext = HeaderExtensionsMap()
    ids = ext._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
    ids.mid, ids.abs_send_time = mid_id, ast_id
    return ext


def vp8_frames(count: int) -> list[bytes]:
    """``count`` real VP8 frames from libvpx: a key frame, then delta frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0", "kf-max-dist": "1000"}
    out: list[bytes] = []
    ramp = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8)
    for i in range(count):
        rgb = np.stack([ramp + 4 * i, ramp, 255 - ramp], axis=-1)
        picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        picture.pts = i
        out.extend(bytes(p) for p in codec.encode(picture))
    out.extend(bytes(p) for p in codec.encode(None))
    return out[:count]


def vp8_payloads(frame: bytes, picture_id: int) -> list[bytes]:
    """How aiortc's VP8 sender cuts a frame into RTP payloads (15-bit picture id)."""
    return Vp8Encoder._packetize(frame, picture_id)


class Source:
    """A source's packets as they reach the forwarder: its own SSRC, payload type, numbering
    and extension ids (unlike the destination's), CSRC and padding."""

    def __init__(self, ssrc: int, seq: int, ts: int) -> None:
        self.ssrc, self.seq, self.ts = ssrc, seq, ts
        self.writer = RtpWriter(ssrc=ssrc, payload_type=96, mid="0", mid_id=4, abs_send_time_id=2)

    def frame(self, payloads: list[bytes], step: int = 3000) -> list[tuple[bytes, RtpHeader]]:
        out = []
        for i, payload in enumerate(payloads):
            data = self.writer.packet(self.seq, self.ts, i == len(payloads) - 1, payload, 1.0)
            header = parse_header(data)
            assert header is not None
            out.append((data[header.payload_start : header.payload_end], header))
            self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + step) & 0xFFFFFFFF
        return out


def feed(
    stream: StreamRewriter, packets: list[tuple[bytes, RtpHeader]], arrival: float
) -> list[RtpPacket]:
    sent = []
    for payload, header in packets:
        data = stream.rewrite(payload, header, arrival, NTP)
        if data is not None:
            sent.append(RtpPacket.parse(data, dest_extensions()))
    return sent


def video_stream(asked: list[object] | None = None, **kw: object) -> StreamRewriter:
    stream = StreamRewriter(
        "video",
        "VP8",
        90000,
        ask=(asked.append if asked is not None else lambda s: None),
        rng=random.Random(7),
        **kw,  # type: ignore[arg-type]
    )
    stream.bind(DEST)
    return stream


def test_the_header_is_rebuilt_for_the_destination_session() -> None:
    # A source packet with a CSRC, its own extension ids, and padding.
    payload = bytes(range(40))
    head = bytes([0xB1, 0x80 | 96]) + (65000).to_bytes(2, "big") + (123456).to_bytes(4, "big")
    head += (0xAAAA).to_bytes(4, "big") + (0xC5C5).to_bytes(4, "big")
    head += bytes([0xBE, 0xDE, 0, 2, 0x40, ord("0"), 0x22, 1, 2, 3, 0, 0])
    data = head + payload + b"\0\0\x03"
    header = parse_header(data)
    assert header is not None
    stream = StreamRewriter("audio", "opus", 48000, rng=random.Random(1))
    stream.bind(DEST)
    stream.set_source(("call-a", "audio"))
    out = stream.rewrite(data[header.payload_start : header.payload_end], header, 5.0, NTP)
    assert out is not None
    packet = RtpPacket.parse(out, dest_extensions())
    assert (packet.ssrc, packet.payload_type, packet.marker) == (0xDE57, 120, 1)
    assert packet.csrc == [] and packet.padding_size == 0
    assert packet.payload == payload
    assert packet.extensions.mid == "1"
    assert packet.extensions.abs_send_time == int(NTP * (1 << 18)) & 0xFFFFFF
    # the source's own ids (4 for mid) mean nothing here: only the destination's are written
    assert RtpPacket.parse(out, dest_extensions(mid_id=4, ast_id=2)).extensions.mid is None


def test_nothing_is_written_before_bind_or_without_a_source() -> None:
    stream = StreamRewriter("audio", "opus", 48000)
    packets = Source(1, 10, 0).frame([b"opus"])
    assert feed(stream, packets, 0.0) == []
    stream.bind(DEST)
    assert feed(stream, packets, 0.0) == []
    stream.set_source(("call-a", "audio"))
    assert len(feed(stream, packets, 0.0)) == 1


def test_sequence_and_timestamp_go_on_across_a_switch_and_a_wrap() -> None:
    frames = vp8_frames(6)
    asked: list[object] = []
    stream = video_stream(asked)
    a = Source(0xA, seq=65533, ts=4_294_960_000)  # both wrap during the run
    b = Source(0xB, seq=100, ts=7)
    stream.set_source(A)
    sent = feed(stream, a.frame(vp8_payloads(frames[0], 1)), 0.0)
    for n in range(1, 3):
        sent += feed(stream, a.frame(vp8_payloads(frames[n], 1 + n)), n / 30)
    last_a = sent[-1]
    stream.set_source(B)
    # B's delta frames are held back until B's key frame, 0.2 s later
    b.frame(vp8_payloads(frames[1], 50))  # not fed: B was mid-stream
    assert feed(stream, b.frame(vp8_payloads(frames[2], 51)), 2 / 30 + 0.1) == []
    assert asked == [B]
    after = feed(stream, b.frame(vp8_payloads(frames[0], 52)), 2 / 30 + 0.2)
    after += feed(stream, b.frame(vp8_payloads(frames[3], 53)), 3 / 30 + 0.2)
    assert after and vp8_keyframe_start(after[0].payload)
    numbers = [p.sequence_number for p in sent + after]
    assert all((b_ - a_) & 0xFFFF == 1 for a_, b_ in itertools.pairwise(numbers))
    assert after[0].sequence_number == (last_a.sequence_number + 1) & 0xFFFF
    # the time that passed from A's last packet to B's key frame, in 90 kHz ticks
    assert (after[0].timestamp - last_a.timestamp) & 0xFFFFFFFF == 18000
    assert {p.ssrc for p in sent + after} == {DEST.ssrc}
    assert stream.stats.switches == 2 and stream.stats.waiting > 0


def test_video_waits_for_a_key_frame_start_and_asks_at_most_once_per_interval() -> None:
    key, delta = vp8_frames(2)
    asked: list[object] = []
    stream = video_stream(asked, reask_interval=1.0)
    stream.set_source(A)
    assert stream.waiting_for_keyframe
    a = Source(0xA, seq=1, ts=0)
    for n in range(20):  # 0.6 s of delta frames: one ask
        assert feed(stream, a.frame(vp8_payloads(delta, n)), n * 0.033) == []
    assert asked == [A]
    assert feed(stream, a.frame(vp8_payloads(delta, 20)), 1.1) == []
    assert asked == [A, A]  # asked again once the interval passed
    # a key frame's second packet is no start either
    payloads = vp8_payloads(key + bytes(3000), 21)
    assert len(payloads) > 2
    packets = a.frame(payloads)
    assert feed(stream, packets[1:], 1.2) == []
    packets = a.frame(payloads)
    assert len(feed(stream, packets, 1.3)) == len(payloads)
    assert not stream.waiting_for_keyframe
    assert len(feed(stream, a.frame(vp8_payloads(delta, 22)), 1.4)) == 1


def test_packets_older_than_the_start_are_dropped_and_a_new_ssrc_waits_again() -> None:
    key, delta = vp8_frames(2)
    stream = video_stream()
    stream.set_source(A)
    a = Source(0xA, seq=500, ts=0)
    early = a.frame(vp8_payloads(delta, 1))
    sent = feed(stream, a.frame(vp8_payloads(key, 2)), 0.0)
    assert len(sent) == 1
    assert feed(stream, early, 0.01) == []  # reordered from before the key frame
    assert stream.stats.stale == 1
    # the same source restarts its encoder under another SSRC: its references are gone
    a2 = Source(0xA2, seq=9, ts=0)
    assert feed(stream, a2.frame(vp8_payloads(delta, 1)), 0.1) == []
    again = feed(stream, a2.frame(vp8_payloads(key, 2)), 0.2)
    assert [p.sequence_number for p in again] == [(sent[0].sequence_number + 1) & 0xFFFF]


def test_audio_is_not_gated_and_stays_continuous() -> None:
    stream = StreamRewriter("audio", "opus", 48000, rng=random.Random(3))
    stream.bind(DEST)
    stream.set_source(("call-a", "audio"))
    a, b = Source(1, 40000, 0), Source(2, 7, 99)
    sent = [p for n in range(3) for p in feed(stream, a.frame([b"a"], 960), n * 0.02)]
    stream.set_source(("call-b", "audio"))
    sent += feed(stream, b.frame([b"b"], 960), 0.1)
    seqs = [p.sequence_number for p in sent]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(4)]
    assert (sent[3].timestamp - sent[2].timestamp) & 0xFFFFFFFF == 2880  # 60 ms at 48 kHz


def test_a_new_binding_waits_for_a_key_frame_and_writes_the_new_ssrc() -> None:
    key, delta = vp8_frames(2)
    stream = video_stream()
    stream.set_source(A)
    a = Source(0xA, seq=1, ts=0)
    assert len(feed(stream, a.frame(vp8_payloads(key, 1)), 0.0)) == 1
    stream.bind(StreamBinding(ssrc=0x77, payload_type=120, mid="1", mid_id=9))
    assert feed(stream, a.frame(vp8_payloads(delta, 2)), 0.1) == []
    sent = feed(stream, a.frame(vp8_payloads(key, 3)), 0.2)
    assert [p.ssrc for p in sent] == [0x77]


def test_sent_packets_are_kept_for_retransmission_under_their_outgoing_numbers() -> None:
    stream = StreamRewriter("audio", "opus", 48000)
    stream.bind(DEST)
    stream.set_source(("call-a", "audio"))
    a = Source(1, 5, 0)
    sent = [stream.rewrite(*a.frame([bytes([n])])[0], n * 0.02, NTP) for n in range(3)]
    first = RtpPacket.parse(sent[0] or b"", dest_extensions()).sequence_number
    assert stream.retransmission(first) == sent[0]
    assert stream.retransmission((first + 1) & 0xFFFF) == sent[1]
    assert stream.retransmission((first + 3) & 0xFFFF) is None
    assert stream.retransmission((first + HISTORY) & 0xFFFF) is None


def test_vp8_key_frame_start_reads_every_descriptor_form() -> None:
    key, delta = vp8_frames(2)
    for picture_id in (None, 300):  # no I; a 15-bit picture id
        descriptor = VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=picture_id)
        assert vp8_keyframe_start(bytes(descriptor) + key)
        assert not vp8_keyframe_start(bytes(descriptor) + delta)
    assert vp8_keyframe_start(bytes([0x90, 0x80, 0x05]) + key)  # a 7-bit picture id
    assert not vp8_keyframe_start(bytes([0x90, 0x80, 0x05]) + delta)
    with_tl0 = bytes([0x90, 0x60, 0x12, 0x40]) + key  # X; L and T: TL0PICIDX, TID byte
    assert vp8_keyframe_start(with_tl0)
    not_start = bytes(VpxPayloadDescriptor(partition_start=0, partition_id=0)) + key
    assert not vp8_keyframe_start(not_start)
    other_partition = bytes(VpxPayloadDescriptor(partition_start=1, partition_id=1)) + key
    assert not vp8_keyframe_start(other_partition)
    assert not vp8_keyframe_start(b"") and not vp8_keyframe_start(b"\x90")


@pytest.mark.parametrize(
    ("payload", "start"),
    [
        (bytes([0x67, 0x42]), True),  # SPS
        (bytes([0x65, 0x88]), True),  # IDR slice
        (bytes([0x41, 0x9A]), False),  # non-IDR slice
        (bytes([0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]), True),  # STAP-A: SPS first
        (bytes([0x78, 0, 2, 0x41, 0x9A]), False),  # STAP-A of a delta slice
        (bytes([0x7C, 0x85, 1]), True),  # FU-A start of an IDR slice
        (bytes([0x7C, 0x05, 1]), False),  # FU-A middle of it
        (bytes([0x7C, 0x81, 1]), False),  # FU-A start of a delta slice
        (b"", False),
    ],
)
def test_h264_key_frame_start(payload: bytes, start: bool) -> None:
    assert h264_keyframe_start(payload) is start
