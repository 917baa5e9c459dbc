"""Many bots in one process, and one of them failing: one whose node goes away mid-call, one
whose application callback raises. The others keep receiving media, their sessions untouched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiortc.mediastreams import MediaStreamTrack

from media import DiscardSink, PatternVideoSource, ToneAudioSource
from pexbot import MediaCall, Session
from pexbot.emulator import Emulator


class Bot:
    def __init__(self, url: str, name: str, *, raising: bool = False) -> None:
        self.session = Session(url, "meet", display_name=name)
        self.sink = DiscardSink()
        self.raising = raising
        self.call: MediaCall | None = None

    def on_track(self, role: str, track: MediaStreamTrack) -> None:
        if self.raising:
            raise RuntimeError("the application's sink exploded")
        self.sink.add_track(track, role=role)

    def frames(self) -> int:
        return self.sink.frames("main", "video")


@contextlib.asynccontextmanager
async def running(bot: Bot) -> AsyncIterator[Bot]:
    async with bot.session:
        bot.call = await bot.session.call(
            audio=ToneAudioSource(), video=PatternVideoSource(160, 90, fps=10),
            on_track=bot.on_track,
        )  # fmt: skip
        try:
            yield bot
        finally:
            await bot.sink.close()


async def wait_frames(bot: Bot, at_least: int, within: float = 20.0) -> None:
    for _ in range(int(within / 0.1)):
        if bot.frames() >= at_least:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{bot.session.request.display_name}: {bot.frames()} frames")


async def test_one_failing_bot_leaves_the_others_untouched() -> None:
    emu = Emulator(media_size=(160, 90), media_fps=10)
    doomed_node = Emulator(media_size=(160, 90), media_fps=10)
    async with emu, contextlib.AsyncExitStack() as stack:
        await doomed_node.start()
        good = [await stack.enter_async_context(running(Bot(emu.base_url, f"good{i}")))
                for i in range(2)]  # fmt: skip
        raising = await stack.enter_async_context(
            running(Bot(emu.base_url, "raising", raising=True))
        )
        await stack.enter_async_context(running(Bot(doomed_node.base_url, "lost")))
        for bot in good:
            await wait_frames(bot, 10)
        before = [bot.frames() for bot in good]
        await doomed_node.aclose()  # the node of one bot is gone, mid-call
        await asyncio.sleep(4.0)
        for bot, was in zip(good, before, strict=True):
            assert bot.frames() >= was + 20, (bot.frames(), was)  # ~10 fps went on
            assert not bot.session.ended.is_set()
            assert bot.call is not None and bot.call.state == "connected"
        # the bot whose callback raised: its call goes on, its tracks drained
        assert not raising.session.ended.is_set()
        assert raising.call is not None and raising.call.state == "connected"
