"""Recorder on real time: a 10 s recording, SIGKILL, MP4 read while written, a real peer pair.

Every file is opened with av and every packet decoded. Tracks are in sync when they arrive: a
white video frame and an audio click at the same moment must line up in the file.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack
from rec_synth import RealTime, SynthAudio, SynthVideo, analyse, wait_ended

from media.recorder import Recorder

SYNC = 0.080  # the required A/V alignment
HERE = Path(__file__).parent


async def test_ten_seconds_in_real_time_are_complete_and_in_sync(tmp_path: Path) -> None:
    clock = RealTime()
    t_ref = clock.now()
    # Unrelated pts offsets, and audio starting 0.4 s after video: pts alone would misalign.
    video = SynthVideo(clock, t_ref, duration=10.5, event_at=5.0, pts_offset=7_777_777)
    audio = SynthAudio(clock, t_ref, delay=0.4, duration=10.1, event_at=5.0, pts_offset=31)
    recorder = Recorder(tmp_path / "call.mkv")
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video, audio, limit=40)
    await recorder.close()

    stats = recorder.stats()["main"]
    vstats, astats = stats.streams["video"], stats.streams["audio"]
    result = analyse(tmp_path / "call.mkv")
    assert result.kinds == {"audio", "video"}
    assert result.duration is not None and abs(result.duration - 10.5) < 0.5
    assert abs(stats.duration - 10.5) < 0.5
    assert stats.bytes_written == (tmp_path / "call.mkv").stat().st_size > 0
    # Every frame handed to the encoder was decoded back, in order.
    assert vstats.frames_written + vstats.frames_dropped == video.sent == 315
    assert vstats.frames_written >= 300
    assert len(result.video_numbers) == result.video_packets == vstats.frames_written
    assert result.video_numbers == sorted(set(result.video_numbers))
    keyframes = [*result.keyframe_times, result.video_times[-1]]
    assert max(b - a for a, b in itertools.pairwise(keyframes)) <= 1.05
    assert astats.frames_written == audio.sent and astats.frames_dropped == 0
    # Audio started 0.4 s late: it is padded from the file start, and its first real sample
    # sits where it arrived.
    assert abs(astats.silence_seconds - 0.4) < SYNC
    assert result.audio_first is not None and result.video_first is not None
    assert abs(result.audio_first - result.video_first) < 0.03
    assert result.flash_at is not None and result.click_at is not None
    offset = result.click_at - result.flash_at
    print(f"\n10 s recording: A/V offset at the event {1000 * offset:+.1f} ms")
    assert abs(result.flash_at - 5.0) < 0.15
    assert abs(result.click_at - result.flash_at) <= SYNC


@pytest.mark.parametrize("name", ["killed.mkv", "killed.mp4"])
async def test_sigkilled_recording_opens_and_decodes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    env = dict(os.environ, PYTHONPATH=str(HERE.parent.parent))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "rec_sigkill_child.py"),
        str(path),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(30):
            word, reading = (await child.stdout.readline()).decode().split()
        assert word == "recording" and float(reading) > 0
        started = time.monotonic() - float(reading)
        await asyncio.sleep(2.5)
        child.send_signal(signal.SIGKILL)
        elapsed = time.monotonic() - started
    finally:
        if child.returncode is None:
            child.kill()
        async with asyncio.timeout(10):
            await child.wait()
    assert child.returncode == -signal.SIGKILL
    result = analyse(path)
    assert result.kinds == {"audio", "video"}
    print(f"\n{name}: SIGKILL after {elapsed:.2f} s: {result.media_end:.2f} s of media survived")
    assert result.media_end >= elapsed - 2.0
    assert result.video_numbers == sorted(set(result.video_numbers))
    assert len(result.video_numbers) >= 30 * (elapsed - 2.0)


async def test_mp4_is_readable_while_written_and_final_after_close(tmp_path: Path) -> None:
    path = tmp_path / "call.mp4"
    clock = RealTime()
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, duration=3.5, event_at=1.0)
    audio = SynthAudio(clock, t_ref, delay=0.2, duration=3.3, event_at=1.0)
    recorder = Recorder(path)
    recorder.add_track(video)
    recorder.add_track(audio)
    await asyncio.sleep(2.6)
    assert 2.5 < recorder.elapsed() < 3.3
    partial = analyse(path)  # while the recorder is still writing
    assert partial.kinds == {"audio", "video"}
    assert len(partial.video_numbers) >= 30  # >= 1 s of video already readable
    assert partial.flash_at is not None and partial.click_at is not None
    assert abs(partial.click_at - partial.flash_at) <= SYNC
    await wait_ended(video, audio)
    await recorder.close()

    result = analyse(path)
    stats = recorder.stats()["main"]
    assert result.duration is not None and abs(result.duration - 3.5) < 0.5
    assert (
        len(result.video_numbers) == result.video_packets == stats.streams["video"].frames_written
    )
    assert result.video_numbers == sorted(set(result.video_numbers))
    assert result.audio_end is not None and abs(result.audio_end - result.video_times[-1]) < 0.15


async def test_close_finalises_while_tracks_are_still_running(tmp_path: Path) -> None:
    clock = RealTime()
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, duration=60)
    audio = SynthAudio(clock, t_ref, duration=60)
    recorder = Recorder(tmp_path / "cut.webm")
    recorder.add_track(video)
    recorder.add_track(audio)
    await asyncio.sleep(1.5)
    before = recorder.elapsed()
    await recorder.close()  # cancels the pulling tasks mid-recv
    after = recorder.elapsed()
    await recorder.close()
    result = analyse(tmp_path / "cut.webm")
    assert result.duration is not None and before - 0.5 < result.duration < after + 0.1
    assert len(result.video_numbers) == recorder.stats()["main"].streams["video"].frames_written


async def test_recording_over_a_real_peer_connection(tmp_path: Path) -> None:
    config = RTCConfiguration(iceServers=[])
    sender, receiver = RTCPeerConnection(config), RTCPeerConnection(config)
    recorder = Recorder(tmp_path / "{role}.mkv")
    received: list[MediaStreamTrack] = []

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        received.append(track)
        recorder.add_track(track)

    clock = RealTime()
    t_ref = clock.now() + 0.5
    video = SynthVideo(clock, t_ref, size=(640, 360), duration=5.0, event_at=3.0)
    audio = SynthAudio(clock, t_ref, duration=5.0, event_at=3.0)
    try:
        sender.addTrack(video)
        sender.addTrack(audio)
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await wait_ended(video, audio, limit=30)
        await asyncio.sleep(0.5)  # what is in flight
    finally:
        await recorder.close()
        await sender.close()
        await receiver.close()
    assert {t.kind for t in received} == {"audio", "video"}
    result = analyse(tmp_path / "main.mkv", numbers=False)
    stats = recorder.stats()["main"]
    assert result.kinds == {"audio", "video"}
    assert result.video_size == (640, 360)
    assert len(result.video_times) == result.video_packets
    assert len(result.video_times) >= 60  # aiortc may drop a few while the link ramps up
    assert stats.streams["audio"].frames_written >= 150
    assert result.flash_at is not None and result.click_at is not None
    offset = result.click_at - result.flash_at
    print(f"\npeer connection: A/V offset at the event {1000 * offset:+.1f} ms")
    # aiortc's audio and video paths add different latencies (jitter buffers, decode); what
    # arrived is recorded as it arrived, so allow for that difference here.
    assert abs(offset) <= 0.2


@pytest.fixture(autouse=True)
def _quiet_libav() -> None:
    import av.logging

    av.logging.set_level(av.logging.ERROR)
