"""Two pexbots in an emulated conference, over real HTTP with real aiortc media on loopback:
each sees the other's numbered pattern and hears the other's tone, with either video codec."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiortc import RTCPeerConnection
from intkit import (
    ALICE_FIRST,
    BOB_FIRST,
    RANGE,
    NumberedPattern,
    TrailAnalyser,
    coverage,
    feed,
    media_emulator,
    strictly_increasing,
    wait_until,
)

from media import ToneAudioSource, ToneSpec
from pexbot import Session
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend

#: different tones (multiples of 100 Hz suit the detector's 10 ms blocks)
TONE_A = ToneSpec(frequency=1000.0, marker_frequency=1500.0)
TONE_B = ToneSpec(frequency=600.0, marker_frequency=900.0)
WATCH = 6.0  # seconds of media checked once both see each other


def from_bob(n: int) -> bool:
    return BOB_FIRST <= n < BOB_FIRST + RANGE


def from_alice(n: int) -> bool:
    return ALICE_FIRST <= n < ALICE_FIRST + RANGE


def send_codec(pc: RTCPeerConnection) -> str:
    """The codec the main video sender of ``pc`` uses (aiortc sends with its first
    negotiated codec; ``_codecs`` is where aiortc keeps them)."""
    video = next(t for t in pc.getTransceivers() if t.kind == "video")
    return str(video._codecs[0].mimeType).split("/", 1)[1].lower()


async def test_two_bots_see_and_hear_each_other() -> None:
    """a) Each receives the OTHER's pattern (numbers in the other's range, strictly rising,
    >= 90 % of the span read) and the other's tone (the analyser listens for the other's
    frequencies, so its own tone would read as no tone at all)."""
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        at_alice, at_bob = TrailAnalyser(tone=TONE_B), TrailAnalyser(tone=TONE_A)
        t0 = time.monotonic()
        call_a = await alice.call(
            audio=ToneAudioSource(TONE_A),
            video=NumberedPattern(ALICE_FIRST),
            on_track=feed(at_alice),
        )
        call_b = await bob.call(
            audio=ToneAudioSource(TONE_B), video=NumberedPattern(BOB_FIRST), on_track=feed(at_bob)
        )
        connected = time.monotonic()
        try:
            await wait_until(
                lambda: (
                    any(map(from_bob, at_alice.numbers()))
                    and any(map(from_alice, at_bob.numbers()))
                ),
                what="each bot to read the other's pattern",
            )
            first_frame = time.monotonic() - connected
            start = time.monotonic()
            await asyncio.sleep(WATCH)
            window = time.monotonic() - start
            seen_a = [r for r in at_alice.trail() if r.arrived >= start]
            seen_b = [r for r in at_bob.trail() if r.arrived >= start]
            report_a, report_b = at_alice.report(), at_bob.report()
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_alice.close()
            await at_bob.close()

        figures: dict[str, object] = {}
        for name, seen, report in (("alice", seen_a, report_a), ("bob", seen_b, report_b)):
            numbers = [r.number for r in seen]
            other = from_bob if name == "alice" else from_alice
            assert numbers and all(map(other, numbers)), f"{name} read foreign numbers"
            assert strictly_increasing(numbers), f"{name}: numbers went back: {numbers}"
            distinct, span, share = coverage(numbers)
            expected = window * 15.0
            audio = report.roles["main"].audio
            assert audio is not None
            figures[name] = {
                "read": distinct,
                "span": span,
                "expected_in_window": round(expected),
                "share": round(share, 3),
                "tone_fraction": audio.tone_fraction,
                "markers": audio.markers,
            }
            assert share >= 0.9, f"{name}: only {distinct} of {span} numbers read"
            # the span covers most of the window: frames kept flowing at about the sent rate
            assert span >= 0.6 * expected, f"{name}: span {span} for {expected:.0f} expected"
            assert audio.tone_fraction >= 0.8, f"{name}: the other's tone was not heard"
            assert audio.markers >= 3
        figures["call_set_up_s"] = round(connected - t0, 2)
        figures["first_frame_after_connect_s"] = round(first_frame, 2)
        print("two bots:", json.dumps(figures))


@pytest.mark.parametrize(("codec_a", "codec_b"), [("vp8", "h264"), ("h264", "vp8")])
async def test_video_codecs_both_ways(codec_a: str, codec_b: str) -> None:
    """f) With different codecs on the two legs, each codec is used up (bot → emulator) and
    down (emulator → bot), and the pattern still gets through (the emulator transcodes)."""
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        at_alice, at_bob = TrailAnalyser(), TrailAnalyser()
        call_a = await alice.call(
            video=NumberedPattern(ALICE_FIRST), on_track=feed(at_alice), video_codec=codec_a
        )
        call_b = await bob.call(
            video=NumberedPattern(BOB_FIRST), on_track=feed(at_bob), video_codec=codec_b
        )
        try:
            backend = emu.media
            assert isinstance(backend, AiortcMediaBackend)
            for call, codec in ((call_a, codec_a), (call_b, codec_b)):
                assert call.call_uuid is not None
                assert send_codec(call.pc) == codec, "bot -> emulator"
                node_pc = backend.peer_connection(call.call_uuid)
                assert send_codec(node_pc) == codec, "emulator -> bot"
            await wait_until(
                lambda: (
                    sum(map(from_bob, at_alice.numbers())) >= 10
                    and sum(map(from_alice, at_bob.numbers())) >= 10
                ),
                what=f"10 frames each way ({codec_a} / {codec_b})",
            )
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_alice.close()
            await at_bob.close()
