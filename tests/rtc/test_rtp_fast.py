"""The RTP shortcut: headers written and parsed (pure), frames reassembled from packets with
loss spoiling only the frame it hits (pure), and real aiortc peers on loopback whose packets
go both ways by the shortcut and still decode frame for frame."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from test_encoded import FPS, PacketTrack, _vp8_packets

from media.encoded import EncodedFrame, as_packet
from media.pattern import find_codes
from pexbot.rtc.encoded import tap_encoded
from pexbot.rtc.encoded_fast import FrameAssembler, fast_encoded_receive
from pexbot.rtc.rtp_counter import RtpReceiveCounter
from pexbot.rtc.rtp_fast import FastReceive, RtpHeader, RtpWriter, fast_sender, parse_header

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


def test_written_headers_parse_back_with_aiortc_and_with_ours() -> None:
    writer = RtpWriter(ssrc=0x1234ABCD, payload_type=96, mid="1", mid_id=4, abs_send_time_id=2)
    data = writer.packet(65535, 4_000_000_000, True, b"payload!", now=3_900_000_000.5)
    ours = parse_header(data)
    assert ours == RtpHeader(96, True, 65535, 4_000_000_000, 0x1234ABCD, len(data) - 8, len(data))
    ext = HeaderExtensionsMap()
    ids = ext._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
    ids.mid, ids.abs_send_time = 4, 2
    theirs = RtpPacket.parse(data, ext)
    assert (theirs.payload_type, theirs.marker, theirs.sequence_number) == (96, 1, 65535)
    assert theirs.extensions.mid == "1"
    assert theirs.extensions.abs_send_time == int(3_900_000_000.5 * (1 << 18)) & 0xFFFFFF
    assert theirs.payload == b"payload!"
    plain = RtpWriter(ssrc=7, payload_type=111).packet(1, 2, False, b"x", now=0.0)
    assert len(plain) == 13 and parse_header(plain) == RtpHeader(111, False, 1, 2, 7, 12, 13)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x80" * 11, b"\x40" + b"\0" * 20, b"\x90" + b"\0" * 11, b"\xa0" + b"\0" * 10 + b"\xff"],
)
def test_what_is_not_an_rtp_packet_is_refused(data: bytes) -> None:
    assert parse_header(data) is None


def _vp8_payloads(frame: bytes, picture_id: int, size: int = 300) -> list[bytes]:
    """A frame cut into VP8 RTP payloads (RFC 7741 descriptor with a 15-bit picture id)."""
    chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
    out = []
    for i, chunk in enumerate(chunks):
        first = 0x90 if i == 0 else 0x80  # X, and S on the first
        out.append(bytes([first, 0x80, 0x80 | (picture_id >> 8), picture_id & 0xFF]) + chunk)
    return out


def _feed(assembler: FrameAssembler, frames: list[bytes], drop: set[int]) -> list[bool]:
    """Packetize ``frames`` (3000 ticks apart) and feed them, skipping packet numbers in
    ``drop``; the assembler's keyframe requests, one per packet fed."""
    asked = []
    seq = 65530  # across the wrap
    for n, frame in enumerate(frames):
        payloads = _vp8_payloads(frame, n)
        for i, payload in enumerate(payloads):
            header = RtpHeader(96, i == len(payloads) - 1, seq & 0xFFFF, 3000 * n, 42, 0, 0)
            if seq not in drop:
                asked.append(assembler.packet(payload, header, now=n / 30))
            seq += 1
    return asked


def test_frames_come_whole_and_a_loss_spoils_only_its_frame() -> None:
    frames = [bytes([n]) * 700 for n in range(6)]  # three packets each
    got: list[EncodedFrame] = []
    assembler = FrameAssembler({96: VP8}, got.append)
    _feed(assembler, frames, drop=set())
    assert [f.data for f in got] == frames
    assert [f.timestamp for f in got] == [3000 * n for n in range(6)]

    got.clear()
    lossy = FrameAssembler({96: VP8}, got.append, pli_interval=0.0)
    # packet 65530 + 7 is the middle of frame 2; + 12 the first packet of frame 4
    asked = _feed(lossy, frames, drop={65537, 65542})
    assert [f.data[0] for f in got] == [0, 1, 3, 5]
    assert lossy.spoilt_frames == 2 and sum(asked) == 2


def test_audio_packets_are_frames_and_unknown_payload_types_are_counted() -> None:
    got: list[EncodedFrame] = []
    assembler = FrameAssembler({111: OPUS}, got.append)
    for n in range(5):
        assembler.packet(b"\xf8\xff\xfe", RtpHeader(111, False, n, 960 * n, 9, 0, 0), now=0.0)
    assembler.packet(b"?", RtpHeader(100, False, 5, 0, 9, 0, 0), now=0.0)
    assert len(got) == 5 and all(f.keyframe and f.clock_rate == 48000 for f in got)
    assert assembler.unknown_payload == 1


async def _connect(sender_pc: RTCPeerConnection, receiver_pc: RTCPeerConnection) -> Any:
    await sender_pc.setLocalDescription(await sender_pc.createOffer())
    await receiver_pc.setRemoteDescription(sender_pc.localDescription)
    receiver = receiver_pc.getTransceivers()[0].receiver
    stats = tap_encoded(receiver)
    assert stats is not None
    await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
    await sender_pc.setRemoteDescription(receiver_pc.localDescription)
    return receiver, stats


@pytest.mark.timeout(60)
async def test_real_peers_send_and_receive_by_the_shortcut_and_every_frame_decodes() -> None:
    packets = _vp8_packets(30)
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    try:
        transceiver = sender_pc.addTransceiver(PacketTrack(packets), direction="sendonly")
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
        transceiver.setCodecPreferences(vp8)
        assert fast_sender(transceiver.sender)
        receiver, stats = await _connect(sender_pc, receiver_pc)
        hook = FastReceive.install(receiver.transport)
        assert hook is not None and FastReceive.install(receiver.transport) is hook
        counter = RtpReceiveCounter()
        assert fast_encoded_receive(hook, receiver, counter, stats) is not None
        got: list[EncodedFrame] = []
        async with asyncio.timeout(30):
            while len(got) < 40:
                got.append(await receiver.track.recv())
        steps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(got)}
        assert steps == {90_000 // FPS}
        decoder = av.CodecContext.create("libvpx", "r")
        numbers = []
        for frame in got:
            for picture in decoder.decode(as_packet(frame)):
                codes = find_codes(picture.to_ndarray(format="gray"))
                numbers.append(codes[0].number if codes else None)
        assert len(numbers) == len(got) and None not in numbers
        assert numbers == [(numbers[0] + k) % len(packets) for k in range(len(got))]
        # Nearly everything came the short way (the first packet teaches aiortc the SSRC),
        # and the counter saw every packet.
        assert hook.fast_packets >= 40 and hook.slow_packets <= 10
        assert counter.packets == hook.fast_packets and counter.lost == 0
        # ... and both transports' byte counters (what bitrates are computed from) saw them
        received = await receiver_pc.getStats()
        rx = sum(s.bytesReceived for s in received.values() if s.type == "transport")
        assert rx >= counter.bytes
        both = await sender_pc.getStats()
        assert sum(s.bytesSent for s in both.values() if s.type == "transport") >= counter.bytes
        # The sender's own counters, which its sender reports carry, kept up.
        sent = await transceiver.sender.getStats()
        outbound = [s for s in sent.values() if s.type == "outbound-rtp"]
        assert outbound and outbound[0].packetsSent >= counter.packets
        hook.close()
        hook.close()
    finally:
        await sender_pc.close()
        await receiver_pc.close()


def test_a_frame_whose_first_packet_went_elsewhere_is_not_delivered_half() -> None:
    """The first packets of a new SSRC take aiortc's path (they teach its router): the fast
    path then starts mid-frame, and must wait for the next frame's first packet."""
    frames = [bytes([n]) * 700 for n in range(3)]
    got: list[EncodedFrame] = []
    assembler = FrameAssembler({96: VP8}, got.append)
    _feed(assembler, frames, drop={65530})  # the very first packet, before any was expected
    assert [f.data[0] for f in got] == [1, 2]
    assert assembler.spoilt_frames == 1
