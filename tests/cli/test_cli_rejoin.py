"""``--rejoin`` (fault class 3): the node is stopped and a new one started on the same port
under a running ``pexbot record`` / ``pexbot join``. The bot notices, joins again, and the
recording goes on in the same file, with the gap marked in ``events.jsonl``."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import av
from clikit import events_of, finish, spawn

from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig

#: the node is down this long before the new one starts
DOWN = 1.0


def _config() -> EmulatorConfig:
    return EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])


async def _restart(emu: Emulator) -> tuple[Emulator, float]:
    """Stop ``emu`` and start a new node on its port; (the new node, when the old stopped)."""
    port = emu.port
    stopped_at = time.monotonic()
    await emu.aclose()
    await asyncio.sleep(DOWN)
    return await Emulator(_config(), port=port, media_size=(320, 180), media_fps=10).start(), (
        stopped_at
    )


def _video_times(path: Path) -> list[float]:
    """Seconds of every video frame of the file (which must decode, audio too)."""
    times: list[float] = []
    audio = 0
    with av.open(str(path)) as container:
        for frame in container.decode(*container.streams):
            if not isinstance(frame, av.VideoFrame):
                audio += 1
            elif frame.pts is not None and frame.time_base is not None:
                times.append(float(frame.pts * frame.time_base))
    assert audio > 0, "no audio decoded"
    return times


async def test_record_rejoins_a_restarted_node_into_the_same_file(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    emu = await Emulator(_config(), port=0, media_size=(320, 180), media_fps=10).start()
    new: Emulator | None = None
    try:
        proc = await spawn(
            "record", "--node", emu.base_url, "--alias", "meet", "--out", str(out),
            "--rejoin", "--duration", "24", "--no-status",
        )  # fmt: skip
        for _ in range(600):
            if (out / "main.mkv").exists():
                break
            await asyncio.sleep(0.05)
        assert (out / "main.mkv").exists(), "no recording started"
        await asyncio.sleep(4.0)
        new, stopped_at = await _restart(emu)
        # The new node sees the bot join again.
        deadline = time.monotonic() + 30
        while not new.node.participants and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        rejoined_after = time.monotonic() - stopped_at
        assert new.node.participants, "the bot did not join the new node"
        done = await finish(proc, 60)
    finally:
        if new is not None:
            await new.aclose()
        await emu.aclose()
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "(duration)" in done.stdout, done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["events.jsonl", "main.mkv"]
    records = events_of(out / "events.jsonl")
    [gap] = [r for r in records if r["event"] == "rejoined"]
    assert gap["left_at"] < gap["noticed_at"] < gap["back_at"], gap
    assert gap["reason"].startswith("event stream"), gap
    assert records[-1]["event"] == "recording_end"
    times = _video_times(out / "main.mkv")
    before = [t for t in times if t < gap["left_at"]]
    after = [t for t in times if t > gap["back_at"]]
    assert len(before) > 15 and len(after) > 40, (len(before), len(after), gap)
    # One file, one clock: the longest wait between two frames is the gap, and no later.
    widest = max(itertools.pairwise(times), key=lambda pair: pair[1] - pair[0])
    assert widest[0] <= gap["back_at"] and widest[1] >= gap["left_at"], (widest, gap)
    assert times == sorted(times)
    print(
        f"\nnoticed {gap['noticed_at'] - gap['left_at']:.2f} s after the node went, joined "
        f"again {gap['back_at'] - gap['noticed_at']:.2f} s later ({gap['attempts']} tries); "
        f"the new node saw the bot {rejoined_after:.2f} s after the stop; frames before "
        f"{len(before)}, after {len(after)}; widest gap {widest[1] - widest[0]:.2f} s"
    )


async def test_join_rejoins_and_says_so(tmp_path: Path) -> None:
    emu = await Emulator(_config(), port=0).start()
    new: Emulator | None = None
    try:
        proc = await spawn(
            "join", "--node", emu.base_url, "--alias", "meet", "--rejoin", "3",
            "--duration", "12", "--json",
        )  # fmt: skip
        while not emu.node.participants:  # noqa: ASYNC110 (another process joins)
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        new, _ = await _restart(emu)
        done = await finish(proc, 60)
    finally:
        if new is not None:
            await new.aclose()
        await emu.aclose()
    assert done.code == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [line["event"] for line in lines]
    assert kinds.count("joined") == 2 and "rejoined" in kinds, kinds
    assert kinds.index("rejoined") < len(kinds) - 1  # the new session's events follow
