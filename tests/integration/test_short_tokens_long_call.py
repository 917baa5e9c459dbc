"""Short token lifetimes over a long call (fault class 2): a 3-second token over a 60-second
call in CI, 20-second tokens over 10 minutes as a soak. No media gap, no stream lost, no
refresh refused, and memory flat once warm."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiortc.mediastreams import MediaStreamTrack

from media import PatternVideoSource, ToneAudioSource
from pexbot import Session
from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig
from pexbot.events import StreamLost


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Arrivals:
    """Video frames as they arrive, and the longest wait between two of them."""

    def __init__(self) -> None:
        self.count = 0
        self.longest_gap = 0.0
        self._last: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def on_track(self, role: str, track: MediaStreamTrack) -> None:
        # Every track handed over is read: one left unread is buffered by aiortc without bound
        # (an application's duty, and what a memory check here would otherwise measure).
        task = asyncio.ensure_future(self._read(track) if track.kind == "video" else _drain(track))
        self._tasks.add(task)

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            await track.recv()
            now = time.monotonic()
            if self._last is not None and self.count > 5:  # after the first frames settle
                self.longest_gap = max(self.longest_gap, now - self._last)
            self._last = now
            self.count += 1

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _drain(track: MediaStreamTrack) -> None:
    while True:
        await track.recv()


async def long_call(lifetime: float, seconds: float) -> dict[str, float]:
    config = EmulatorConfig(
        conferences=[ConferenceConfig(aliases=["short"], token_lifetime=lifetime)]
    )
    arrivals = Arrivals()
    async with Emulator(config, media_size=(160, 90), media_fps=10) as emu:
        async with Session(emu.base_url, "short", display_name="long call") as session:
            lost: list[StreamLost] = []
            session.on("stream_lost", lost.append)
            await session.call(
                audio=ToneAudioSource(), video=PatternVideoSource(160, 90, fps=10),
                on_track=arrivals.on_track,
            )  # fmt: skip
            started = time.monotonic()
            # Warm: codecs, thread pools and the node's bounded logs have settled by then.
            await asyncio.sleep(seconds * 0.4)
            warm = rss_bytes()
            await asyncio.sleep(seconds - (time.monotonic() - started))
            grown = rss_bytes() / warm - 1
            assert not session.ended.is_set(), session.end_reason
            refreshes = session.token_keeper.refreshes
            await arrivals.close()
        refused = [x for x in emu.traffic if x.status >= 400]
    assert refused == [], [(x.path, x.status) for x in refused]
    assert lost == []
    return {
        "refreshes": refreshes,
        "frames": arrivals.count,
        "longest_gap_s": arrivals.longest_gap,
        "rss_growth": grown,
    }


async def test_3s_tokens_over_a_60s_call() -> None:
    figures = await long_call(3.0, 60.0)
    print("short tokens:", figures)
    assert figures["refreshes"] >= 55  # every expires/3 = 1 s
    assert figures["frames"] >= 60 * 10 * 0.8
    assert figures["longest_gap_s"] < 1.0
    assert figures["rss_growth"] < 0.05


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_20s_tokens_over_10_minutes() -> None:
    figures = await long_call(20.0, 600.0)
    print("short tokens soak:", figures)
    assert figures["refreshes"] >= 85
    assert figures["longest_gap_s"] < 1.0
    assert figures["rss_growth"] < 0.05
