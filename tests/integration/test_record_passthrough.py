"""Passthrough recording (the record job's default) through the emulator: real HTTP, real aiortc.

Alice sends the numbered pattern and the tone on one clock and presents a second pattern on the
same clock for a few seconds; the record job joins and writes what it receives, undecoded. The
emulator forwards (``media="forward"``): the packets the recorder muxes are alice's own, so the
A/V offset measured is the recording's, not a compositor's. Both files are opened with av and
every packet decoded; content puts each picture and each tone marker back on the capture clock
(see ``check_file`` in ``test_recording_call``), which gives the A/V offset, the presentation's
place against main, and how far the file's timeline stretches or shrinks the capture timeline.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from intkit import ALIAS, ALICE_FIRST, BOB_FIRST, NumberedPattern, median, wait_until
from test_recording_call import TONE, check_file

from media import MediaClock, ToneAudioSource
from media.analyser import luma_plane
from media.analysis import wrap_diff
from media.clock import ms32
from media.pattern import find_codes
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.jobs import JoinTarget, RecordJob, RecordOptions
from pexbot.jobs.record import EVENTS_FILE

PRESENT_AFTER = 2.0
PRESENT_FOR = 4.0
RECORD_FOR = 9.0


@dataclass
class VideoCheck:
    frames: int = 0
    packets: int = 0
    decode_errors: int = 0
    size: tuple[int, int] = (0, 0)
    start: float | None = None  # first frame's time in the file
    end: float = 0.0  # last frame's time in the file
    shots: list[tuple[float, float]] = field(default_factory=list)  # (capture ms, file ms)

    @property
    def offsets(self) -> list[float]:
        return [shot - at for shot, at in self.shots]

    def span_error_ms(self) -> float:
        """How much longer (or shorter) the file's timeline is than the capture timeline over
        the pictures read: the stretch of a straight-line fit of file time against capture time
        (a first picture that arrived late, and sits where it arrived, does not count)."""
        shots = np.array([shot for shot, _ in self.shots])
        ats = np.array([at for _, at in self.shots])
        slope = float(np.polyfit(shots - shots[0], ats - ats[0], 1)[0])
        return (slope - 1.0) * float(shots[-1] - shots[0])

    def jitter_ms(self) -> float:
        """95th percentile of how far pictures sit from the median capture-to-file shift."""
        offsets = np.array(self.offsets)
        return float(np.percentile(np.abs(offsets - np.median(offsets)), 95))


def check_video(path: Path, start_wall_ms: float) -> VideoCheck:
    base = ms32(start_wall_ms)
    check = VideoCheck()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        check.size = (stream.codec_context.width, stream.codec_context.height)
        for packet in container.demux(stream):
            if not packet.size:
                continue
            check.packets += 1
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                check.decode_errors += 1
                continue
            for frame in frames:
                assert isinstance(frame, av.VideoFrame) and frame.time is not None
                check.frames += 1
                at = float(frame.time)
                check.start = at if check.start is None else check.start
                check.end = at
                for code in find_codes(luma_plane(frame)):
                    shot = wrap_diff(code.timestamp_ms, base, 1 << 32)
                    check.shots.append((shot, at * 1000))
    return check


async def test_passthrough_record_job_through_the_emulator(tmp_path: Path) -> None:
    """Main and presentation recorded undecoded: every frame of both files decodes, main's
    duration is within 0.1 s of the time recorded, audio and video are within 40 ms, and the
    presentation (starting late on the recording clock) sits where main's pictures of the
    same moment are, its span as long as it was presented (within 0.1 s)."""
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    clock = MediaClock()
    out = tmp_path / "rec"
    async with (
        Emulator(config, media="forward") as emu,
        Session(emu.base_url, ALIAS, display_name="alice") as alice,
    ):
        call = await alice.call(
            audio=ToneAudioSource(TONE, clock=clock),
            video=NumberedPattern(ALICE_FIRST, clock=clock),
        )
        job = RecordJob(JoinTarget(emu.base_url, ALIAS), RecordOptions(out=out))
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(job.run(stop))
        await wait_until(lambda: job.recorder.elapsed() > 0, what="the first recorded frame")
        await asyncio.sleep(PRESENT_AFTER)
        slides = NumberedPattern(BOB_FIRST, clock=clock)
        await call.start_presenting(slides)
        await asyncio.sleep(PRESENT_FOR)
        await call.stop_presenting()
        slides.stop()
        await asyncio.sleep(max(0.0, RECORD_FOR - job.recorder.elapsed()))
        recorded = job.recorder.elapsed()  # what the file should hold: media until now
        stop.set()
        result = await asyncio.wait_for(task, 30)
    started = time.monotonic()
    main = await asyncio.to_thread(check_file, out / "main.mkv", clock.start_wall_ms)
    slides_check = await asyncio.to_thread(
        check_video, out / "presentation.mkv", clock.start_wall_ms
    )
    main_video = await asyncio.to_thread(check_video, out / "main.mkv", clock.start_wall_ms)
    av_offset = median(main.video_offsets_ms) - median(main.audio_offsets_ms)
    slides_vs_main = median(slides_check.offsets) - median(main.video_offsets_ms)
    events = [json.loads(line) for line in (out / EVENTS_FILE).read_text().splitlines()]
    file_start = {e["role"]: e["t"] for e in events if e["event"] == "file_start"}
    figures = {
        "recorded_s": round(recorded, 3),
        "job_seconds": round(result.seconds, 3),
        "main_duration_s": round(main.duration, 3),
        "duration_error_s": round(main.duration - recorded, 3),
        "main_frames": main.streams,
        "main_packets": main.packets,
        "tone_markers": len(main.audio_offsets_ms),
        "av_offset_ms": round(av_offset, 1),
        "main_span_error_ms": round(main_video.span_error_ms(), 1),
        "slides_frames": slides_check.frames,
        "slides_packets": slides_check.packets,
        "slides_start_s": slides_check.start,
        "slides_file_start_event_s": file_start.get("presentation"),
        "slides_span_s": round(slides_check.end - (slides_check.start or 0.0), 3),
        "slides_span_error_ms": round(slides_check.span_error_ms(), 1),
        "slides_vs_main_ms": round(slides_vs_main, 1),
        "jitter_p95_ms": {
            "main": round(main_video.jitter_ms(), 1),
            "slides": round(slides_check.jitter_ms(), 1),
        },
        "files": result.files,
        "check_s": round(time.monotonic() - started, 2),
    }
    print("passthrough job:", json.dumps(figures))
    assert result.reason == "stopped" and set(result.files) == {"main", "presentation"}
    assert all(info["error"] is None for info in result.files.values())
    # main: every packet decodes, A/V in sync, duration as recorded
    assert main.decode_errors == 0
    assert main.streams["video"] == main.packets["video"] > 8 * 10
    assert main.streams["audio"] == main.packets["audio"] > 8 * 40
    assert len(main.video_offsets_ms) >= 0.9 * main.streams["video"]
    assert abs(main.duration - recorded) <= 0.1
    assert abs(main_video.span_error_ms()) <= 100.0 and main_video.jitter_ms() <= 100.0
    assert len(main.audio_offsets_ms) >= 5
    assert abs(av_offset) <= 40.0
    # presentation: its own file, every packet decodes, on the recording clock
    assert slides_check.decode_errors == 0
    assert slides_check.frames == slides_check.packets > (PRESENT_FOR - 1.0) * 10
    assert slides_check.size == (320, 180)
    assert len(slides_check.shots) >= 0.9 * slides_check.frames
    assert slides_check.start is not None and slides_check.start >= PRESENT_AFTER - 0.5
    assert abs(slides_check.span_error_ms()) <= 100.0 and slides_check.jitter_ms() <= 100.0
    assert abs(slides_vs_main) <= 40.0


def lose_first_packet(receiver: Any) -> list[int]:
    """Drop the first RTP packet that reaches ``receiver`` (per object), as when a stream's
    first packets come before the receiver takes them. Returns the dropped sequence numbers."""
    dropped: list[int] = []
    handle = receiver._handle_rtp_packet

    async def handle_rtp(packet: Any, arrival_time_ms: int) -> None:
        if not dropped:
            dropped.append(packet.sequence_number)
            return
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp
    return dropped


async def test_presentation_whose_first_packet_was_lost(tmp_path: Path) -> None:
    """The composing emulator sends the presentation as H.264 (SPS, PPS and SEI aggregated in
    the first packet, then the slices). Its first packet lost, the first frame the recorder
    gets is an IDR without parameter sets: the cause of "Invalid data found when processing
    input" on presentation.mkv. The recorder waits for a keyframe that has them (asking for
    one), and every frame of both files decodes."""
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    clock = MediaClock()
    out = tmp_path / "rec"
    async with (
        Emulator(config, media_size=(320, 180), media_fps=10) as emu,
        Session(emu.base_url, ALIAS, display_name="alice") as alice,
    ):
        call = await alice.call(
            audio=ToneAudioSource(TONE, clock=clock),
            video=NumberedPattern(ALICE_FIRST, clock=clock),
        )
        job = RecordJob(JoinTarget(emu.base_url, ALIAS), RecordOptions(out=out, duration=30))
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(job.run(stop))
        await wait_until(lambda: job.recorder.elapsed() > 1.0, what="a second recorded")
        recording_call = job._call
        assert recording_call is not None
        videos = [t for t in recording_call.pc.getTransceivers() if t.kind == "video"]
        assert len(videos) == 2  # main, then the slides line
        dropped = lose_first_packet(videos[1].receiver)
        slides = NumberedPattern(BOB_FIRST, clock=clock)
        await call.start_presenting(slides)
        await wait_until(
            lambda: "presentation" in job.recorder.paths, what="the presentation file", within=20
        )
        await asyncio.sleep(3.0)
        await call.stop_presenting()
        slides.stop()
        stop.set()
        result = await asyncio.wait_for(task, 30)
    main = await asyncio.to_thread(check_video, out / "main.mkv", clock.start_wall_ms)
    shown = await asyncio.to_thread(check_video, out / "presentation.mkv", clock.start_wall_ms)
    figures = {
        "dropped_seq": dropped,
        "keyframe_requests": job.recorder.keyframe_requests,
        "video_dropped_waiting": job.recorder.video_dropped_waiting,
        "main": [main.frames, main.packets],
        "presentation": [shown.frames, shown.packets],
        "files": {role: (info["error"], info["frames"]) for role, info in result.files.items()},
    }
    print("first slides packet lost:", json.dumps(figures))
    assert dropped and all(info["error"] is None for info in result.files.values())
    assert main.decode_errors == 0 and main.frames == main.packets > 10
    assert shown.decode_errors == 0 and shown.frames == shown.packets >= 5
    assert shown.size == (320, 180)
