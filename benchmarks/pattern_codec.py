"""Cost and robustness of the pattern code and the tone markers. Prints JSON.

    python benchmarks/pattern_codec.py [--frames 150]

* render/draw: ms per 640x360 pattern frame (the whole picture, and the code alone)
* decode: ms per picture for find_codes on one core, for a clean 640x360 frame, a VP8-decoded
  one, and composed 1280x720 / 640x360 canvases with four tiles on busy content
* read rates after libvpx VP8 at 300 kbit/s, directly and with the decoded frames scaled into
  tiles (320x180 and 213x120) at odd offsets, and with the composed canvas encoded again;
  false reads (a number or timestamp that was not sent) are counted separately
* tone: marker timing error through libopus (96 kbit/s voip, as aiortc), raw and with the
  codec's own lookahead taken off
"""

from __future__ import annotations

import argparse
import fractions
import json
import time
from collections.abc import Callable, Sequence

import av
import numpy as np
from av import AudioFrame, VideoFrame

from media.pattern import TIME_MOD, draw_code, find_codes
from media.synthetic import PatternRenderer
from media.tone import ToneDetector, ToneSpec, tone_samples

T0 = 4_000_000_000


def stamp(k: int) -> int:
    return (T0 + 33 * k) % TIME_MOD


def per_call_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return round((time.perf_counter() - started) / repeat * 1000, 3)


def vp8(
    pictures: Sequence[np.ndarray], width: int, height: int, bit_rate: int
) -> tuple[list[VideoFrame], float]:
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt, enc.bit_rate = width, height, "yuv420p", bit_rate
    enc.time_base, enc.framerate = fractions.Fraction(1, 30), fractions.Fraction(30)
    rate = str(bit_rate)
    enc.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": rate,
        "maxrate": rate,
        "bufsize": rate,
    }
    dec = av.CodecContext.create("libvpx", "r")
    frames: list[VideoFrame] = []
    size = 0
    for i, picture in enumerate(pictures):
        frame = VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = i
        for packet in enc.encode(frame):
            size += packet.size
            frames.extend(dec.decode(packet))
    for packet in enc.encode(None):
        size += packet.size
        frames.extend(dec.decode(packet))
    return frames, round(size * 8 * 30 / len(pictures) / 1000, 1)


def read_rate(pictures: Sequence[np.ndarray], expected: Sequence[set[int]]) -> dict[str, float]:
    hits = false = 0
    spent = 0.0
    for picture, numbers in zip(pictures, expected, strict=True):
        started = time.perf_counter()
        codes = find_codes(picture)
        spent += time.perf_counter() - started
        got = {c.number for c in codes}
        hits += len(got & numbers)
        false += sum(
            1 for c in codes if c.number not in numbers or c.timestamp_ms != stamp(c.number)
        )
    total = sum(len(n) for n in expected)
    return {
        "read_rate": round(hits / total, 4),
        "false_reads": false,
        "codes": total,
        "decode_ms": round(spent / len(pictures) * 1000, 3),
    }


def compose(
    frames: list[VideoFrame],
    tile: tuple[int, int],
    canvas: tuple[int, int],
    busy: bool,
    seed: int = 3,
) -> tuple[list[np.ndarray], list[set[int]]]:
    tw, th = tile
    cw, ch = canvas
    offsets = [(3, 5), (tw + 17, 1), (cw - tw - 1, ch - th - 3), (7, ch - th - 1)]
    rng = np.random.default_rng(seed)
    pictures, expected = [], []
    for k in range(len(frames)):
        if busy:
            picture = rng.integers(40, 200, (ch, cw), dtype=np.uint8)
        else:
            picture = np.full((ch, cw), 60, np.uint8)
        numbers = set()
        for j, (x, y) in enumerate(offsets):
            n = (k + 29 * j) % len(frames)
            picture[y : y + th, x : x + tw] = (
                frames[n].reformat(width=tw, height=th, format="gray").to_ndarray()
            )
            numbers.add(n)
        pictures.append(picture)
        expected.append(numbers)
    return pictures, expected


def tone_errors(seconds: int = 10) -> dict[str, float]:
    spec = ToneSpec()
    epoch = 1_700_000_000_337
    x = tone_samples(spec, 0, 48000 * seconds, epoch_ms=epoch)
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "stereo", "s16", 96000
    enc.time_base = fractions.Fraction(1, 48000)
    enc.options = {"application": "voip"}
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout, dec.format = 48000, "stereo", "s16"
    chunks: list[np.ndarray] = []
    delay = 0
    for i in range(0, x.size, 960):
        frame = AudioFrame.from_ndarray(
            np.repeat(x[i : i + 960], 2)[None, :], format="s16", layout="stereo"
        )
        frame.sample_rate, frame.pts = 48000, i
        for packet in enc.encode(frame):
            if not chunks and packet.pts is not None and packet.pts < 0:
                delay = -packet.pts
            chunks += [f.to_ndarray().reshape(-1, 2) for f in dec.decode(packet)]
    found = ToneDetector(spec).feed(np.concatenate(chunks))
    first = (spec.period_ms - epoch % spec.period_ms) * 48
    expected = np.array([first + k * 48000 for k in range(len(found.markers))])
    errors = (np.array(found.markers) - expected) / 48
    return {
        "markers_expected": seconds,
        "markers_found": len(found.markers),
        "max_abs_error_ms": round(float(np.abs(errors).max()), 2),
        "codec_delay_ms": round(delay / 48, 2),
        "max_abs_error_without_codec_delay_ms": round(float(np.abs(errors - delay / 48).max()), 2),
        "detector_ms_per_20ms_frame": per_call_ms(lambda: ToneDetector(spec).feed(x[:960]), 200),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    renderer = PatternRenderer(640, 360)
    pictures = [renderer.render(k, stamp(k)) for k in range(args.frames)]
    luma = np.zeros((360, 640), np.uint8)
    out: dict[str, object] = {
        "render_ms_640x360": per_call_ms(lambda: renderer.render(7, 7), 200),
        "draw_code_ms": per_call_ms(lambda: draw_code(luma, 7, 7, x=10, y=10, module=13), 200),
        "decode_ms_clean_640x360": per_call_ms(lambda: find_codes(pictures[0][:360]), 100),
    }
    frames, kbps = vp8(pictures, 640, 360, 300_000)
    out["vp8_300k"] = {
        "kbit_s": kbps,
        **read_rate(
            [f.to_ndarray(format="gray") for f in frames], [{k} for k in range(len(frames))]
        ),
    }
    tiles: dict[str, object] = {}
    for tile, canvas in (
        ((320, 180), (1280, 720)),
        ((213, 120), (1280, 720)),
        ((213, 120), (640, 360)),
        ((160, 90), (640, 360)),
    ):
        for busy in (False, True):
            composed, expected = compose(frames, tile, canvas, busy)
            key = f"{tile[0]}x{tile[1]}_in_{canvas[0]}x{canvas[1]}_{'noise' if busy else 'flat'}"
            tiles[key] = read_rate(composed, expected)
    out["tiles_of_vp8_300k"] = tiles
    composed, expected = compose(frames, (213, 120), (640, 360), busy=False)
    yuv = [np.concatenate([p, np.full((180, 640), 128, np.uint8)]) for p in composed]
    again, kbps2 = vp8(yuv, 640, 360, 600_000)
    out["tiles_213x120_reencoded_640x360_600k"] = {
        "kbit_s": kbps2,
        **read_rate([f.to_ndarray(format="gray") for f in again], expected),
    }
    out["tone_through_opus"] = tone_errors()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
