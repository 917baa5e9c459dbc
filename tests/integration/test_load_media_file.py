"""Load bots that send a file's packets as they are (``LoadOptions.media_file`` /
``pexbot load --media-file``): nothing encoded or decoded on the way out, and through the
forwarding emulator each bot reads the file's own frame numbers and hears its tone."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from intkit import make_clip
from test_forward_emulator import forward_emulator

from media import ToneSpec
from media.errors import SourceError
from media.shared_file import SharedFile
from pexbot.jobs.load import LoadJob, LoadOptions
from pexbot.jobs.target import JoinTarget

FIRST = 7000
SECONDS = 2.0


@pytest.mark.timeout(120)
async def test_bots_send_a_files_packets_and_read_its_numbers(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", seconds=SECONDS, first=FIRST, tone=ToneSpec())
    shared = SharedFile(clip)
    assert shared.codec == "vp8" and shared.fps == 15.0
    assert shared.video is not None and shared.audio is not None
    await shared.aclose()
    async with forward_emulator() as emu:
        options = LoadOptions(
            bots=3, ramp=6, duration=5.0, media_file=str(clip), verify_every=1, codec="vp8"
        )
        job = LoadJob(JoinTarget(emu.base_url, "files"), options)
        summary = await job.run()
    assert summary["joined"] == 3 and summary["healthy"] == 3, summary.get("failures")
    assert summary["video_undecodable"] == 0 and summary["video_unreadable"] == 0
    assert summary["video_verified"] >= 3
    figures = summary["shared"]
    assert figures["encode_ms_per_frame"] is not None
    for bot in summary["per_bot"]:
        # the numbers on the file's pictures, read off the keyframes the bot received
        assert FIRST <= bot["video"]["last_number"] < FIRST + SECONDS * 15
        assert bot["video"]["fps"] > 10 and bot["audio"]["fps"] > 40
    # the loop: the file is 2 s long, the bots ran for longer, and timestamps never stepped back
    assert summary["video_gaps"] == 0


def test_files_that_cannot_be_sent_as_they_are_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    with pytest.raises(SourceError, match="cannot read media file"):
        SharedFile(text)
    wav = tmp_path / "tone.wav"
    with av.open(str(wav), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16")
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
    with pytest.raises(SourceError, match="must be Opus"):
        SharedFile.probe(wav)
