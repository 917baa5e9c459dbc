"""Two pexbots in a direct-media conference of the emulator, over real HTTP with real aiortc
media: the node brokers, the bots send peer to peer. A path fault (the emulator's relay, which
only a conference configured for it uses) breaks ICE mid-call; a far end leaves and another
joins; statistics are posted on schedule; chat goes over the data channel."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator

from directkit import (
    ALICE_FIRST,
    BOB_FIRST,
    CAROL_FIRST,
    NumberedPattern,
    Numbers,
    strictly_increasing,
    wait_until,
)

from media import ToneAudioSource
from pexbot import Session
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.events import Event, MessageReceived

DIRECT, RELAYED = "direct", "relayed"


@contextlib.asynccontextmanager
async def emulator() -> AsyncIterator[Emulator]:
    """Two direct-media conferences (one through the path relay); the aiortc backend is
    plugged in so that any media reaching the node would show."""
    config = EmulatorConfig(
        conferences=[
            ConferenceConfig(aliases=[DIRECT], direct_media=True, stats_interval_ms=1000),
            ConferenceConfig(
                aliases=[RELAYED],
                direct_media=True,
                direct_media_relay=True,
                stats_interval_ms=1000,
            ),
        ]
    )
    backend = AiortcMediaBackend(card_size=(320, 180), fps=15.0)
    async with Emulator(config, media=backend) as emu:
        yield emu


def bot(emu: Emulator, alias: str, name: str) -> Session:
    return Session(emu.base_url, alias, display_name=name, direct_media=True)


async def test_two_bots_peer_to_peer() -> None:
    async with (
        emulator() as emu,
        bot(emu, DIRECT, "alice") as alice,
        bot(emu, DIRECT, "bob") as bob,
    ):
        chat: list[Event] = []
        alice.on("message_received", chat.append)
        at_alice, at_bob = Numbers(), Numbers()
        call_a = await alice.call(video=NumberedPattern(ALICE_FIRST), on_track=at_alice.on_track)
        assert call_a.state == "waiting" and alice.direct_media
        await wait_until(lambda: alice.state.splash_screen is not None, what="a splash screen")
        assert alice.state.splash_screen is not None
        assert alice.state.splash_screen.screen_key == "direct_media_welcome"
        call_b = await bob.call(
            audio=ToneAudioSource(), video=NumberedPattern(BOB_FIRST), on_track=at_bob.on_track
        )
        try:
            await asyncio.wait_for(call_a.wait_connected(), 20)
            await wait_until(
                lambda: (
                    at_alice.count_from(BOB_FIRST) >= 15 and at_bob.count_from(ALICE_FIRST) >= 15
                ),
                what="each bot reading the other's pattern",
            )
            # No RTP through the emulator: its media backend never opened a call, and each
            # bot's ICE pair ends at the other bot's own socket.
            assert emu.node.media_opens[DIRECT] == 0
            pair_a, pair_b = call_a.selected_pair(), call_b.selected_pair()
            assert pair_a is not None and pair_b is not None
            assert pair_a[1] == pair_b[0] and pair_b[1] == pair_a[0]
            await wait_until(lambda: alice.state.splash_screen is None, what="splash cleared")
            # Chat over the data channel, not REST
            assert await bob.send_message("over the channel") in (True, False)
            await wait_until(lambda: len(chat) == 1, what="the chat message")
            message = chat[0]
            assert isinstance(message, MessageReceived)
            assert message.payload == "over the channel" and message.origin == "bob"
            assert not [x for x in emu.traffic if x.path.endswith("/message")]
            # Statistics: posted every client_stats_update_interval (1000 ms here)
            samples = emu.node.statistics
            await wait_until(lambda: len(samples.get(bob.info.participant_uuid, [])) >= 3)
            posted = samples[bob.info.participant_uuid]
            gaps = [b.t - a.t for a, b in itertools.pairwise(posted)]
            last = posted[-1].body
            assert last.audio is not None and last.video is not None
            figures = {
                "intervals_s": [round(g, 2) for g in gaps],
                "audio": last.audio.body(),
                "video": last.video.body(),
                "pair_alice": pair_a,
            }
            print("peer to peer:", json.dumps(figures))
            assert all(0.5 <= g <= 2.5 for g in gaps)
            assert last.audio.tx_bitrate and 30 <= last.audio.tx_bitrate <= 200  # a tone
            assert last.audio.rx_packets_received and last.audio.rx_codec == "opus"
            assert last.video.rx_resolution == "320x180" and last.video.tx_resolution == "320x180"
            assert last.video.rx_fps and 5 <= last.video.rx_fps <= 25
            assert last.video.rx_bitrate and last.video.rx_bitrate > 20
            assert last.video.rx_jitter is not None and last.video.rx_jitter < 200
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_alice.close()
            await at_bob.close()


async def test_path_blocked_then_restored() -> None:
    async with (
        emulator() as emu,
        bot(emu, RELAYED, "alice") as alice,
        bot(emu, RELAYED, "bob") as bob,
    ):
        at_alice = Numbers()
        call_a = await alice.call(video=NumberedPattern(ALICE_FIRST), on_track=at_alice.on_track)
        call_b = await bob.call(video=NumberedPattern(BOB_FIRST))
        try:
            await wait_until(lambda: len(at_alice.numbers()) >= 15, what="media before")
            emu.faults.block_path(RELAYED)
            blocked_at = time.monotonic()
            await asyncio.sleep(4.0)
            before = max(at_alice.numbers())
            emu.faults.block_path(RELAYED, blocked=False)
            unblocked_at = time.monotonic()
            await wait_until(
                lambda: max(at_alice.numbers()) > before + 3,
                within=20,
                what="media after the path came back",
            )
            resumed = next(r for r in at_alice.trail() if r.arrived > unblocked_at).arrived
            numbers = at_alice.numbers()
            figures = {
                "blocked_s": round(unblocked_at - blocked_at, 2),
                "resumed_after_unblock_s": round(resumed - unblocked_at, 2),
                "restarts": {"alice": call_a.restarts, "bob": call_b.restarts},
                "path": emu.faults.path(RELAYED).counters.__dict__,
            }
            print("path fault:", json.dumps(figures))
            assert resumed - unblocked_at <= 3.0, figures
            assert sorted(at_alice.tracks) == [("main", "audio"), ("main", "video")]  # no new ones
            assert strictly_increasing(numbers)
            assert not call_a.ended.is_set() and not call_b.ended.is_set()
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await at_alice.close()


async def test_far_end_replaced_while_the_first_bot_stays() -> None:
    async with emulator() as emu, bot(emu, DIRECT, "alice") as alice:
        at_alice = Numbers()
        call_a = await alice.call(video=NumberedPattern(ALICE_FIRST), on_track=at_alice.on_track)
        me = alice.info.participant_uuid
        try:
            async with bot(emu, DIRECT, "bob") as bob:
                await bob.call(video=NumberedPattern(BOB_FIRST))
                await wait_until(lambda: at_alice.count_from(BOB_FIRST) > 0)
            # bob left: alice waits for the next far end on a fresh /calls
            await wait_until(lambda: call_a.state == "waiting", what="alice waiting again")
            async with bot(emu, DIRECT, "carol") as carol:
                at_carol = Numbers()
                await carol.call(video=NumberedPattern(CAROL_FIRST), on_track=at_carol.on_track)
                await wait_until(
                    lambda: (
                        at_alice.count_from(CAROL_FIRST) > 0
                        and at_carol.count_from(ALICE_FIRST) > 0
                    ),
                    what="alice and carol seeing each other",
                )
                await at_carol.close()
            joins = [x for x in emu.traffic if x.path.endswith("/request_token")]
            assert len(joins) == 3  # alice, bob, carol: alice never joined again
            assert alice.info.participant_uuid == me and alice.media_call is call_a
            assert sorted(at_alice.tracks) == [("main", "audio"), ("main", "video")]
            assert call_a.peers_answered == 2
        finally:
            await call_a.disconnect()
            await at_alice.close()
