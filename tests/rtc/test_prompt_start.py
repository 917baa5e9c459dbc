"""pexbot.rtc.prompt_start: frames leave the jitter buffer at their marker; ICE completes
without waiting out aioice's pacing."""

from __future__ import annotations

import asyncio
import functools

import pytest
from aioice import Connection
from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from pexbot.rtc import prompt_start
from pexbot.rtc.prompt_start import (
    DrainingQueue,
    MarkerJitterBuffer,
    complete_frames_at_marker,
    unpace_connection,
    unpaced_ice_completion,
)


def packet(seq: int, timestamp: int, *, marker: bool = False) -> RtpPacket:
    p = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp, marker=int(marker))
    p._data = bytes([seq % 256])  # type: ignore[attr-defined]  # the receiver's depayloaded data
    return p


def frames(buffer: JitterBuffer, packets: list[RtpPacket]) -> list[tuple[int, int, bytes]]:
    """(index of the packet whose arrival let the frame out, timestamp, data)."""
    out = []
    for i, p in enumerate(packets):
        _, frame = buffer.add(p)
        if frame is not None:
            out.append((i, frame.timestamp, frame.data))
    return out


def test_a_frame_leaves_with_its_marked_packet_not_with_the_next_frame() -> None:
    stream = [
        packet(10, 1000),
        packet(11, 1000),
        packet(12, 1000, marker=True),
        packet(13, 4000, marker=True),
        packet(14, 7000),
    ]
    assert frames(MarkerJitterBuffer(), stream) == [
        (2, 1000, bytes([10, 11, 12])),
        (3, 4000, bytes([13])),
    ]
    # aiortc's own waits for the next frame's first packet: one frame interval later.
    assert frames(JitterBuffer(capacity=512, is_video=True), stream) == [
        (3, 1000, bytes([10, 11, 12])),
        (4, 4000, bytes([13])),
    ]


def test_a_hole_holds_the_frame_until_it_is_filled() -> None:
    stream = [packet(20, 500), packet(22, 500, marker=True), packet(21, 500)]
    assert frames(MarkerJitterBuffer(), stream) == [(2, 500, bytes([20, 21, 22]))]


def test_without_markers_frames_end_where_the_next_one_starts_as_in_aiortc() -> None:
    stream = [packet(1, 100), packet(2, 100), packet(3, 200), packet(4, 300)]
    ours = frames(MarkerJitterBuffer(), stream)
    assert ours == frames(JitterBuffer(capacity=512, is_video=True), stream)
    assert ours == [(2, 100, bytes([1, 2])), (3, 200, bytes([3]))]


def repaired_hole() -> tuple[MarkerJitterBuffer, RtpPacket]:
    """One-packet frames 30..33; 31 lost and repaired last, after 32 and 33 completed."""
    buffer = MarkerJitterBuffer()
    for p in (packet(30, 100, marker=True), packet(32, 300, marker=True)):
        buffer.add(p)
    buffer.add(packet(33, 400, marker=True))
    return buffer, packet(31, 200, marker=True)


def test_frames_completed_behind_a_repaired_hole_are_all_ready_at_once() -> None:
    buffer, repair = repaired_hole()
    _, frame = buffer.add(repair)
    assert frame is not None and frame.timestamp == 200
    # aiortc's add() hands over one frame per packet: these two would wait for two more
    # packets, and with one packet a frame the backlog would never shrink.
    ready = functools.partial(buffer._remove_frame, 0)  # what drain_ready takes them with
    assert [f.timestamp for f in iter(ready, None)] == [300, 400]
    assert ready() is None


async def test_the_decoder_queue_takes_the_backlog_in_order_right_after_the_repair() -> None:
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video").receiver
        assert complete_frames_at_marker(receiver)
        decoder_queue = receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
        assert isinstance(decoder_queue, DrainingQueue)
        buffer, repair = repaired_hole()
        receiver._RTCRtpReceiver__jitter_buffer = buffer  # type: ignore[attr-defined]
        _, frame = buffer.add(repair)
        assert frame is not None
        # what the receiver does with the frame add() gave: map its timestamp, put it
        frame.timestamp = receiver._RTCRtpReceiver__timestamp_mapper.map(frame.timestamp)  # type: ignore[attr-defined]
        decoder_queue.put(("vp8", frame))
        taken = [decoder_queue.get_nowait() for _ in range(decoder_queue.qsize())]
        # the backlog's timestamps mapped as the receiver maps its own (from 0)
        assert [(codec, f.timestamp) for codec, f in taken] == [
            ("vp8", 0),
            ("vp8", 100),
            ("vp8", 200),
        ]
        assert decoder_queue.drained == 2
        decoder_queue.put(None)  # the stop marker goes through alone
        assert decoder_queue.get_nowait() is None and decoder_queue.empty()
    finally:
        await pc.close()


async def test_video_receivers_get_the_marker_buffer_audio_ones_do_not() -> None:
    pc = RTCPeerConnection()
    try:
        video = pc.addTransceiver("video").receiver
        audio = pc.addTransceiver("audio").receiver
        assert complete_frames_at_marker(video)
        assert complete_frames_at_marker(video)  # idempotent
        assert isinstance(video._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)  # type: ignore[attr-defined]
        assert not complete_frames_at_marker(audio)
        assert not isinstance(audio._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)  # type: ignore[attr-defined]
        # one bundled ICE connection is made per transceiver until negotiation: all unpaced
        assert unpaced_ice_completion(pc) == 2
    finally:
        await pc.close()


async def test_ice_completes_without_waiting_out_the_check_pacing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With checks paced 30 s apart, only the first check of each end goes out within the
    # test's bound: connecting in time means connect() returned on completion, not on pacing.
    monkeypatch.setattr(prompt_start, "CHECK_PACING", 30.0)
    a = Connection(ice_controlling=True, use_ipv6=False)
    b = Connection(ice_controlling=False, use_ipv6=False)
    try:
        assert unpace_connection(a) and unpace_connection(b)
        await asyncio.gather(a.gather_candidates(), b.gather_candidates())
        for local, remote in ((a, b), (b, a)):
            local.remote_username, local.remote_password = (
                remote.local_username,
                remote.local_password,
            )
            for candidate in remote.local_candidates:
                await local.add_remote_candidate(candidate)
            await local.add_remote_candidate(None)
        async with asyncio.timeout(10):
            await asyncio.gather(a.connect(), b.connect())
        await a.send(b"ping")
        async with asyncio.timeout(5):
            assert await b.recv() == b"ping"
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_a_closed_connection_fails_its_connect() -> None:
    a = Connection(ice_controlling=True, use_ipv6=False)
    assert unpace_connection(a)
    await a.gather_candidates()
    a.remote_username, a.remote_password = "x", "y"
    connecting = asyncio.ensure_future(a.connect())  # no remote candidate: it waits for more
    await asyncio.sleep(0.05)
    await a.close()
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(5):
            await connecting
