"""Child process of the call-recording SIGKILL test: an emulator, two bots, bob recording what
alice sends, until killed.

Usage: python rec_call_child.py OUTPUT_PATH [passthrough]. With ``passthrough`` the recorder is
a ``PassthroughRecorder`` fed by a receiver tapped for encoded frames, alice's media reaching it
over real aiortc peers on loopback. Prints ``recording <seconds>`` (the recording
clock) once half a second has been recorded, then ``t=<seconds>`` every 0.5 s; never exits by
itself.
"""

from __future__ import annotations

import asyncio
import sys

from aiortc import RTCPeerConnection
from intkit import ALICE_FIRST, NumberedPattern, feed, media_emulator, wait_until

from media import Recorder, ToneAudioSource
from media.passthrough_recorder import PassthroughRecorder
from pexbot import Session
from pexbot.rtc.encoded import request_keyframe, tap_encoded


async def main(path: str) -> None:
    recorder = Recorder(path, fps=15)
    async with (
        media_emulator() as emu,
        Session(emu.base_url, "meet", display_name="alice") as alice,
        Session(emu.base_url, "meet", display_name="bob") as bob,
    ):
        await alice.call(audio=ToneAudioSource(), video=NumberedPattern(ALICE_FIRST))
        await bob.call(on_track=feed(recorder))
        await wait_until(lambda: recorder.elapsed() >= 0.5, what="half a second recorded")
        print(f"recording {recorder.elapsed():.3f}", flush=True)
        while True:
            await asyncio.sleep(0.5)
            print(f"t={recorder.elapsed():.3f}", flush=True)


async def passthrough(path: str) -> None:
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    sender_pc.addTrack(ToneAudioSource())
    sender_pc.addTrack(NumberedPattern(ALICE_FIRST))
    await sender_pc.setLocalDescription(await sender_pc.createOffer())
    await receiver_pc.setRemoteDescription(sender_pc.localDescription)
    receivers = [t.receiver for t in receiver_pc.getTransceivers()]
    for receiver in receivers:
        tap_encoded(receiver)
    await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
    await sender_pc.setRemoteDescription(receiver_pc.localDescription)
    video = next(r for r in receivers if r.track.kind == "video")

    async def keyframe(role: str) -> None:
        await request_keyframe(video)

    recorder = PassthroughRecorder(path, request_keyframe=keyframe)
    for receiver in receivers:
        recorder.add_track(receiver.track)
    await wait_until(lambda: recorder.elapsed() >= 0.5, what="half a second recorded")
    print(f"recording {recorder.elapsed():.3f}", flush=True)
    while True:
        await asyncio.sleep(0.5)
        print(f"t={recorder.elapsed():.3f}", flush=True)


if __name__ == "__main__":
    if sys.argv[2:] == ["passthrough"]:
        asyncio.run(passthrough(sys.argv[1]))
    else:
        asyncio.run(main(sys.argv[1]))
