"""Recorder cost: CPU per recorded second and bytes per second, in real time.

Runs paced synthetic tracks (moving picture + tone) into a DiscardSink (baseline: the source
and the event loop) and into a Recorder per case, and prints one JSON object:

    /tmp/venv/bin/python benchmarks/recorder.py [--seconds 15] [--cases mkv,mp4]

``recorder_cpu_per_second`` is core-seconds per recorded second spent by the recorder alone
(process CPU of the recording run minus the baseline run); ``bytes_per_second`` is the file size
over the recorded duration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.discard import DiscardSink
from media.recorder import Recorder
from media.sink import Sink

WIDTH, HEIGHT, FPS = 640, 360, 30
CASES = {
    "mkv": {"container": "mkv"},  # VP8 + Opus
    "mp4": {"container": "mp4"},  # H.264 + AAC
}


def pictures(count: int) -> list[np.ndarray]:
    """A moving gradient with a moving textured box: enough motion to make the encoder work."""
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (120, 160), dtype=np.uint8)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    out = []
    for n in range(count):
        yuv = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
        yuv[:HEIGHT] = ((xs + ys + 8 * n) % 256).astype(np.uint8)
        x = (n * 7) % (WIDTH - 160)
        yuv[100:220, x : x + 160] = texture
        out.append(yuv)
    return out


class PacedVideo(MediaStreamTrack):
    kind = "video"

    def __init__(self, start: float, duration: float) -> None:
        super().__init__()
        self._start, self._end, self._n = start, start + duration, 0
        self._pictures = pictures(FPS * 2)

    async def recv(self) -> VideoFrame:
        due = self._start + self._n / FPS
        if due >= self._end:
            self.stop()
            raise MediaStreamError
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = VideoFrame.from_ndarray(
            self._pictures[self._n % len(self._pictures)], format="yuv420p"
        )
        frame.pts, frame.time_base = self._n * 3000, Fraction(1, 90000)
        self._n += 1
        return frame


class PacedAudio(MediaStreamTrack):
    kind = "audio"

    def __init__(self, start: float, duration: float) -> None:
        super().__init__()
        self._start, self._end, self._n = start, start + duration, 0
        t = np.arange(960) / 48000
        tone = (8000 * np.sin(2 * np.pi * 400 * t)).astype(np.int16)  # 400 Hz: 8 whole cycles
        self._samples = np.repeat(tone, 2).reshape(1, -1)

    async def recv(self) -> AudioFrame:
        due = self._start + self._n * 0.02
        if due >= self._end:
            self.stop()
            raise MediaStreamError
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = AudioFrame.from_ndarray(self._samples, format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, self._n * 960, Fraction(1, 48000)
        self._n += 1
        return frame


async def run(sink: Sink, seconds: float) -> float:
    """Process CPU seconds used while ``sink`` consumed ``seconds`` of paced media."""
    start = time.monotonic() + 0.2
    video, audio = PacedVideo(start, seconds), PacedAudio(start, seconds)
    cpu = time.process_time()
    ended = [asyncio.Event(), asyncio.Event()]
    video.on("ended", ended[0].set)
    audio.on("ended", ended[1].set)
    sink.add_track(video)
    sink.add_track(audio)
    for event in ended:
        await event.wait()
    await sink.close()
    return time.process_time() - cpu


async def main(seconds: float, cases: list[str]) -> dict[str, object]:
    baseline = await run(DiscardSink(), seconds)
    result: dict[str, object] = {
        "seconds": seconds,
        "video": f"{WIDTH}x{HEIGHT}@{FPS}",
        "baseline_cpu_per_second": round(baseline / seconds, 3),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            recorder = Recorder(Path(tmp) / case, **CASES[case])  # type: ignore[arg-type]
            cpu = await run(recorder, seconds)
            stats = recorder.stats()["main"]
            result[case] = {
                "codecs": f"{recorder.spec.video_codec}+{recorder.spec.audio_codec}",
                "cpu_per_recorded_second": round(cpu / stats.duration, 3),
                "recorder_cpu_per_second": round((cpu - baseline) / stats.duration, 3),
                "bytes_per_second": round(stats.bytes_written / stats.duration),
                "recorded_seconds": round(stats.duration, 2),
                "video_dropped": stats.streams["video"].frames_dropped,
                "audio_dropped": stats.streams["audio"].frames_dropped,
            }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cases", default="mkv,mp4")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.seconds, args.cases.split(","))), indent=2))
