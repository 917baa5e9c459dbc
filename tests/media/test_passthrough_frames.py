"""Passthrough recording of frames whose head is missing (no network: real libx264/libvpx frames
fed to :class:`PassthroughRecorder` as a tapped receiver delivers them).

aiortc's jitter buffer starts at the first packet it gets: when a stream's first packets are
missed (a presentation starting while the call is up), the first frame handed over is the tail
of an IDR frame. It still holds an IDR slice, so it passes for a keyframe; written first into
the Matroska file it left the muxer without SPS/PPS for the H.264 CodecPrivate, and the
presentation file failed with "Invalid data found when processing input". Now such frames are
dropped (a keyframe is asked for) and every frame in the file decodes.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import pytest
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from media.encoded import EncodedFrame, is_keyframe
from media.frame_check import h264_units, h264_whole, vp8_whole, whole_frame
from media.mux import Muxer, RecordingError, container_spec
from media.passthrough_recorder import PassthroughRecorder

FPS = 10
W, H = 320, 180


def encode(codec: str, count: int, *, keyframe_every: int) -> list[bytes]:
    """``count`` frames of a moving picture from libx264 (two slices a frame, like the
    emulator's) or libvpx, a keyframe every ``keyframe_every``."""
    name = {"h264": "libx264", "vp8": "libvpx"}[codec]
    ctx = av.CodecContext.create(name, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.gop_size = keyframe_every
    ctx.max_b_frames = 0
    if codec == "h264":
        ctx.options = {"preset": "veryfast", "tune": "zerolatency", "slices": "2"}
    else:
        ctx.options = {"deadline": "realtime", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(count):
        frame = av.VideoFrame(W, H, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes((i * 7 + x) % 256 for x in range(plane.buffer_size)))
        frame.pts = i
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    assert len(out) == count
    return out


def tail_of(data: bytes) -> bytes:
    """The frame as the jitter buffer hands it over when its first packets were missed: from
    the second slice on (no parameter sets, no slice at macroblock 0)."""
    slices = [offset for kind, offset in h264_units(data) if kind in (1, 5)]
    assert len(slices) == 2, h264_units(data)
    return data[slices[1] - 3 :]


def feed(
    recorder: PassthroughRecorder, clock: list[float], codec: str, frames: list[bytes]
) -> None:
    for i, data in enumerate(frames):
        clock[0] = 100.0 + i / FPS
        frame = EncodedFrame(
            codec=codec,
            data=data,
            timestamp=i * 90_000 // FPS,
            clock_rate=90_000,
            arrival=clock[0],
            keyframe=is_keyframe(codec, data),
        )
        recorder.on_frame("presentation", "video", frame)


def decode_all(path: Path) -> tuple[int, int]:
    """(frames decoded, packets): every packet must decode without an error."""
    frames = packets = 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                packets += 1
                frames += len(packet.decode())
    return frames, packets


def test_h264_frame_checks_on_real_frames() -> None:
    frames = encode("h264", 12, keyframe_every=6)
    key, delta = frames[0], frames[1]
    assert is_keyframe("H264", key) and h264_whole(key, start=True)
    assert h264_whole(delta) and not h264_whole(delta, start=True)
    tail = tail_of(key)
    assert is_keyframe("H264", tail)  # what made it through before
    assert not h264_whole(tail) and not h264_whole(tail, start=True)
    assert not h264_whole(key[10:])  # no start code at the front
    idr_only = key[next(o for k, o in h264_units(key) if k == 5) - 3 :]
    assert h264_whole(idr_only) and not h264_whole(idr_only, start=True)  # no SPS/PPS
    assert not whole_frame("H264", b"") and whole_frame("opus", b"\x01")


def test_vp8_frame_checks_on_real_frames() -> None:
    frames = encode("vp8", 6, keyframe_every=100)
    assert vp8_whole(frames[0], start=True)
    assert all(vp8_whole(f) and not vp8_whole(f, start=True) for f in frames[1:])
    assert not vp8_whole(frames[0][1:], start=True)
    assert not vp8_whole(b"\x00\x00")


def test_a_headless_h264_keyframe_first_is_what_the_muxer_refuses(tmp_path: Path) -> None:
    """The cause, at the muxer: a copy stream with no extradata whose first packet lacks SPS and
    PPS cannot be written (FFmpeg builds the Matroska CodecPrivate from that packet)."""
    frames = encode("h264", 4, keyframe_every=100)
    muxer = Muxer(tmp_path / "x.mkv", container_spec("mkv", video_codec="h264"))
    stream = muxer.add_copy_stream("h264", width=W, height=H)
    packet = av.Packet(tail_of(frames[0]))
    packet.time_base, packet.pts, packet.dts, packet.is_keyframe = Fraction(1, 1000), 0, 0, True
    packet.stream = stream
    with pytest.raises(av.error.InvalidDataError):
        muxer.mux([packet])
    # FFmpeg crashed the process when a later (whole) keyframe went into that half-written
    # header: the muxer refuses instead.
    good = av.Packet(frames[0])
    good.time_base, good.pts, good.dts, good.is_keyframe = Fraction(1, 1000), 100, 100, True
    good.stream = stream
    with pytest.raises(RecordingError, match="header was not written"):
        muxer.mux([good])
    muxer.close()


@pytest.mark.parametrize("where", ["first", "mid-stream"])
async def test_h264_frames_missing_their_head_are_left_out(tmp_path: Path, where: str) -> None:
    """A stream whose first frame (or a later one) lost its head: the file holds from the next
    whole keyframe on, keyframes are asked for, every frame decodes."""
    frames = encode("h264", 30, keyframe_every=10)  # IDRs at 0, 10, 20
    at = 0 if where == "first" else 13
    frames[at] = tail_of(frames[at]) if where == "first" else frames[at][40:]
    clock = [100.0]
    recorder = PassthroughRecorder(
        tmp_path / "rec", request_keyframe=lambda role: None, clock=lambda: clock[0]
    )
    feed(recorder, clock, "H264", frames)
    await recorder.close()
    stats = recorder.stats()["presentation"]
    assert stats.error is None
    decoded, packets = decode_all(stats.path)
    # first: frames 10..29 written; mid-stream: 0..12 and 20..29
    expected = 20 if where == "first" else 13 + 10
    assert decoded == packets == stats.streams["video"].frames_written == expected
    assert recorder.partial_frames == 1 and recorder.keyframe_requests >= 1
    with av.open(str(stats.path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (W, H)


async def test_vp8_frame_missing_its_head_mid_stream_is_left_out(tmp_path: Path) -> None:
    frames = encode("vp8", 30, keyframe_every=10)
    frames[5] = frames[5][7:]  # an inter frame whose first packet was missed
    clock = [100.0]
    recorder = PassthroughRecorder(tmp_path / "rec", clock=lambda: clock[0])
    feed(recorder, clock, "VP8", frames)
    await recorder.close()
    stats = recorder.stats()["presentation"]
    decoded, packets = decode_all(stats.path)
    assert stats.error is None and recorder.partial_frames == 1
    assert decoded == packets == 5 + 20  # 0..4, then from the keyframe at 10


def opus_packets(count: int) -> list[bytes]:
    """``count`` 20 ms Opus packets of a tone, from libopus."""
    ctx = av.CodecContext.create("libopus", "w")
    assert isinstance(ctx, av.AudioCodecContext)
    ctx.sample_rate, ctx.layout, ctx.format = 48_000, "stereo", "s16"
    ctx.time_base = Fraction(1, 48_000)
    out: list[bytes] = []
    for i in range(count):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes((i + x) % 64 for x in range(960 * 4)))
        frame.sample_rate, frame.pts = 48_000, i * 960
        out += [bytes(p) for p in ctx.encode(frame)]
    return out


async def test_h264_video_later_than_the_file_opens(tmp_path: Path) -> None:
    """Audio for 3 s before video's first keyframe (a call whose video starts late): the file
    opens after ``open_wait`` with the hinted H.264 stream and no video yet, the keyframe that
    comes later describes it, and every frame decodes."""
    audio = opus_packets(150)
    video = encode("h264", 20, keyframe_every=100)
    clock = [100.0]
    recorder = PassthroughRecorder(tmp_path / "rec", video_codec="h264", clock=lambda: clock[0])
    recorder.on_track_added("main", "audio", AudioStreamTrack())
    recorder.on_track_added("main", "video", VideoStreamTrack())
    for i, data in enumerate(audio):
        clock[0] = 100.0 + i * 0.02
        frame = EncodedFrame("opus", data, i * 960, 48_000, clock[0], True)
        recorder.on_frame("main", "audio", frame)
        if i % 10 == 0:
            await asyncio.sleep(0.3 if i == 110 else 0.01)  # the worker opens the file here
    assert recorder.stats()["main"].start is not None  # the file is open, without video
    for i, data in enumerate(video):
        clock[0] = 103.0 + i / FPS
        frame = EncodedFrame("H264", data, i * 9000, 90_000, clock[0], is_keyframe("H264", data))
        recorder.on_frame("main", "video", frame)
    await recorder.close()
    stats = recorder.stats()["main"]
    assert stats.error is None
    with av.open(str(stats.path)) as container:
        assert sorted(s.codec_context.name for s in container.streams) == ["h264", "opus"]
        errors = frames = 0
        for packet in container.demux(video=0):
            try:
                frames += len(packet.decode())
            except av.error.FFmpegError:
                errors += 1
    assert errors == 0 and frames == stats.streams["video"].frames_written == 20
