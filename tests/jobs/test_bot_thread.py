"""The bot loop in a thread and what a Locust user reports (no Locust here), and the
``--processes`` merge: pure parts, plus one real bot on a loop in a thread."""

from __future__ import annotations

import asyncio
import time

from pexbot.jobs import BotRecord, LoadOptions, MediaBot, embedded_emulator
from pexbot.jobs.bot_thread import BotLoop, BotReport
from pexbot.jobs.load_processes import Share, deal, merge
from pexbot.jobs.stats import ProcessUsage
from pexbot.jobs.target import JoinTarget


def test_reports_join_first_frame_then_one_stall() -> None:
    report = BotReport(stall_after=3.0)
    record = BotRecord(1, state="joined", join_s=0.2)
    assert [(r.name, r.ms) for r in report.update(record, 10.0)] == [("join", 200.0)]
    record.media_s, record.frames, record.state = 0.5, 5, "media"
    assert [(r.name, r.ms, r.length) for r in report.update(record, 10.5)] == [
        ("first_frame", 500.0, 5)
    ]
    record.frames = 20
    assert report.update(record, 12.0) == []
    assert report.update(record, 14.9) == []
    stall = report.update(record, 15.1)
    assert [r.name for r in stall] == ["media_stall"] and stall[0].error is not None
    assert "no frame for 3.1 s after 20 received" in str(stall[0].error)
    assert report.update(record, 20.0) == []  # once per stall
    record.frames = 21
    assert report.update(record, 20.5) == [] and not report.stalled
    assert report.finish(record, 21.0, 9.0, asked=True) == []  # told to leave: no failure


def test_a_failure_is_reported_at_the_step_it_happened() -> None:
    never = BotRecord(1, state="failed", failure="InvalidPin", failure_message="PIN refused")
    (only,) = BotReport().finish(never, 12.0, 10.0, asked=False)
    assert (
        only.name == "join" and only.ms == 2000.0 and "InvalidPin: PIN refused" in str(only.error)
    )
    no_media = BotRecord(2, state="failed", join_s=0.1, failure="IceTimeout", failure_message="x")
    assert [r.name for r in BotReport().finish(no_media, 12.0, 10.0, asked=True)] == [
        "join",
        "first_frame",
    ]
    signalling = BotRecord(3, state="failed", join_s=0.1, failure="Ended", failure_message="y")
    names = [r.name for r in BotReport(expects_media=False).finish(signalling, 5, 1, asked=True)]
    assert names == ["join", "call"]


def test_deal_is_even_and_never_empty() -> None:
    assert deal(4, 2) == [2, 2] and deal(5, 2) == [3, 2] and deal(2, 8) == [1, 1]
    assert sum(deal(1001, 7)) == 1001


def _part(joins: list[float], cores: float, reason: str = "duration") -> dict[str, object]:
    n = len(joins)
    return {
        "summary": {
            "started": n, "joined": n, "media_flowing": n, "failed": 0, "left": n,
            "reason": reason, "failures": {},
            "cpu": {"process_cores": cores},
            "memory": {"rss_start_mb": 100.0, "rss_end_mb": 110.0, "peak_rss_mb": 111.0},
        },
        "join_ms": joins, "first_media_ms": [j + 50 for j in joins], "frames": [100.0] * n,
    }  # fmt: skip


def test_merge_counts_exact_percentiles_and_sums() -> None:
    target = JoinTarget("http://node", "demo")
    options = LoadOptions(bots=5)
    shares = [Share(i, target, options, None, 0.0, 30) for i in (1, 2, 3)]
    usage = (
        ProcessUsage(0.0, 0.0, 50 * 2**20, 50 * 2**20),
        ProcessUsage(10.0, 2.0, 60 * 2**20, 60 * 2**20),
    )
    merged = merge(
        [(shares[0], _part([10, 20], 0.5), 0), (shares[1], _part([30, 40], 0.25, "stopped"), 0),
         (shares[2], None, -9)],
        target, options, parent=usage, seconds=10.0,
    )  # fmt: skip
    assert merged["joined"] == 4 and merged["failed"] == 5 and merged["started"] == 9
    assert merged["failures"]["ProcessDied"]["example"] == "load process 3 ended with code -9"
    assert merged["join_ms"]["p50"] == 25.0 and merged["join_ms"]["count"] == 4
    assert merged["reason"] == "stopped"
    assert merged["cpu"]["process_cores"] == 0.95  # 0.5 + 0.25 + the parent's 0.2
    assert (
        merged["memory"]["rss_end_mb"] == 280.0 and merged["memory"]["per_bot_mb"] == 7.5
    )  # 30 MB over 4 bots


async def test_a_bot_on_a_loop_in_a_thread_joins_gets_media_and_leaves() -> None:
    async with embedded_emulator(media_size=(320, 180), fps=10) as emulator:
        loop = BotLoop().start()
        try:
            target = JoinTarget(emulator.base_url, "demo")
            handle = loop.start_bot(MediaBot, target, LoadOptions(bots=1, duration=None))
            report = BotReport()
            names: list[str] = []
            deadline = time.monotonic() + 30
            while "first_frame" not in names and time.monotonic() < deadline:
                names += [r.name for r in report.update(handle.record, time.monotonic())]
                await asyncio.sleep(0.2)
            assert names == ["join", "first_frame"], handle.record
            handle.leave()
            await asyncio.wait_for(asyncio.wrap_future(handle.future), 30)
            assert handle.done() and handle.record.state == "left", handle.record
            assert report.finish(handle.record, time.monotonic(), handle.started, asked=True) == []
        finally:
            loop.close()
        assert not loop.running
