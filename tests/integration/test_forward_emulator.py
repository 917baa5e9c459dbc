"""Bots through the forwarding emulator (``media="forward"``), over real HTTP and real aiortc:
each receives another's pattern and tone (and slides), undecoded by the emulator; on the RTP
fast path (the default) the packets go through rewritten, never handled by aiortc, and a late
joiner or a receiver whose source left gets a clean picture from a keyframe on."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import pytest
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


CAROL_FIRST = 2_000_000
SLIDES_FIRST = 3_000_000
TONE_C = ToneSpec(frequency=800.0, marker_frequency=1200.0)


@contextlib.asynccontextmanager
async def forward_emulator(*, rtp: bool = True) -> AsyncIterator[Emulator]:
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=[ALIAS])])
    async with Emulator(config, media=ForwardBackend(rtp=rtp)) as emu:
        yield emu


def assert_fast_path_carried_it(backend: ForwardBackend) -> None:
    """Packets went by the RTP fast path, not aiortc's (which would mean it fell back)."""
    stats = backend.forward_stats()
    assert stats["path"] == "rtp", stats
    assert stats["fast_packets"] > 0 and stats["packets_sent"] > 0, stats
    # what aiortc still handles: RTCP, DTLS and the odd first packet of an SSRC
    assert stats["fast_packets"] > 5 * stats["slow_packets"], stats
    assert stats["not_hooked"] == 0 and stats["untapped"] == 0, stats


def from_(first: int):  # type: ignore[no-untyped-def]
    return lambda n: first <= n < first + RANGE


@pytest.mark.parametrize("rtp", [True, False], ids=["rtp", "frames"])
async def test_two_bots_receive_each_other_through_the_forwarder(rtp: bool) -> None:
    async with (
        forward_emulator(rtp=rtp) as emu,
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
            # Bob presents: alice gets his slides on her presentation line, as sent.
            slides = NumberedPattern(SLIDES_FIRST)
            await call_b.start_presenting(slides)
            await wait_until(
                lambda: sum(map(from_(SLIDES_FIRST), at_alice.numbers("presentation"))) >= 10,
                what="alice to read 10 of bob's slides",
            )
            await call_b.stop_presenting()
            slides.stop()
            assert strictly_increasing(at_alice.numbers("presentation"))
            if rtp:
                assert_fast_path_carried_it(backend)
            else:
                assert backend.path == "frames"
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


def unreadable_pictures(analyser: TrailAnalyser, since: float, role: str = "main") -> int:
    """Pictures that arrived after ``since`` (monotonic) in which no code could be read: a
    delta frame decoded against another source's picture would be one."""
    jobs = analyser._jobs[role]  # (arrival, read job) per picture analysed
    return sum(1 for arrived, job in jobs if arrived > since and job.done() and not job.result())


async def test_three_bots_a_late_joiner_and_a_source_that_leaves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with forward_emulator() as emu, contextlib.AsyncExitStack() as stack:
        backend = emu.media
        assert isinstance(backend, ForwardBackend)
        # Stage order is join order: alice, bob, then carol.
        alice = Session(emu.base_url, ALIAS, display_name="alice")
        await alice.open()
        stack.push_async_callback(alice.close)
        bob = await stack.enter_async_context(Session(emu.base_url, ALIAS, display_name="bob"))
        at_alice, at_bob = TrailAnalyser(tone=TONE_B), TrailAnalyser(tone=TONE_A)
        at_carol = TrailAnalyser(tone=TONE_A)
        calls = [
            await alice.call(
                audio=ToneAudioSource(TONE_A),
                video=NumberedPattern(ALICE_FIRST),
                on_track=feed(at_alice),
            ),
            await bob.call(
                audio=ToneAudioSource(TONE_B),
                video=NumberedPattern(BOB_FIRST),
                on_track=feed(at_bob),
            ),
        ]
        try:
            await wait_until(
                lambda: (
                    any(map(from_(BOB_FIRST), at_alice.numbers()))
                    and any(map(from_(ALICE_FIRST), at_bob.numbers()))
                ),
                what="alice and bob to see each other",
            )
            # Carol joins a running conference: she is forwarded alice (first in stage order),
            # whose stream is mid-way, so she must be started on a keyframe asked for her.
            carol = await stack.enter_async_context(
                Session(emu.base_url, ALIAS, display_name="carol")
            )
            started = time.monotonic()
            calls.append(
                await carol.call(
                    audio=ToneAudioSource(TONE_C),
                    video=NumberedPattern(CAROL_FIRST),
                    on_track=feed(at_carol),
                )
            )
            await wait_until(
                lambda: any(map(from_(ALICE_FIRST), at_carol.numbers())),
                what="carol's first picture of alice",
            )
            first = next(r for r in at_carol.trail() if from_(ALICE_FIRST)(r.number))
            assert first.arrived - started < 2.0, f"first picture after {first.arrived - started}"
            await wait_until(
                lambda: sum(map(from_(ALICE_FIRST), at_carol.numbers())) >= 20,
                what="carol to read 20 of alice's frames",
            )
            audio = at_carol.report().roles["main"].audio
            assert audio is not None and audio.tone_fraction > 0.5  # alice's tone, not a mix
            assert all(map(from_(ALICE_FIRST), at_carol.numbers()))
            assert all(map(from_(BOB_FIRST), at_alice.numbers()))
            assert all(map(from_(ALICE_FIRST), at_bob.numbers()))

            # Carol's PLI to the emulator's sender goes upstream to alice as a PLI.
            sources = backend._rtp_sources  # the emulator's receiver of each source
            alice_video = sources[(calls[0].call_uuid or "", "video")]
            plis = alice_video.plis
            await calls[2].request_keyframe()
            await wait_until(
                lambda: (
                    backend.forward_stats()["keyframe_requests_received"] > 0
                    and alice_video.plis > plis
                ),
                what="carol's keyframe request to reach alice",
            )

            # Alice leaves: carol is forwarded bob now (and bob carol), from a keyframe on.
            left = time.monotonic()
            await calls[0].disconnect()
            await alice.close()
            await wait_until(
                lambda: sum(map(from_(BOB_FIRST), at_carol.numbers())) >= 20,
                what="carol to read 20 of bob's frames after alice left",
            )
            await wait_until(
                lambda: sum(map(from_(CAROL_FIRST), at_bob.numbers())) >= 20,
                what="bob to read 20 of carol's frames after alice left",
            )
            assert_fast_path_carried_it(backend)
            stats = backend.forward_stats()
            assert stats["switches"] > 0 and stats["waiting_for_keyframe"] > 0, stats
        finally:
            for call in calls:
                await call.disconnect()
            for analyser in (at_alice, at_bob, at_carol):
                await analyser.close()
        # Carol: alice's frames, then bob's, each source's in order, never alice's again,
        # and every picture after the switch readable (none decoded on a wrong reference).
        numbers = at_carol.numbers()
        switch = next(i for i, n in enumerate(numbers) if from_(BOB_FIRST)(n))
        assert all(map(from_(ALICE_FIRST), numbers[:switch]))
        assert all(map(from_(BOB_FIRST), numbers[switch:]))
        assert strictly_increasing(numbers[:switch]) and strictly_increasing(numbers[switch:])
        assert unreadable_pictures(at_carol, since=left) == 0
        bob_numbers = at_bob.numbers()
        switch = next(i for i, n in enumerate(bob_numbers) if from_(CAROL_FIRST)(n))
        assert all(map(from_(ALICE_FIRST), bob_numbers[:switch]))
        assert all(map(from_(CAROL_FIRST), bob_numbers[switch:]))
        assert unreadable_pictures(at_bob, since=left) == 0
        # aiortc's decoders in the bots say when a frame does not decode
        failed = [r.getMessage() for r in caplog.records if "failed to decode" in r.getMessage()]
        assert failed == []
