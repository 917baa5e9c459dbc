"""A media call that sends packets encoded once (no encoder per call) and receives frames
undecoded (``encoded_receive``), against the emulator's real aiortc media: the node decodes
what we send and reads our pattern's numbers; we get EncodedFrame tracks, continuous, and
keyframe requests travel both ways."""

from __future__ import annotations

import asyncio
import fractions
import itertools

import av
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from callkit import FakeSignalling, Tracks, wait_until

from media.encoded import EncodedFrame, as_packet
from media.pattern import find_codes
from media.synthetic import PatternRenderer
from media.tone import ToneSpec, tone_samples
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.rtc.encoded import request_keyframe

WIDTH, HEIGHT, FPS = 320, 180, 15
GOP = 45  # a keyframe every 3 s unless asked


class Vp8Packets(MediaStreamTrack):
    """The numbered pattern as VP8 packets, encoded here, paced at FPS; a keyframe on request."""

    kind = "video"
    sends_packets = True

    def __init__(self) -> None:
        super().__init__()
        self._codec = av.CodecContext.create("libvpx", "w")
        self._codec.width, self._codec.height, self._codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        self._codec.time_base = fractions.Fraction(1, FPS)
        self._codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self._codec.gop_size = GOP
        self._renderer = PatternRenderer(WIDTH, HEIGHT)
        self.index = 0
        self.keyframe_requests = 0
        self._force = False

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._force = True

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        await asyncio.sleep(1 / FPS)
        frame = av.VideoFrame.from_ndarray(
            self._renderer.render(self.index, self.index), format="yuv420p"
        )
        frame.pts, frame.time_base = self.index, self._codec.time_base
        if self._force:
            frame.pict_type = av.video.frame.PictureType.I
            self._force = False
        self.index += 1
        packets = self._codec.encode(frame)
        assert len(packets) == 1
        return packets[0]


class OpusPackets(MediaStreamTrack):
    """The tone as 20 ms Opus packets, paced."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.sample_rate, self._codec.layout, self._codec.format = 48000, "stereo", "s16"
        self._codec.time_base = fractions.Fraction(1, 48000)
        self._samples = 0
        self._spec = ToneSpec()

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await asyncio.sleep(0.02)
            mono = tone_samples(self._spec, self._samples, 960, epoch_ms=0)
            frame = av.AudioFrame.from_ndarray(
                mono.repeat(2).reshape(1, -1), format="s16", layout="stereo"
            )
            frame.sample_rate, frame.pts = 48000, self._samples
            frame.time_base = fractions.Fraction(1, 48000)
            self._samples += 960
            packets = self._codec.encode(frame)
            if packets:
                return packets[0]


async def frames_of(tracks: Tracks, kind: str, count: int) -> list[EncodedFrame]:
    collector = await tracks.get("main", kind)
    await collector.close()  # read them ourselves from here on
    got = []
    async with asyncio.timeout(30):
        while len(got) < count:
            frame = await collector.track.recv()
            assert isinstance(frame, EncodedFrame)
            got.append(frame)
    return got


@pytest.mark.timeout(90)
async def test_packets_out_encoded_frames_in_keyframes_both_ways() -> None:
    backend = AiortcMediaBackend(card_size=(WIDTH, HEIGHT), fps=10.0, video_codec="vp8")
    sig = FakeSignalling(backend)
    tracks = Tracks()
    video, audio = Vp8Packets(), OpusPackets()
    options = CallOptions(video_codec="vp8", encoded_receive=True)
    call = MediaCall(sig, options, audio=audio, video=video, on_track=tracks)
    try:
        await call.start()
        leg = backend.leg(call.call_uuid or "")
        # The node decodes what we sent: our pattern's numbers, audio frames.
        await wait_until(lambda: leg.frames_in["video"] >= 10, what="our video at the node")
        await wait_until(lambda: leg.frames_in["audio"] >= 20, what="our audio at the node")
        picture = leg.last_in["video"]
        codes = find_codes(picture.to_ndarray(format="gray"))  # type: ignore[union-attr]
        assert codes and 0 < codes[0].number <= video.index
        assert call.video.packets >= 10 and call.video.filler_frames == 0
        assert call.audio.packets >= 20 and call.audio.filler_frames == 0

        # What we receive is undecoded, in order, one video frame per 90 kHz step at most.
        got = await frames_of(tracks, "video", 20)
        assert {f.codec for f in got} == {"VP8"}
        assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(got))
        heard = await frames_of(tracks, "audio", 20)
        assert {f.codec for f in heard} == {"opus"} and all(f.keyframe for f in heard)

        # Our PLI makes the node send a keyframe soon (its GOP is far longer than the wait).
        collector = (await tracks.get("main", "video")).track
        await call.request_keyframe("main")
        async with asyncio.timeout(10):
            while True:
                frame = await collector.recv()
                assert isinstance(frame, EncodedFrame)
                if frame.keyframe:
                    break
        assert call.media.counters["video"].plis >= 1
        pictures = av.CodecContext.create("libvpx", "r").decode(as_packet(frame))
        assert [(p.width, p.height) for p in pictures] == [(WIDTH, HEIGHT)]

        # The node's PLI reaches our packet source (no encoder of aiortc's in between).
        before = video.keyframe_requests
        node_pc = backend.peer_connection(call.call_uuid or "")
        receiver = next(t for t in node_pc.getTransceivers() if t.kind == "video").receiver
        assert await request_keyframe(receiver) >= 1
        await wait_until(lambda: video.keyframe_requests > before, what="the node's PLI")
        assert call.video.keyframe_requests >= 1
    finally:
        await call.disconnect()
        await tracks.close()
        await backend.aclose()
        video.stop()
        audio.stop()
