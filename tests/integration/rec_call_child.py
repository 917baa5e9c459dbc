"""Child process of the call-recording SIGKILL test: an emulator, two bots, bob recording what
alice sends, until killed.

Usage: python rec_call_child.py OUTPUT_PATH. Prints ``recording <seconds>`` (the recording
clock) once half a second has been recorded, then ``t=<seconds>`` every 0.5 s; never exits by
itself.
"""

from __future__ import annotations

import asyncio
import sys

from intkit import ALICE_FIRST, NumberedPattern, feed, media_emulator, wait_until

from media import Recorder, ToneAudioSource
from pexbot import Session


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


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
