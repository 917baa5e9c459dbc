"""Encoded media through the call's long-lived tracks: packets pass through the outgoing ones
(their spacing kept, no filler mixed in, keyframe requests forwarded) and EncodedFrames through
the incoming ones (timestamps continuous across sources)."""

from __future__ import annotations

import asyncio
import fractions
import itertools

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.encoded import EncodedFrame
from pexbot.rtc.incoming import IncomingTrack
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack

STEP = 6000  # 90 kHz ticks per frame at 15 fps


class Packets(MediaStreamTrack):
    """``count`` packets ``delay`` s apart, stamped in 1/15 s; then stalls (or ends)."""

    def __init__(self, kind: str, count: int, *, delay: float = 0.0, end: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.count, self.delay, self.end = count, delay, end
        self.sent = 0
        self.keyframes_asked = 0

    def request_keyframe(self) -> None:
        self.keyframes_asked += 1

    async def recv(self) -> av.Packet:
        if self.sent >= self.count:
            if self.end:
                raise MediaStreamError
            await asyncio.sleep(3600)
        await asyncio.sleep(self.delay)
        packet = av.Packet(bytes([self.sent % 256]) * 10)
        packet.pts = self.sent * 2  # every other frame number: the spacing must survive
        packet.time_base = fractions.Fraction(1, 30)
        self.sent += 1
        return packet


async def test_video_packets_pass_through_with_their_spacing_and_no_filler() -> None:
    source = Packets("video", 5)
    track = OutgoingVideoTrack(source, stall_timeout=0.05)
    out = [await track.recv() for _ in range(5)]
    assert all(isinstance(p, av.Packet) for p in out)
    assert [bytes(p)[0] for p in out] == [0, 1, 2, 3, 4]
    pts = [p.pts for p in out]
    assert [b - a for a, b in itertools.pairwise(pts)] == [STEP] * 4
    assert track.packets == 5 and track.filler_frames == 0
    # Stalled: no black frame goes in between (the far end would decode another stream).
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.3)
    assert not pending.done() and track.filler_frames == 0
    track.keyframe_requested()
    assert source.keyframes_asked == 1 and track.keyframe_requests == 1
    pending.cancel()
    track.stop()


async def test_ended_packet_source_falls_back_to_the_filler() -> None:
    track = OutgoingVideoTrack(Packets("video", 2, end=True), size=(64, 36), stall_timeout=0.05)
    assert isinstance(await track.recv(), av.Packet)
    assert isinstance(await track.recv(), av.Packet)
    filler = await track.recv()
    assert isinstance(filler, av.VideoFrame) and track.filler_frames == 1
    track.stop()


async def test_muted_packet_source_sends_nothing() -> None:
    source = Packets("video", 100, delay=0.01)
    track = OutgoingVideoTrack(source, stall_timeout=0.05)
    track.muted = True
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.2)
    assert not pending.done() and source.sent > 3  # read and dropped
    track.muted = False
    packet = await pending
    assert isinstance(packet, av.Packet)
    track.stop()


async def test_audio_packets_advance_by_their_duration() -> None:
    track = OutgoingAudioTrack(Packets("audio", 3))
    out = [await track.recv() for _ in range(3)]
    assert all(isinstance(p, av.Packet) for p in out)
    assert [p.pts for p in out] == [0, 960, 1920]
    assert all(p.time_base == fractions.Fraction(1, 48000) for p in out)
    track.stop()


class Frames(MediaStreamTrack):
    kind = "video"

    def __init__(self, timestamps: list[int]) -> None:
        super().__init__()
        self.timestamps = list(timestamps)

    async def recv(self) -> EncodedFrame:
        if not self.timestamps:
            raise MediaStreamError
        await asyncio.sleep(0.01)
        ts = self.timestamps.pop(0)
        return EncodedFrame("VP8", b"\x01\x00\x00", ts, 90_000, 0.0, False)


async def test_incoming_encoded_frames_stay_continuous_across_sources() -> None:
    incoming = IncomingTrack("video")
    incoming.set_source(Frames([0, STEP, 2 * STEP]))
    first = [await incoming.recv() for _ in range(3)]
    assert [f.timestamp for f in first] == [0, STEP, 2 * STEP]
    # The next connection's receiver starts at 0 again: shifted to follow on.
    incoming.set_source(Frames([0, STEP]))
    later = [await incoming.recv() for _ in range(2)]
    assert all(isinstance(f, EncodedFrame) for f in later)
    assert later[0].timestamp > 2 * STEP and later[1].timestamp - later[0].timestamp == STEP
    assert incoming.frames == 5
    incoming.stop()
