"""The jobs as library code, in-process: the load job's ramp, hold and summary with a bot
factory of our own (no sockets), and a record job cancelled mid-way (the forced exit of a second
Ctrl-C) still finalising its file and releasing its token."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import pytest

from pexbot import Session
from pexbot.errors import InvalidPin
from pexbot.jobs import (
    BotRecord,
    JoinTarget,
    LoadJob,
    LoadOptions,
    RecordJob,
    RecordOptions,
    embedded_emulator,
    until_end,
)
from pexbot.jobs.metrics import MetricsRegistry
from pexbot.jobs.target import every


class FakeBot:
    """Joins after ``index`` ms; bots whose index is a multiple of 3 fail with InvalidPin."""

    started: list[float]

    def __init__(self, index: int, target: JoinTarget, options: LoadOptions) -> None:
        self.record = BotRecord(index)
        self.started_at = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        self.record.state = "joining"
        await asyncio.sleep(self.record.index / 1000)
        if self.record.index % 3 == 0:
            self.record.state = "failed"
            self.record.failure, self.record.failure_message = "InvalidPin", str(InvalidPin())
            return
        self.record.join_s = self.record.index / 1000
        self.record.state = "media"
        self.record.media_s = 0.01
        await stop.wait()
        self.record.state = "left"


async def test_load_ramp_hold_and_summary_with_a_bot_factory() -> None:
    target = JoinTarget("http://node.invalid", "meet")
    options = LoadOptions(bots=6, ramp=20.0, duration=0.3, media="none")
    metrics = MetricsRegistry()
    seen: list[dict[str, int]] = []
    job = LoadJob(
        target,
        options,
        factory=FakeBot,
        metrics=metrics,
        on_progress=lambda j: seen.append(j.counts()),
    )
    summary = await job.run()
    starts = [bot.started_at - job.started_at for bot in job.bots]  # type: ignore[attr-defined]
    # 20 per second: bot i starts at i * 50 ms, never before (a loaded loop may make it later)
    assert all(start >= i * 0.05 - 0.002 for i, start in enumerate(starts))
    assert starts[-1] < 5.0
    assert summary["bots"] == 6 and summary["started"] == 6
    assert summary["joined"] == 4 and summary["media_flowing"] == 4
    assert summary["failed"] == 2 and summary["left"] == 4
    assert summary["failures"] == {
        "InvalidPin": {"count": 2, "example": "the PIN was not accepted"}
    }
    assert summary["join_ms"]["count"] == 4 and summary["join_ms"]["max"] == 5.0
    assert summary["reason"] == "duration" and summary["seconds"] >= 0.25 + 0.3
    assert seen[-1]["left"] == 4
    assert metrics.value("pexbot_bots_started") == 6 and metrics.value("pexbot_errors_total") == 2


async def test_load_stops_on_stop_and_when_nobody_is_left() -> None:
    target = JoinTarget("http://node.invalid", "meet")
    stop = asyncio.Event()
    job = LoadJob(target, LoadOptions(bots=50, ramp=10.0, duration=None), factory=FakeBot)
    asyncio.get_running_loop().call_later(0.35, stop.set)
    summary = await asyncio.wait_for(job.run(stop), 10)
    assert summary["reason"] == "stopped" and 3 <= summary["started"] <= 6  # the ramp stopped

    class Failing(FakeBot):
        async def run(self, stop: asyncio.Event) -> None:
            self.record.state, self.record.failure = "failed", "TransportError"

    job = LoadJob(target, LoadOptions(bots=3, ramp=100.0, duration=None), factory=Failing)
    summary = await asyncio.wait_for(job.run(), 10)  # no duration, yet it ends: nobody left
    assert summary["reason"] == "ended" and summary["failed"] == 3


async def test_until_end_reasons() -> None:
    stop, ended = asyncio.Event(), asyncio.Event()
    assert await until_end(duration=0.01, stop=stop, ended=[ended]) == "duration"
    stop.set()
    assert await until_end(duration=10, stop=stop, ended=[ended]) == "stopped"
    ended.set()
    assert await until_end(duration=None, stop=stop, ended=[ended]) == "ended"


async def test_cancelled_record_job_finalises_and_releases(tmp_path: Path) -> None:
    async with embedded_emulator(media_size=(320, 180), fps=10) as emu:
        job = RecordJob(JoinTarget(emu.base_url, "demo"), RecordOptions(out=tmp_path, duration=30))
        task = asyncio.get_running_loop().create_task(job.run())
        for _ in range(400):
            if job.recorder.elapsed() > 2.0:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=15)
        assert done and task.cancelled()
        released = [x for x in emu.traffic if x.path.endswith("/release_token")]
        assert len(released) == 1 and released[0].status == 200
        assert emu.participants("demo") == []
    with av.open(str(tmp_path / "main.mkv")) as container:
        frames = sum(1 for _ in container.decode(video=0))
        assert frames > 5  # the waiting card, at 10 fps, for about 2 s
    last = (tmp_path / "events.jsonl").read_text().splitlines()[-1]
    assert '"event":"recording_end"' in last


async def test_record_job_ends_with_the_conference(tmp_path: Path) -> None:
    async with embedded_emulator(media_size=(320, 180), fps=10) as emu:
        job = RecordJob(JoinTarget(emu.base_url, "demo"), RecordOptions(out=tmp_path, duration=30))
        task = asyncio.get_running_loop().create_task(job.run())
        async with Session(emu.base_url, "demo", display_name="host") as host:
            for _ in range(400):
                if job.recorder.elapsed() > 1.5:
                    break
                await asyncio.sleep(0.05)
            await host.conference.disconnect_all()
            result = await asyncio.wait_for(task, 15)
    assert result.reason.startswith("ended: ") and 1.0 < result.seconds < 15
    assert result.files["main"]["frames"]["video"] > 5
    events = (tmp_path / "events.jsonl").read_text()
    assert '"event":"session_ended"' in events and '"reason":"' + result.reason in events


async def test_every_survives_a_failing_step(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    six = asyncio.Event()

    async def step() -> None:
        calls.append(len(calls))
        if len(calls) == 6:
            six.set()
        if len(calls) in (2, 3):
            raise RuntimeError("sampling broke")

    task = asyncio.get_running_loop().create_task(every(0.01, step, what="sampling"))
    await asyncio.wait_for(six.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    failures = [r for r in caplog.records if "sampling failed" in r.getMessage()]
    assert len(failures) == 1  # one warning for the run of two failures
