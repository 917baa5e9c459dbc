"""A passthrough recording through a bad path: 5 % loss, 200 ± 50 ms each way (the emulator's
path relay in front of its own media ports, as in fault class 4). Losses are NACKed and
repaired, what cannot be repaired is left out until a keyframe. Checked: every frame written
decodes and shows the sender's pattern (no corrupt picture), the frame rate stays up, NACKs
crossed the path, and the status line's bitrate counts what was received."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from intkit import ALIAS, ALICE_FIRST, NumberedPattern, wait_until
from test_record_passthrough import check_video
from test_recording_call import TONE

from media import MediaClock, ToneAudioSource
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.impaired_path import ImpairedPathBackend
from pexbot.emulator.media.impairment import Impairment
from pexbot.jobs import JoinTarget, RecordJob, RecordOptions

IMPAIRED = Impairment(loss_percent=5, delay_ms=200, jitter_ms=50)
RECORD_FOR = 14.0


@pytest.mark.timeout(120)
async def test_passthrough_recording_through_a_lossy_path_is_repaired(tmp_path: Path) -> None:
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    clock = MediaClock()
    out = tmp_path / "rec"
    async with (
        Emulator(config, media_size=(320, 180), media_fps=15, media_impairment=IMPAIRED) as emu,
        Session(emu.base_url, ALIAS, display_name="alice") as alice,
    ):
        assert isinstance(emu.media, ImpairedPathBackend)
        await alice.call(
            audio=ToneAudioSource(TONE, clock=clock),
            video=NumberedPattern(ALICE_FIRST, clock=clock),
        )
        job = RecordJob(JoinTarget(emu.base_url, ALIAS), RecordOptions(out=out))
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(job.run(stop))
        await wait_until(lambda: job.recorder.elapsed() > 0, what="the first frame", within=30)
        await asyncio.sleep(RECORD_FOR)
        recorded = job.recorder.elapsed()
        # the status line's bitrate counts what the shortcut received (it counted ~4 kbit/s of
        # RTCP when the shortcut bypassed the transport's byte counters)
        rx_bps = job.status().rx_bps
        assert rx_bps is not None and rx_bps > 50_000, rx_bps
        path = emu.media.totals()
        figures = {
            "recorded_s": round(recorded, 2),
            "rx_kbps": round(rx_bps / 1000),
            "path_nacks": path["nacks"],
            "path_plis": path["plis"],
            "path_dropped": path["dropped_packets"],
            "keyframe_requests": job.recorder.keyframe_requests,
            "waiting_dropped": job.recorder.video_dropped_waiting,
        }
        stop.set()
        await asyncio.wait_for(task, 30)
    video = await asyncio.to_thread(check_video, out / "main.mkv", clock.start_wall_ms)
    figures |= {"written": video.packets, "decoded": video.frames, "with_codes": len(video.shots)}
    print("impaired passthrough:", json.dumps(figures))
    # every frame written decodes and is a whole picture of the sender's pattern
    assert video.decode_errors == 0 and video.frames == video.packets
    assert len(video.shots) >= 0.95 * video.frames
    # the picture kept coming (the emulator composes at 15 fps; the start waits for a keyframe)
    assert video.frames >= 8 * (recorded - 2)
    # losses were seen on the path and NACKed across it
    assert figures["path_dropped"] > 0 and figures["path_nacks"] > 0
