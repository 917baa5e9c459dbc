"""Media encoded once for many tracks: frame numbers survive (packets decoded, pattern read), a
late track starts at a keyframe, and the counter of encoded frames counts what it should."""

from __future__ import annotations

import asyncio

import av
import pytest

from media.encoded import EncodedFrame, as_packet
from media.encoded_counter import EncodedCount, read_number
from media.pattern import find_codes
from media.shared_encoding import SharedCodec, SharedOpusEncoder, SharedVideoEncoder

DECODER = {"vp8": "libvpx", "h264": "h264"}


def numbers(codec: SharedCodec, packets: list[av.Packet]) -> list[int | None]:
    decoder = av.CodecContext.create(DECODER[codec], "r")
    out: list[int | None] = []
    for packet in packets:
        for picture in decoder.decode(packet):
            codes = find_codes(picture.to_ndarray(format="gray"))
            out.append(codes[0].number if codes else None)
    return out


@pytest.mark.parametrize("codec", ["vp8", "h264"])
async def test_numbers_survive_and_late_tracks_start_at_a_keyframe(codec: SharedCodec) -> None:
    encoder = SharedVideoEncoder(codec, 320, 180, 30, keyframe_every=10.0)
    try:
        first = encoder.track()
        early = [await first.recv() for _ in range(12)]
        assert early[0].is_keyframe
        assert [p.pts for p in early] == list(range(12))
        assert numbers(codec, early) == list(range(12))
        late = encoder.track()  # asks for a keyframe: no 10 s wait
        joined = [await late.recv() for _ in range(5)]
        assert joined[0].is_keyframe and joined[0].pts > 0
        got = numbers(codec, joined)
        assert got == list(range(joined[0].pts, joined[0].pts + 5))
        assert encoder.frames >= 12 + 5 and encoder.keyframes >= 2
        # the first track goes on where it was: the same frames, made once
        more = await first.recv()
        assert more.pts == 12
    finally:
        await encoder.aclose()
        await encoder.aclose()  # idempotent
    assert first.readyState == "ended"


async def test_opus_packets_shared() -> None:
    encoder = SharedOpusEncoder()
    try:
        a, b = encoder.track(), encoder.track()
        pa = [await a.recv() for _ in range(5)]
        pb = [await b.recv() for _ in range(5)]
        assert [bytes(p) for p in pa] == [bytes(p) for p in pb]
        decoder = av.CodecContext.create("libopus", "r")
        samples = sum(f.samples for p in pa for f in decoder.decode(p))
        assert samples == 5 * 960
    finally:
        await encoder.aclose()


def frame(ts: int, key: bool = False, data: bytes = b"x" * 10) -> EncodedFrame:
    return EncodedFrame("VP8", data, ts, 90_000, 0.0, key)


def test_counter_counts_frames_bytes_keyframes_and_gaps() -> None:
    count = EncodedCount()
    for i, ts in enumerate([0, 6000, 12000, 30000, 36000]):
        count.add(frame(ts, key=i == 0), now=float(i))
    assert (count.frames, count.bytes, count.keyframes) == (5, 50, 1)
    assert count.gaps == 1 and count.missing == 2  # 12000 -> 30000: two frames never came
    assert count.age(6.0) == 2.0 and count.fps() == 1.0
    audio = EncodedCount()
    for i in range(3):
        audio.add(EncodedFrame("opus", b"a", i * 960, 48_000, 0.0, True), now=float(i))
    assert audio.keyframes == 0 and audio.gaps == 0


async def test_counter_asks_to_decode_one_keyframe_in_n_and_reads_its_number() -> None:
    encoder = SharedVideoEncoder("vp8", 320, 180, 30, keyframe_every=0.2)
    try:
        track = encoder.track()
        count = EncodedCount(verify_every=4)
        decoded = 0
        for _ in range(24):
            packet = await track.recv()
            encoded = EncodedFrame("VP8", bytes(packet), packet.pts * 3000, 90_000, 0.0,
                                   packet.is_keyframe)  # fmt: skip
            if count.add(encoded, now=0.0):
                assert encoded.keyframe
                count.read(read_number(encoded))
                decoded += 1
        assert 1 <= decoded <= 6 and count.verified == decoded and count.unreadable == 0
        assert count.last_number is not None and 0 <= count.last_number < 24
    finally:
        await encoder.aclose()
    assert read_number(frame(0, key=True, data=b"\x00" * 20)) is None
    assert as_packet(frame(0)).pts == 0


async def test_black_video_and_silent_audio_for_bots_that_only_listen() -> None:
    """What a recording bot sends: a black picture and Opus silence, never the pattern."""
    video = SharedVideoEncoder("vp8", 320, 180, 5, black=True)
    audio = SharedOpusEncoder(silent=True)
    try:
        packets = [await video.track().recv() for _ in range(1)]
        track = video.track()
        packets += [await track.recv() for _ in range(3)]
        decoder = av.CodecContext.create("libvpx", "r")
        for packet in packets:
            for picture in decoder.decode(packet):
                luma = picture.to_ndarray(format="gray")
                assert luma.shape == (180, 320) and luma.max() <= 20 and not find_codes(luma)
        sound = audio.track()
        opus = [await sound.recv() for _ in range(5)]
        assert audio.frames >= 5 and all(bytes(p) == b"\xf8\xff\xfe" for p in opus)
        pcm = av.CodecContext.create("libopus", "r")
        samples = [f.to_ndarray() for p in opus for f in pcm.decode(p)]
        assert samples and all(float(abs(s).max()) < 1e-3 for s in samples)  # float PCM
    finally:
        await video.aclose()
        await audio.aclose()


async def test_dtx_silence_is_one_frame_every_400_ms_with_timestamps_running_on() -> None:
    """Opus DTX as WebRTC sends it: a 20 ms silence frame every 400 ms, whose pts (and so
    RTP timestamps) count the 400 ms, so a receiver sees time pass, not a burst."""
    audio = SharedOpusEncoder(silent=True, dtx=True)
    try:
        track = audio.track()
        started = asyncio.get_running_loop().time()
        packets = [await track.recv() for _ in range(3)]
        took = asyncio.get_running_loop().time() - started
        assert all(bytes(p) == b"\xf8\xff\xfe" for p in packets)
        ticks = [int(p.pts * p.time_base * 48000) for p in packets]
        assert [ticks[1] - ticks[0], ticks[2] - ticks[1]] == [19200, 19200]
        assert 0.6 <= took < 3.0  # two intervals at least: one frame each 400 ms, not 50 a second
    finally:
        await audio.aclose()
