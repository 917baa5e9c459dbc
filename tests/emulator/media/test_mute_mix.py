"""A host's (server-side) mute takes the participant's audio out of what the others hear, and
unmute puts it back: real pexbots over HTTP, aiortc on loopback, the composing emulator (the
audio mix) and the relay. Alice sends a tone, bob and carol silence; the level of alice's tone
in bob's and carol's received audio is measured (a single-frequency DFT over the last 0.5 s)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from compose_kit import SIZE, TONES, Received, Receiver, wait_until

from media.synthetic import SilenceAudioSource, ToneAudioSource
from media.tone import ToneSpec
from pexbot import Session
from pexbot.emulator import ConferenceConfig, Emulator, EmulatorConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.emulator.media.backend import MediaChoice
from pexbot.emulator.media.compositor import ComposeRouter

TONE = TONES[1]  # 700 Hz
#: the tone heard in full is above this (full scale = 1; the tone is -12 dBFS: 0.25)
HEARD = 0.12
#: silence, after Opus: well below this
GONE = 0.005


def level(receiver: Receiver) -> float:
    return receiver.tone_levels((TONE,))[0]


async def quiet_for(receivers: list[Receiver], seconds: float) -> float:
    """The loudest tone level any receiver had, sampled over ``seconds``."""
    loudest = 0.0
    for _ in range(int(seconds / 0.1)):
        await asyncio.sleep(0.1)
        loudest = max(loudest, *(level(r) for r in receivers))
    return loudest


@pytest.mark.parametrize("media", ["compose", "relay"])
async def test_host_mute_takes_the_tone_out_of_what_others_hear(media: MediaChoice) -> None:
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])  # all hosts
    heard_b, heard_c = Received(), Received()
    figures: dict[str, Any] = {"media": media}
    async with (
        Emulator(config, media=media, media_size=SIZE) as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
        Session(emu.base_url, "meet", display_name="carol") as carol,
    ):
        tone = ToneAudioSource(ToneSpec(frequency=TONE, marker_frequency=TONE + 20))
        kw: dict[str, Any] = {"media_type": "audio"}
        call_a = await alice.call(audio=tone, **kw)
        call_b = await bob.call(audio=SilenceAudioSource(), on_track=heard_b, **kw)
        call_c = await carol.call(audio=SilenceAudioSource(), on_track=heard_c, **kw)
        try:
            ears = [await heard_b.get("audio"), await heard_c.get("audio")]
            alice_id = alice.participant_uuid or ""
            await wait_until(lambda: all(level(r) > HEARD for r in ears), what="the tone")
            figures["before"] = [round(level(r), 4) for r in ears]

            assert await bob.participant(alice_id).mute()
            await wait_until(lambda: all(level(r) < GONE for r in ears), what="the tone gone")
            figures["muted_max"] = round(await quiet_for(ears, 1.5), 5)
            assert figures["muted_max"] < GONE, figures
            await wait_until(
                lambda: alice.state.roster[alice_id].is_muted == "YES", what="the roster"
            )
            assert isinstance(emu.media, AiortcMediaBackend)
            router = emu.media.router(emu.node.participants[alice_id].room_id)
            if isinstance(router, ComposeRouter):
                # out of the mix itself: no buffer, nothing taken for it
                assert router.mixer.buffer(call_a.call_uuid or "") is None

            assert await bob.participant(alice_id).unmute()
            await wait_until(lambda: all(level(r) > HEARD for r in ears), what="the tone back")
            figures["after"] = [round(level(r), 4) for r in ears]
        finally:
            for call in (call_a, call_b, call_c):
                await call.disconnect()
            await heard_b.close()
            await heard_c.close()
    print("mute_mix:", json.dumps(figures))
