"""Fault class 5 under a recording: the media path of the recorder is cut for 2.5 s and
restored, in a transcoded call (the path relay in front of the emulator's own media ports,
``media_impairment=Impairment()``, nothing impaired but the cut) and in a direct-media call
(``direct_media_relay``). The record job (as it is) must come back by itself (ICE restart: a
new peer connection under long-lived tracks) and the recording stay one file: every frame
decodes, pictures on both sides of the cut, new pattern numbers within 3 s of the path coming
back, and no jump in its timestamps beyond the cut and those 3 s."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from media import PatternVideoSource, ToneAudioSource
from media.analyser import luma_plane
from media.pattern import find_codes
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.impaired_path import ImpairedPathBackend
from pexbot.emulator.media.impairment import Impairment
from pexbot.jobs import JoinTarget, RecordJob, RecordOptions

CUT = 2.5
BACK_WITHIN = 3.0


@contextlib.asynccontextmanager
async def sending(url: str, alias: str) -> AsyncIterator[Session]:
    video = PatternVideoSource(320, 180, fps=10)
    audio = ToneAudioSource()
    try:
        async with Session(url, alias, display_name="sender") as session:
            await session.call(audio=audio, video=video)
            yield session
    finally:
        video.stop()
        audio.stop()


def frames_of(path: Path) -> list[tuple[float, list[int]]]:
    """(pts in s, pattern numbers) of every video frame; every frame of the file decoded."""
    out: list[tuple[float, list[int]]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                assert frame.pts is not None and frame.time_base is not None
                numbers = [code.number for code in find_codes(luma_plane(frame))]
                out.append((float(frame.pts * frame.time_base), numbers))
    return out


async def wait_elapsed(job: RecordJob, seconds: float) -> float:
    for _ in range(1200):
        if job.recorder.elapsed() >= seconds:
            return job.recorder.elapsed()
        await asyncio.sleep(0.05)
    raise AssertionError(f"the recording did not reach {seconds} s")


@pytest.mark.parametrize("path_kind", ["transcoded", "direct"])
async def test_recording_stays_one_file_across_a_cut_path(path_kind: str, tmp_path: Path) -> None:
    direct = path_kind == "direct"
    conference = ConferenceConfig(aliases=["meet"], direct_media=direct, direct_media_relay=direct)
    emulator = Emulator(
        EmulatorConfig(conferences=[conference]),
        media_size=(320, 180),
        media_fps=10,
        media_impairment=None if direct else Impairment(),
    )
    async with emulator as emu, sending(emu.base_url, "meet"):
        job = RecordJob(
            JoinTarget(emu.base_url, "meet", direct_media=direct),
            RecordOptions(out=tmp_path, duration=16),
        )
        task = asyncio.get_running_loop().create_task(job.run())
        try:
            await wait_elapsed(job, 4.0)

            def cut(blocked: bool) -> None:
                if direct:
                    emu.faults.block_path("meet", blocked)
                    return
                assert isinstance(emu.media, ImpairedPathBackend)
                recorder = next(p for p in emu.participants("meet") if p.display_name == "pexbot")
                for call in emu.media.calls_of(recorder.uuid):
                    emu.media.relay.set_path(call, blocked=blocked)

            cut(True)
            cut_at = job.recorder.elapsed()
            await asyncio.sleep(CUT)
            cut(False)
            back_at = job.recorder.elapsed()
            started = time.monotonic()
            result = await asyncio.wait_for(task, 60)
        finally:
            if not task.done():
                task.cancel()
    frames = frames_of(tmp_path / "main.mkv")
    assert result.reason == "duration"
    before = [n for pts, numbers in frames if pts < cut_at for n in numbers]
    assert before, "no pictures before the cut"
    newest_before = max(before)
    first_new = next(
        (
            pts
            for pts, numbers in frames
            if pts > back_at and any(n > newest_before for n in numbers)
        ),
        None,
    )
    assert first_new is not None, "no new pictures after the path came back"
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(frames)]
    print(
        f"{path_kind}: cut at {cut_at:.2f} s for {back_at - cut_at:.2f} s, new pictures "
        f"{first_new - back_at:.2f} s after it came back, longest pts gap {max(gaps):.2f} s, "
        f"{len(frames)} frames, {time.monotonic() - started:.1f} s to finish"
    )
    assert first_new - back_at <= BACK_WITHIN
    assert max(gaps) <= (back_at - cut_at) + BACK_WITHIN
    assert frames[-1][0] > back_at + 3  # and it went on
