"""Encoded media through real aiortc peers on loopback: a tapped receiver hands over frames
undecoded, a sender fed ``av.Packet`` objects packetizes without encoding, keyframe requests
reach whoever encodes."""

from __future__ import annotations

import asyncio
import fractions
import itertools

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack

from media.encoded import EncodedFrame, as_packet, vp8_frame_size
from media.pattern import find_codes
from media.synthetic import PatternRenderer
from pexbot.rtc.encoded import on_keyframe_request, request_keyframe, tap_encoded

WIDTH, HEIGHT, FPS = 320, 180, 15


def _vp8_packets(count: int) -> list[av.Packet]:
    """The numbered pattern encoded once: frame k shows number k."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    codec.gop_size = 10
    renderer = PatternRenderer(WIDTH, HEIGHT)
    packets: list[av.Packet] = []
    for k in range(count):
        frame = av.VideoFrame.from_ndarray(renderer.render(k, k), format="yuv420p")
        frame.pts, frame.time_base = k, codec.time_base
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets


class PacketTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, packets: list[av.Packet]) -> None:
        super().__init__()
        self._packets = packets
        self._index = 0

    async def recv(self) -> av.Packet:
        await asyncio.sleep(1 / FPS)
        packet = self._packets[self._index % len(self._packets)]
        round_, at = divmod(self._index, len(self._packets))
        out = av.Packet(bytes(packet))
        out.pts = round_ * len(self._packets) + at
        out.time_base = fractions.Fraction(1, FPS)
        self._index += 1
        return out


async def _connect(sender_pc: RTCPeerConnection, receiver_pc: RTCPeerConnection) -> None:
    await sender_pc.setLocalDescription(await sender_pc.createOffer())
    await receiver_pc.setRemoteDescription(sender_pc.localDescription)
    for transceiver in receiver_pc.getTransceivers():
        assert tap_encoded(transceiver.receiver) is not None
    await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
    await sender_pc.setRemoteDescription(receiver_pc.localDescription)


@pytest.mark.timeout(60)
async def test_packets_sent_without_encoding_arrive_undecoded_and_decode_cleanly() -> None:
    packets = _vp8_packets(30)
    assert len(packets) == 30
    track = PacketTrack(packets)
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    try:
        transceiver = sender_pc.addTransceiver(track, direction="sendonly")
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
        transceiver.setCodecPreferences(vp8)
        keyframe_asked = asyncio.Event()
        assert on_keyframe_request(transceiver.sender, keyframe_asked.set)
        await _connect(sender_pc, receiver_pc)
        remote = receiver_pc.getTransceivers()[0].receiver
        got: list[EncodedFrame] = []
        async with asyncio.timeout(30):
            while len(got) < 40:
                got.append(await remote.track.recv())
        assert all(isinstance(f, EncodedFrame) and f.codec == "VP8" for f in got)
        assert got[0].keyframe and vp8_frame_size(got[0].data) == (WIDTH, HEIGHT)
        # Timestamps rise by one frame of the 90 kHz clock at a time.
        steps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(got)}
        assert steps == {90_000 // FPS}
        # Every frame decodes, and the numbers are the pattern's, in order.
        decoder = av.CodecContext.create("libvpx", "r")
        numbers = []
        for frame in got:
            for picture in decoder.decode(as_packet(frame)):
                codes = find_codes(picture.to_ndarray(format="gray"))
                numbers.append(codes[0].number if codes else None)
        assert len(numbers) == len(got)
        assert None not in numbers
        assert numbers == [k % len(packets) for k in range(len(got))]
        # A PLI from the receiver reaches the sender's callback.
        assert await request_keyframe(remote) >= 1
        async with asyncio.timeout(10):
            await keyframe_asked.wait()
    finally:
        await sender_pc.close()
        await receiver_pc.close()


async def test_too_late_to_tap_is_refused() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        assert tap_encoded(transceiver.receiver) is not None  # before the answer: no track yet
        started = "_RTCRtpReceiver__started"
        setattr(transceiver.receiver, started, True)
        assert tap_encoded(transceiver.receiver) is None
        setattr(transceiver.receiver, started, False)  # it never really started: close cleanly
    finally:
        await pc.close()
