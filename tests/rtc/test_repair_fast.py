"""The repairing shortcut between real aiortc peers on loopback: packets lost on the way are
NACKed and retransmitted, every frame arrives whole and in order and decodes, and the
receiver's RTCP statistics and keyframe requests still work as on aiortc's own path."""

from __future__ import annotations

import asyncio
import itertools

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from test_encoded import FPS, PacketTrack, _vp8_packets
from test_rtp_fast import _connect

from media.encoded import EncodedFrame, as_packet
from media.pattern import find_codes
from pexbot.rtc.encoded import request_keyframe
from pexbot.rtc.repair_fast import _abs_send_time, repairing_encoded_receive
from pexbot.rtc.rtp_counter import RtpReceiveCounter
from pexbot.rtc.rtp_fast import FastReceive, RtpWriter, fast_sender

LOSE_EVERY = 7  # the first copy of every 7th packet never arrives


def lose_first_copies(hook: FastReceive) -> list[int]:
    """Drop the first arrival of every LOSE_EVERY-th RTP packet as it comes off the socket
    (before SRTP: a copy that reached SRTP makes its retransmission a replay); returns the
    sequence numbers dropped."""
    dropped: list[int] = []
    received = hook._data_received

    def lossy(data: bytes, component: int) -> None:
        if 127 < data[0] < 192 and not 192 <= data[1] <= 223:  # RTP, not RTCP
            seq = int.from_bytes(data[2:4], "big")
            if seq % LOSE_EVERY == 0 and seq not in dropped:
                dropped.append(seq)
                return
        received(data, component)

    hook._data_received = lossy  # type: ignore[method-assign]  # (the socket hook looks it up)
    return dropped


@pytest.mark.timeout(60)
async def test_lost_packets_are_repaired_every_frame_arrives_in_order_and_decodes() -> None:
    packets = _vp8_packets(30)
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    try:
        transceiver = sender_pc.addTransceiver(PacketTrack(packets), direction="sendonly")
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
        transceiver.setCodecPreferences(vp8)
        assert fast_sender(transceiver.sender)
        receiver, stats = await _connect(sender_pc, receiver_pc)
        hook = FastReceive.install(receiver.transport)
        assert hook is not None
        counter = RtpReceiveCounter()
        repairing = repairing_encoded_receive(hook, receiver, counter, stats)
        assert repairing is not None
        dropped = lose_first_copies(hook)
        got: list[EncodedFrame] = []
        async with asyncio.timeout(40):
            while len(got) < 45:
                got.append(await receiver.track.recv())
        # in order, none missing: one frame interval between every two
        steps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(got)]
        buffer = repairing.buffer
        figures = (steps, dropped, vars(counter), buffer.repaired, buffer.given_up, buffer.late)
        assert set(steps) == {90_000 // FPS}, figures
        decoder = av.CodecContext.create("libvpx", "r")
        numbers = []
        for frame in got:
            for picture in decoder.decode(as_packet(frame)):
                codes = find_codes(picture.to_ndarray(format="gray"))
                numbers.append(codes[0].number if codes else None)
        assert len(numbers) == len(got) and None not in numbers
        assert numbers == [(numbers[0] + k) % len(packets) for k in range(len(got))]
        # repaired, not skipped: NACKs went out and the lost packets came back
        assert len(dropped) >= 3 and counter.nacks >= 3
        assert buffer.repaired >= len(dropped) - 2 and buffer.dropped_frames == 0
        assert hook.fast_packets > 40
        # aiortc's receiver reports still see the stream; keyframe requests find its source
        streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        assert sum(s.packets_received for s in streams.values()) >= counter.packets - 10
        assert await request_keyframe(receiver) == 1
        hook.close()
    finally:
        await sender_pc.close()
        await receiver_pc.close()


def test_abs_send_time_is_read_from_the_extension_block() -> None:
    writer = RtpWriter(ssrc=5, payload_type=96, mid="0", mid_id=1, abs_send_time_id=3)
    packet = writer.packet(1, 2, True, b"payload", now=1234.5)
    value = _abs_send_time(packet, 3)
    assert value is not None and value == (int(1234.5 * (1 << 18)) & 0xFFFFFF)
    assert _abs_send_time(packet, 4) is None
    assert (
        _abs_send_time(RtpWriter(ssrc=5, payload_type=96).packet(1, 2, True, b"x", 0.0), 3) is None
    )
