"""Child process for the SIGKILL test: records real-time synthetic tracks until killed.

Usage: python rec_sigkill_child.py OUTPUT_PATH. Prints ``recording <seconds>`` with the
recording clock's reading 0.5 s after the tracks started, then ``t=<seconds>`` every 0.5 s;
never exits by itself.
"""

from __future__ import annotations

import asyncio
import sys

from rec_synth import RealTime, SynthAudio, SynthVideo

from media.recorder import Recorder


async def main(path: str) -> None:
    clock = RealTime()
    t_ref = clock.now()
    video = SynthVideo(clock, t_ref, duration=3600.0)
    audio = SynthAudio(clock, t_ref, duration=3600.0)
    recorder = Recorder(path)
    recorder.add_track(video)
    recorder.add_track(audio)
    await asyncio.sleep(0.5)
    print(f"recording {recorder.elapsed():.3f}", flush=True)
    while True:
        await asyncio.sleep(0.5)
        print(f"t={recorder.elapsed():.3f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
