"""Over real HTTP: two Sessions on the emulator with the aiortc backend, media both ways and a
presentation; the wire order as the node saw it."""

from __future__ import annotations

from callkit import PatternVideo, ToneAudio, Tracks, close_colour, read_pattern, wait_until

from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator import Emulator, EmulatorConfig
from pexbot.emulator.config import ConferenceConfig
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.session.session import Session

RED = (220, 40, 40)
GREEN = (40, 200, 60)
BLUE = (30, 60, 230)


async def test_two_sessions_call_and_present_over_http() -> None:
    config = EmulatorConfig(conferences=[ConferenceConfig(aliases=["meet"])])
    backend = AiortcMediaBackend(card_size=(320, 180), fps=10.0)
    async with Emulator(config, media=backend) as emu:
        async with (
            Session(emu.base_url, "meet", display_name="alice") as alice,
            Session(emu.base_url, "meet", display_name="bob") as bob,
        ):
            tracks_a, tracks_b = Tracks(), Tracks()
            opts_a = CallOptions.from_token(alice.info, video_codec="vp8")
            opts_b = CallOptions.from_token(bob.info, video_codec="h264")
            assert opts_a.ice_servers == () and opts_a.media_type == "video"
            a = MediaCall(
                alice.call_signalling(),
                opts_a,
                audio=ToneAudio(),
                video=PatternVideo(RED),
                on_track=tracks_a,
            )
            b = MediaCall(
                bob.call_signalling(),
                opts_b,
                audio=ToneAudio(660),
                video=PatternVideo(GREEN),
                on_track=tracks_b,
            )
            try:
                await a.start()
                await b.start()
                video_a = await tracks_a.get("main", "video")
                video_b = await tracks_b.get("main", "video")
                await wait_until(
                    lambda: (
                        video_a.last is not None
                        and close_colour(read_pattern(video_a.last)[0], GREEN)
                    ),
                    what="bob's video at alice",
                )
                await wait_until(
                    lambda: (
                        video_b.last is not None
                        and close_colour(read_pattern(video_b.last)[0], RED)
                    ),
                    what="alice's video at bob",
                )

                # What alice's call looked like on the wire, as the node recorded it.
                calls_path = f"/participants/{alice.participant_uuid}/calls"
                wire_order = [
                    (x.endpoint or "").rsplit(".", 1)[-1]
                    for x in emu.traffic
                    if calls_path in x.path and x.method == "POST"
                ]
                n = wire_order.index("ack") - 1
                assert n >= 1
                assert wire_order == ["calls"] + ["new_candidate"] * n + ["ack", "new_candidate"]
                assert all(x.status == 200 for x in emu.traffic if calls_path in x.path)

                await a.start_presenting(PatternVideo(BLUE, fps=5.0))
                await b.receive_presentation()
                pres_b = await tracks_b.get("presentation", "video")
                await wait_until(
                    lambda: (
                        pres_b.last is not None and close_colour(read_pattern(pres_b.last)[0], BLUE)
                    ),
                    what="alice's slides at bob",
                )
            finally:
                await a.disconnect()
                await b.disconnect()
                await tracks_a.close()
                await tracks_b.close()
