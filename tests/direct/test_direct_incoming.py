"""Long-lived incoming tracks: sources swapped underneath, one continuous stream on top; and the
data channel's message format."""

from __future__ import annotations

import asyncio
import fractions
import itertools

import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from pexbot.rtc.datachannel import ChatMessage, decode, encode_chat
from pexbot.rtc.incoming import IncomingTrack, Restamper

TB = fractions.Fraction(1, 90000)


class Source(MediaStreamTrack):
    """``n`` video frames 1/15 s apart with pts from ``start``, then the end."""

    kind = "video"

    def __init__(self, n: int, start: int = 0, *, width: int = 64) -> None:
        super().__init__()
        self.left, self.pts, self.width = n, start, width

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(0.005)
        if self.left == 0:
            raise MediaStreamError
        self.left -= 1
        frame = VideoFrame(self.width, 32, "yuv420p")
        frame.pts, frame.time_base = self.pts, TB
        self.pts += 6000
        return frame


async def test_sources_swap_under_one_monotonic_track() -> None:
    track = IncomingTrack("video")
    track.set_source(Source(5, start=1000))
    got = [await track.recv() for _ in range(5)]
    assert [f.pts for f in got] == [1000, 7000, 13000, 19000, 25000]  # first: untouched
    # the source ends (its connection closed): recv waits instead of ending
    waiting = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    track.set_source(Source(3, start=0, width=96))  # a new connection's track, time from 0
    frame = await asyncio.wait_for(waiting, 2)
    later = [frame, await track.recv(), await track.recv()]
    pts = [int(f.pts or 0) for f in got + later]
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert pts[5] - pts[4] >= 0.1 * 90000  # the wall-clock gap is kept
    assert pts[6] - pts[5] == 6000  # the new source's own spacing
    assert track.frames == 8 and track.sources == 2 and track.size == (96, 32)
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_replacing_a_live_source_switches_at_once() -> None:
    track = IncomingTrack("video")
    slow = Source(100, start=0)
    track.set_source(slow)
    await track.recv()
    pending = asyncio.ensure_future(track.recv())
    track.set_source(Source(2, start=500, width=128))
    frame = await asyncio.wait_for(pending, 2)
    assert isinstance(frame, VideoFrame) and frame.width in (64, 128)
    frame = await track.recv()
    assert isinstance(frame, VideoFrame) and frame.width == 128
    track.stop()


def test_restamper_never_goes_back() -> None:
    r = Restamper()
    assert r.stamp(100, TB, 0.0) == 100
    assert r.stamp(50, TB, 0.01) == 101  # a source whose time went back
    r.new_source()
    assert r.stamp(0, TB, 1.01) == 101 + 90000
    assert r.stamp(None, None, 2.0) is None


def test_chat_envelope_round_trip() -> None:
    message = ChatMessage("hi", origin="bob", uuid="u-1")
    text = encode_chat(message)
    assert '"type": "message"' in text
    assert decode(text) == message
    assert decode('{"type": "fecc", "body": {"action": "start"}}') == {
        "type": "fecc",
        "body": {"action": "start"},
    }
    assert decode("not json") is None
    assert decode('{"type": "message", "body": {"origin": "x"}}') is None
