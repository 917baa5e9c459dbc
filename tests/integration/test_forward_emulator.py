"""Bots through the forwarding emulator (``media="forward"``), over real HTTP and real aiortc:
each receives another's pattern, undecoded by the emulator, and its tone."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from intkit import (
    ALIAS,
    ALICE_FIRST,
    BOB_FIRST,
    RANGE,
    NumberedPattern,
    TrailAnalyser,
    feed,
    strictly_increasing,
    wait_until,
)

from media import ToneAudioSource, ToneSpec
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.forward import ForwardBackend
from pexbot.rtc.encoded import is_tapped

TONE_A = ToneSpec(frequency=1000.0, marker_frequency=1500.0)
TONE_B = ToneSpec(frequency=600.0, marker_frequency=900.0)


@contextlib.asynccontextmanager
async def forward_emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    async with Emulator(config, media="forward") as emu:
        yield emu


def from_(first: int):  # type: ignore[no-untyped-def]
    return lambda n: first <= n < first + RANGE


async def test_two_bots_receive_each_other_through_the_forwarder() -> None:
    async with (
        forward_emulator() as emu,
        Session(emu.base_url, ALIAS, display_name="alice") as alice,
        Session(emu.base_url, ALIAS, display_name="bob") as bob,
    ):
        backend = emu.media
        assert isinstance(backend, ForwardBackend)
        at_alice, at_bob = TrailAnalyser(tone=TONE_B), TrailAnalyser(tone=TONE_A)
        call_a = await alice.call(
            audio=ToneAudioSource(TONE_A),
            video=NumberedPattern(ALICE_FIRST),
            on_track=feed(at_alice),
        )
        call_b = await bob.call(
            audio=ToneAudioSource(TONE_B), video=NumberedPattern(BOB_FIRST), on_track=feed(at_bob)
        )
        try:
            await wait_until(
                lambda: (
                    sum(map(from_(BOB_FIRST), at_alice.numbers())) >= 20
                    and sum(map(from_(ALICE_FIRST), at_bob.numbers())) >= 20
                ),
                what="each bot to read 20 of the other's frames",
            )
            for receiver in backend.receivers():
                assert is_tapped(receiver), "an emulator receiver decodes"
            for call in (call_a, call_b):
                assert call.call_uuid is not None
                stats = backend.tap_stats(call.call_uuid, "video")
                assert stats is not None and stats.frames > 0
            report_a = at_alice.report()
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_alice.close()
            await at_bob.close()
        for analyser, first in ((at_alice, BOB_FIRST), (at_bob, ALICE_FIRST)):
            numbers = analyser.numbers()
            assert numbers and all(map(from_(first), numbers))
            assert strictly_increasing(numbers)
        audio = report_a.roles["main"].audio
        assert audio is not None and audio.tone_fraction > 0.5
