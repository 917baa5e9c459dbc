"""Presentation in a direct-media conference: the slides go over the peer connection between
the two participants. The presenter's ``update`` (slides ``sendonly``) reaches the other side
as ``update_sdp``, which its call answers ``recvonly``; the watcher makes no offer of its own
(it would cross the presenter's). Stopping is the presenter's ``update`` (``inactive``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from preskit import (
    TrailAnalyser,
    direct_emulator,
    feed,
    make_clip,
    playlist_from,
    strictly_increasing,
    wait_until,
)

from pexbot import Session
from pexbot.emulator import Emulator

FLOOR = {"take_floor", "release_floor", "update", "ack", "disconnect"}


def posts(emu: Emulator, participant_uuid: str) -> list[str]:
    """The floor and negotiation requests of a participant (statistics etc. left out)."""
    tails = [
        (x.endpoint or "").rsplit(".", 1)[-1]
        for x in emu.traffic
        if x.method == "POST" and f"/participants/{participant_uuid}/" in x.path
    ]
    return [t for t in tails if t in FLOOR]


async def test_presentation_over_direct_media(tmp_path: Path) -> None:
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.mkv")
    watch = TrailAnalyser()
    async with (
        direct_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        call_a = await alice.call(video_codec="vp8")
        call_b = await bob.call(video_codec="vp8", on_track=feed(watch))
        try:
            assert call_a.options.direct_media and call_b.options.direct_media
            await wait_until(
                lambda: call_a.state == "connected" and call_b.state == "connected",
                what="the direct-media peer connection",
            )
            bob_before = len(posts(emu, bob.info.participant_uuid))
            playlist = playlist_from(clip)
            await alice.presentation.start(playlist, close_source=True)
            await wait_until(lambda: bob.presentation.receiving == "video", what="bob follows")
            await wait_until(
                lambda: len(watch.numbers("presentation")) >= 20, what="slides over the peers"
            )
            await alice.presentation.stop()
            await wait_until(lambda: bob.presentation.receiving is None, what="bob stops")
            sent = playlist.track.frames_out
            bob_posts = posts(emu, bob.info.participant_uuid)[bob_before:]
        finally:
            await call_a.disconnect()
            await call_b.disconnect()
            await watch.close()
        alice_posts = posts(emu, alice.info.participant_uuid)

    numbers = watch.numbers("presentation")
    print("direct:", json.dumps({"sent": sent, "received": len(numbers), "bob_posts": bob_posts}))
    assert strictly_increasing(numbers) and max(numbers) <= sent - 1
    assert len(numbers) >= 20
    start = alice_posts.index("take_floor")
    assert alice_posts[start:] == [
        "take_floor",
        "update",
        "ack",
        "release_floor",
        "update",
        "ack",
        "disconnect",
    ]
    assert "update" not in bob_posts  # bob answered alice's offers (``ack {sdp}``) only
