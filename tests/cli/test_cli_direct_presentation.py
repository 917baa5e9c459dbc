"""``pexbot present`` and ``pexbot record`` as subprocesses in a direct-media conference of a
separately started ``pexbot emulator``: the presentation goes over the peer connection between
the two processes (the emulator carries no media there), and the recorder's
``presentation.mkv`` holds the stamped frame numbers in the order they were sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
from clikit import emulator_process, finish, pexbot, spawn, traffic, write_config
from test_cli_present import write_clip

from media.analyser import luma_plane
from media.pattern import find_codes


def read_numbers(path: Path) -> list[int]:
    """The frame numbers stamped into a recorded video file, in file order (blocking)."""
    numbers: list[int] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            numbers += [code.number for code in find_codes(luma_plane(frame))]
    return numbers


async def test_present_and_record_in_a_direct_media_conference(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mkv")
    out = tmp_path / "rec"
    config = write_config(tmp_path / "emu.json", [{"aliases": ["dm"], "direct_media": True}])
    async with emulator_process(config) as url:
        common = ("--node", url, "--alias", "dm", "--direct-media")
        recorder = await spawn(
            "record", *common, "--name", "recorder", "--out", str(out), "--duration", "18"
        )
        await asyncio.sleep(2.0)  # the recorder waits for its far end, as Pexip's client does
        played = await pexbot(
            "present", *common, "--name", "presenter", "--stamp-codes", "--loop",
            "--duration", "8", "--json", str(clip),
        )  # fmt: skip
        recorded = await finish(recorder, 60)
        records = await traffic(url)

    assert played.code == 0, played.stderr
    assert recorded.code == 0, recorded.stderr
    assert "Traceback" not in played.stderr + recorded.stderr
    sent = played.json()["frames_sent"]
    numbers = await asyncio.to_thread(read_numbers, out / "presentation.mkv")
    print(f"direct CLI: sent {sent}, recorded {len(numbers)} coded frames")
    assert len(numbers) >= sent // 2, (sent, len(numbers))
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert max(numbers) < sent
    # direct media: the offers and answers went through the node, the media did not
    calls = [r for r in records if r["path"].endswith("/calls")]
    answers = [r["response_json"]["result"]["sdp"] for r in calls if r.get("response_json")]
    # the recorder waited; the presenter's offer was answered by it; when the presenter left,
    # the recorder waited again with a fresh /calls (Pexip's restartCall)
    assert len(answers) == 3 and answers[0] == "" and answers[1] and answers[2] == ""
