"""Must-show, part 1: alice presents a known file; bob records it beside his main recording;
carol, whose call has no slides line, gets it as JPEGs. Everything real: HTTP, events, aiortc
on loopback, the emulator relaying (and transcoding) the slides, av reading the file back.

The presented frames carry codes (frame number = count of frames sent, capture time), so the
checks are on content: which frames arrived, in what order, over how long."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from preskit import (
    FPS,
    SIZE,
    TrailAnalyser,
    coverage,
    feed,
    floor_wire,
    make_clip,
    media_emulator,
    playlist_from,
    read_codes,
    strictly_increasing,
    wait_until,
)

from media import Recorder
from media.analyser import luma_plane
from media.pattern import find_codes
from pexbot import Session
from pexbot.presentation.jpeg import decode_jpeg

PRESENT_SECONDS = 6.0
CLIP_FPS = 10  # the playlist's caps: max 10 fps


async def test_presented_file_is_recorded_beside_main_and_as_jpegs(tmp_path: Path) -> None:
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.mkv", fps=CLIP_FPS)
    recorder = Recorder(tmp_path / "bob.mkv", fps=int(FPS))
    jpegs, no_call = TrailAnalyser(), TrailAnalyser()
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
        Session(emu.base_url, "meet", display_name="carol") as carol,
        Session(emu.base_url, "meet", display_name="dave") as dave,
    ):
        call_a = await alice.call()
        call_b = await bob.call(on_track=feed(recorder))
        call_c = await carol.call(media_type="audio", on_track=feed(jpegs))
        dave.presentation.receive_jpeg(feed(no_call))  # dave makes no call at all
        try:
            await wait_until(lambda: recorder.elapsed() > 0, what="bob's main recording")
            playlist = playlist_from(clip)
            started = time.monotonic()
            recorded_at_start = recorder.elapsed()
            await alice.presentation.start(playlist, close_source=True)
            await wait_until(lambda: bob.presentation.receiving == "video", what="bob receives")
            await wait_until(lambda: carol.presentation.receiving == "jpeg", what="carol: JPEGs")
            await wait_until(lambda: dave.presentation.receiving == "jpeg", what="dave: JPEGs")
            await asyncio.sleep(PRESENT_SECONDS - (time.monotonic() - started))
            frame_id = carol.state.presentation.last_frame_id
            assert frame_id is not None
            high = await carol.conference.presentation_frame(frame_id, high=True)
            await alice.presentation.stop()
            presented = time.monotonic() - started
            sent = playlist.track.frames_out
            notice = await asyncio.wait_for(alice.presentation.wait_stopped(), 10)
            await wait_until(lambda: bob.presentation.receiving is None, what="bob stops")
            await wait_until(lambda: carol.presentation.receiving is None, what="carol stops")
            await recorder.close()
            await jpegs.close()
            await no_call.close()
        finally:
            await recorder.close()
            await jpegs.close()
            await no_call.close()
            for call in (call_a, call_b, call_c):
                await call.disconnect()
        a_wire = floor_wire(emu, alice.participant_uuid or "")
        b_wire = floor_wire(emu, bob.participant_uuid or "")
        frames_announced = sum(emu.node.presentation.frames_sent.values())

    paths = recorder.paths
    pres = paths.get("presentation")
    assert pres == recorder.path_for("presentation") == tmp_path / "bob.presentation.mkv"
    assert "main" in paths and pres is not None
    codes = await asyncio.to_thread(read_codes, pres)
    numbers = codes.numbers
    ratio = coverage(numbers)[2]
    jpeg_numbers = jpegs.numbers("presentation")
    figures = {
        "presented_s": round(presented, 2),
        "sent_frames": sent,
        "file_frames": codes.frames,
        "coded_frames": len(numbers),
        "numbers": [min(numbers), max(numbers)] if numbers else None,
        "coverage": round(ratio, 3),
        "file_first_s": codes.first_time,
        "recorded_at_start_s": round(recorded_at_start, 2),
        "coded_span_s": round(codes.coded_span, 2),
        "captured_span_s": round(codes.captured_span, 2),
        "jpeg_frames": jpegs.report().roles["presentation"].video.frames,  # type: ignore[union-attr]
        "jpeg_numbers": jpeg_numbers,
        "no_call_numbers": no_call.numbers("presentation"),
        "frames_announced": frames_announced,
    }
    print("presentation:", json.dumps(figures))

    # the wire, as Pexip's client does it
    assert a_wire[-6:] == [
        ("take_floor", None),
        ("update", "sendonly"),
        ("ack", None),
        ("release_floor", None),
        ("update", "inactive"),
        ("ack", None),
    ]
    assert b_wire[-4:] == [
        ("update", "recvonly"),
        ("ack", None),
        ("update", "inactive"),
        ("ack", None),
    ]
    assert notice.reason == "released"

    # the recording: the frames alice sent, in order, few lost, edges aside
    assert codes.decode_errors == 0
    assert strictly_increasing(numbers)
    assert 0 <= min(numbers) <= 2 * CLIP_FPS  # bob's recvonly lands within ~2 s of the start
    assert sent - 1 - CLIP_FPS <= max(numbers) <= sent - 1  # at most ~1 s lost at the end
    assert ratio >= 0.9, figures
    # on the same clock as main: the presentation starts where it began in the recording
    assert codes.first_time is not None
    assert recorded_at_start - 0.2 <= codes.first_time <= recorded_at_start + 3.0
    # its duration: the file's timing matches the capture timing, and the presented time
    assert abs(codes.coded_span - codes.captured_span) <= 0.5, figures
    assert presented - 2.5 <= codes.coded_span <= presented + 0.5, figures

    # the JPEG fallback: pictures of the same presentation, codes readable, in order
    full = await asyncio.to_thread(decode_jpeg, high)
    assert (full.width, full.height) == SIZE and find_codes(luma_plane(full))
    assert len(jpeg_numbers) >= 2, figures
    assert strictly_increasing(jpeg_numbers) and max(jpeg_numbers) <= sent - 1
    assert len(no_call.numbers("presentation")) >= 2, figures


async def test_joining_during_a_presentation_receives_it(tmp_path: Path) -> None:
    """A bot that joins while someone presents (a recorder arriving late) gets the
    ``presentation_start`` on connecting and follows it as soon as its call is up."""
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.mkv", fps=CLIP_FPS)
    watch = TrailAnalyser()
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
    ):
        call_a = await alice.call()
        try:
            await alice.presentation.start(playlist_from(clip), close_source=True)
            async with Session(emu.base_url, "meet", display_name="late") as late:
                await wait_until(lambda: late.state.presentation.presenter_name == "alice")
                call_l = await late.call(on_track=feed(watch))
                try:
                    await wait_until(lambda: len(watch.numbers("presentation")) >= 10)
                finally:
                    await call_l.disconnect()
        finally:
            await call_a.disconnect()
            await watch.close()
    assert strictly_increasing(watch.numbers("presentation"))
