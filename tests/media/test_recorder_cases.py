"""Recorder cases on a virtual clock (as fast as the machine encodes): containers, roles,
resolution changes, pts jumps, gaps, failing tracks, closing with nothing recorded."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import av
import pytest
from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame
from av.frame import Frame
from rec_synth import SynthAudio, SynthVideo, VirtualTime, analyse, wait_ended

from media.errors import MediaError
from media.mux import RecordingError
from media.recorder import Recorder

SYNC = 0.080


def make_recorder(target: Path, **kwargs: object) -> tuple[Recorder, VirtualTime]:
    clock = VirtualTime()
    # A deep video queue: on a virtual clock frames come faster than real time.
    recorder = Recorder(target, clock=clock.now, video_queue=10_000, **kwargs)  # type: ignore[arg-type]
    return recorder, clock


@pytest.mark.parametrize(
    ("name", "codecs", "expected"),
    [
        ("a.webm", {}, ("vp8", "opus")),
        ("a.mkv", {"video_codec": "h264"}, ("h264", "opus")),
        ("a.mp4", {}, ("h264", "aac")),
        ("a.mp4", {"audio_codec": "opus"}, ("h264", "opus")),
    ],
)
async def test_containers_and_codecs(
    tmp_path: Path, name: str, codecs: dict[str, str], expected: tuple[str, str]
) -> None:
    recorder, clock = make_recorder(tmp_path / name, **codecs)
    video = SynthVideo(clock, clock.now(), duration=3.0, event_at=2.0)
    audio = SynthAudio(clock, clock.now(), delay=0.3, duration=2.7, event_at=2.0)
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video, audio)
    await recorder.close()
    with av.open(str(tmp_path / name)) as container:
        names = (container.streams.video[0].codec.name, container.streams.audio[0].codec.name)
    assert names == expected
    result = analyse(tmp_path / name)
    assert result.duration is not None and abs(result.duration - 3.0) < 0.5
    assert result.video_numbers == list(range(90))
    assert result.flash_at is not None and result.click_at is not None
    assert abs(result.click_at - result.flash_at) <= SYNC
    assert result.metadata.get("role", result.metadata.get("ROLE")) == "main"


@pytest.mark.parametrize("container", ["mkv", "mp4"])
async def test_presentation_is_written_beside_main_on_the_same_clock(
    tmp_path: Path, container: str
) -> None:
    recorder, clock = make_recorder(tmp_path / "out", container=container)
    t_ref = clock.now()
    main_video = SynthVideo(clock, t_ref, duration=3.0)
    main_audio = SynthAudio(clock, t_ref, duration=3.0, event_at=2.0)
    slides = SynthVideo(clock, t_ref, delay=1.0, duration=2.0, event_at=2.0, size=(640, 480))
    recorder.add_track(main_video)
    recorder.add_track(main_audio)
    recorder.add_track(slides, role="presentation")
    await wait_ended(main_video, main_audio, slides)
    await recorder.close()

    assert recorder.paths == {
        "main": tmp_path / "out" / f"main.{container}",
        "presentation": tmp_path / "out" / f"presentation.{container}",
    }
    main = analyse(recorder.paths["main"])
    presentation = analyse(recorder.paths["presentation"])
    assert presentation.kinds == {"video"}
    assert presentation.video_size == (640, 480)
    # The presentation starts 1 s into the recording, in its own file too.
    assert presentation.video_first is not None and abs(presentation.video_first - 1.0) < SYNC
    assert presentation.flash_at is not None and main.click_at is not None
    assert abs(presentation.flash_at - main.click_at) <= SYNC
    start = {k.lower(): v for k, v in main.metadata.items()}["recording_start"]
    assert {k.lower(): v for k, v in presentation.metadata.items()}["recording_start"] == start


async def test_resolution_changes_are_scaled_to_the_first_size(tmp_path: Path) -> None:
    recorder, clock = make_recorder(tmp_path / "r.mkv")
    video = SynthVideo(
        clock, clock.now(), duration=3.0, sizes={30: (640, 480), 60: (160, 120)}, event_at=2.5
    )
    recorder.add_track(video)
    await wait_ended(video)
    await recorder.close()
    result = analyse(tmp_path / "r.mkv", numbers=False)
    assert result.kinds == {"video"}
    assert result.video_size == (320, 240)
    assert len(result.video_times) == result.video_packets == 90
    assert result.flash_at is not None and abs(result.flash_at - 2.5) < 0.02


async def test_a_pts_jump_re_anchors_and_keeps_sync(tmp_path: Path) -> None:
    recorder, clock = make_recorder(tmp_path / "j.mkv")
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, duration=4.0, event_at=3.0, pts_jumps={45: -90_000_000})
    audio = SynthAudio(clock, t_ref, duration=4.0, event_at=3.0)
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video, audio)
    await recorder.close()
    result = analyse(tmp_path / "j.mkv")
    assert result.video_numbers == list(range(120))
    gaps = [b - a for a, b in zip(result.video_times, result.video_times[1:], strict=False)]
    assert max(gaps) < 0.05 and min(gaps) > 0
    assert result.flash_at is not None and result.click_at is not None
    assert abs(result.click_at - result.flash_at) <= SYNC


async def test_lost_audio_is_filled_with_silence(tmp_path: Path) -> None:
    recorder, clock = make_recorder(tmp_path / "g.webm", fsync=True)
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, duration=3.0, event_at=2.5)
    audio = SynthAudio(clock, t_ref, duration=3.0, event_at=2.5, gap=(1.0, 1.5))
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video, audio)
    await recorder.close()
    stats = recorder.stats()["main"].streams["audio"]
    assert abs(stats.silence_seconds - 0.5) < 0.03
    result = analyse(tmp_path / "g.webm")
    assert result.audio_end is not None and abs(result.audio_end - 3.0) < 0.05
    assert result.flash_at is not None and result.click_at is not None
    assert abs(result.click_at - result.flash_at) <= SYNC


async def test_a_full_video_queue_drops_and_counts(tmp_path: Path) -> None:
    clock = VirtualTime()
    recorder = Recorder(tmp_path / "d.mkv", clock=clock.now, video_queue=1)
    video = SynthVideo(clock, clock.now(), duration=10.0)
    recorder.add_track(video)
    await wait_ended(video)
    await recorder.close()
    stats = recorder.stats()["main"].streams["video"]
    assert stats.frames_dropped > 0
    assert stats.frames_written + stats.frames_dropped == video.sent == 300
    result = analyse(tmp_path / "d.mkv")
    assert len(result.video_numbers) == stats.frames_written
    assert result.video_numbers == sorted(set(result.video_numbers))


async def test_close_twice_and_after_a_track_raised(tmp_path: Path) -> None:
    recorder, clock = make_recorder(tmp_path / "f.mkv")
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, duration=2.0, fail_after=30)
    audio = SynthAudio(clock, t_ref, duration=2.0)
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video, audio)
    await recorder.close()
    await recorder.close()
    assert recorder.closed
    result = analyse(tmp_path / "f.mkv")
    assert result.video_numbers == list(range(30))
    assert result.audio_end is not None and abs(result.audio_end - 2.0) < 0.05
    with pytest.raises(MediaError, match="closed"):
        recorder.add_track(SynthVideo(clock, t_ref))


class SilentTrack(MediaStreamTrack):
    kind = "video"

    async def recv(self) -> VideoFrame:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_close_with_no_frames_leaves_no_file(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "nothing.mkv")
    recorder.add_track(SilentTrack())
    await asyncio.sleep(0.1)
    await recorder.close()
    assert recorder.paths == {} and recorder.stats() == {}
    assert not (tmp_path / "nothing.mkv").exists()
    async with Recorder(tmp_path / "none.mkv"):
        pass
    assert os.listdir(tmp_path) == []


def test_naming_and_validation(tmp_path: Path) -> None:
    assert Recorder(tmp_path / "c.mkv").path_for("presentation") == tmp_path / "c.presentation.mkv"
    assert Recorder(tmp_path / "c.mkv").path_for("main") == tmp_path / "c.mkv"
    assert Recorder(tmp_path / "{role}.webm").path_for("main") == tmp_path / "main.webm"
    assert Recorder(tmp_path / "x-{role}").path_for("a/b") == tmp_path / "x-a_b.mkv"
    assert Recorder(tmp_path, container="mp4").path_for("slides") == tmp_path / "slides.mp4"
    assert Recorder(tmp_path / "v.mp4").spec.video_codec == "h264"
    with pytest.raises(RecordingError, match="contradicts"):
        Recorder(tmp_path / "c.mkv", container="mp4")
    with pytest.raises(RecordingError, match="webm cannot carry 'h264'"):
        Recorder(tmp_path / "c.webm", video_codec="h264")
    with pytest.raises(RecordingError, match="unsupported container"):
        Recorder(tmp_path, container="avi")
    with pytest.raises(RecordingError, match="width and height"):
        Recorder(tmp_path, width=640)


class KeepingTrack(MediaStreamTrack):
    """Passes frames through and remembers each with the pts it had when handed on."""

    def __init__(self, inner: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self.seen: list[tuple[object, int | None, object]] = []

    async def recv(self) -> Frame:
        frame = await self._inner.recv()
        assert isinstance(frame, Frame)
        self.seen.append((frame, frame.pts, frame.time_base))
        return frame


async def test_frames_handed_in_are_left_untouched(tmp_path: Path) -> None:
    # aiortc's MediaRelay hands the same frame object to every consumer.
    recorder, clock = make_recorder(tmp_path / "u.mkv")
    video = KeepingTrack(SynthVideo(clock, clock.now(), duration=1.0))
    audio = KeepingTrack(SynthAudio(clock, clock.now(), duration=1.0))
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video._inner, audio._inner)
    await recorder.close()
    assert len(video.seen) == 30 and len(audio.seen) == 50
    for frame, pts, time_base in video.seen + audio.seen:
        assert (frame.pts, frame.time_base) == (pts, time_base)  # type: ignore[attr-defined]


async def test_late_video_gets_a_black_lead_in(tmp_path: Path) -> None:
    recorder, clock = make_recorder(tmp_path / "late.mkv")
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, delay=0.5, duration=1.5, event_at=1.5)
    audio = SynthAudio(clock, t_ref, duration=2.0, event_at=1.5)
    recorder.add_track(video)
    recorder.add_track(audio)
    await wait_ended(video, audio)
    await recorder.close()
    assert recorder.stats()["main"].streams["video"].filler_frames == 1
    result = analyse(tmp_path / "late.mkv")
    assert result.video_times[0] == 0.0 and abs(result.video_times[1] - 0.5) < 0.002
    assert result.video_numbers[1:] == list(range(45))
    assert result.flash_at is not None and result.click_at is not None
    assert abs(result.click_at - result.flash_at) <= SYNC


async def test_a_video_track_that_never_delivers_does_not_hold_up_audio(tmp_path: Path) -> None:
    recorder, clock = make_recorder(tmp_path / "a.mkv")
    audio = SynthAudio(clock, clock.now(), duration=4.0, event_at=3.0)
    recorder.add_track(SilentTrack())
    recorder.add_track(audio)
    await wait_ended(audio)
    await recorder.close()
    stats = recorder.stats()["main"]
    assert stats.streams["audio"].frames_written == 200 and stats.error is None
    result = analyse(tmp_path / "a.mkv")
    assert result.kinds == {"audio", "video"}  # opened after open_wait with a video stream
    assert result.video_times == []
    assert result.audio_first == 0.0 and result.audio_end is not None
    assert abs(result.audio_end - 4.0) < 0.05
    assert result.click_at is not None and abs(result.click_at - 3.0) < 0.01


async def test_an_unwritable_target_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    recorder, clock = make_recorder(tmp_path / "file" / "x.mkv")
    audio = SynthAudio(clock, clock.now(), duration=1.0)
    recorder.add_track(audio)
    await wait_ended(audio)
    await recorder.close()
    stats = recorder.stats()["main"]
    assert stats.error is not None and "cannot open" in stats.error
    assert stats.streams["audio"].frames_written == 0
    assert stats.streams["audio"].frames_dropped == audio.sent == 50
