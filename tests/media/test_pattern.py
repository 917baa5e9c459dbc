"""The frame-number code: exact round trips, rejection of damage, and reading after real VP8
at 300 kbit/s and after being scaled into a tile of a composed picture."""

from __future__ import annotations

import numpy as np
import pytest
from av import VideoFrame
from av_testmedia import vp8_roundtrip

from media.pattern import (
    DATA_BITS,
    FRAME_MOD,
    TIME_MOD,
    code_size,
    decode_bits,
    draw_code,
    encode_bits,
    find_codes,
)
from media.synthetic import PatternRenderer

T0 = 4_000_000_000  # capture timestamps near the 32-bit wrap


def stamp(k: int) -> int:
    return (T0 + 33 * k) % TIME_MOD


@pytest.mark.parametrize("number", [0, 1, 12345, FRAME_MOD - 1])
@pytest.mark.parametrize("timestamp", [0, 1_700_000_000, TIME_MOD - 1])
def test_bits_round_trip(number: int, timestamp: int) -> None:
    bits = encode_bits(number, timestamp)
    assert bits.shape == (DATA_BITS,)
    assert decode_bits(bits) == (number, timestamp)


def test_every_single_bit_error_is_rejected() -> None:
    for number, timestamp in [(0, 0), (777, 123456789), (FRAME_MOD - 1, TIME_MOD - 1)]:
        bits = encode_bits(number, timestamp)
        for i in range(DATA_BITS):
            damaged = bits.copy()
            damaged[i] ^= 1
            assert decode_bits(damaged) is None, (number, timestamp, i)


def test_codes_anywhere_at_any_scale_in_grey_and_rgb() -> None:
    canvas = np.full((720, 1280), 90, np.uint8)
    placed = {(11, 1001): (13, 7, 3), (22, 2002): (487, 31, 5), (33, 3003): (101, 403, 12)}
    for (number, ts), (x, y, module) in placed.items():
        draw_code(canvas, number, ts, x=x, y=y, module=module)
    rgb = np.repeat(canvas[:, :, None], 3, axis=2)
    for picture in (canvas, rgb):
        codes = find_codes(picture)
        assert {(c.number, c.timestamp_ms) for c in codes} == set(placed)
        for code in codes:
            x, y, module = placed[(code.number, code.timestamp_ms)]
            assert code.module_x == pytest.approx(module, rel=0.1)
            assert code.x == pytest.approx(x + 4.5 * module, abs=module)
            assert code.y == pytest.approx(y + 4.5 * module, abs=module)


def test_draw_code_refuses_to_clip() -> None:
    width, height = code_size(12)
    with pytest.raises(ValueError, match="does not fit"):
        draw_code(np.zeros((height, width), np.uint8), 1, 1, x=1, y=0, module=12)


def test_pictures_without_a_code_read_nothing() -> None:
    rng = np.random.default_rng(7)
    renderer = PatternRenderer(640, 360)
    for i in range(40):
        noise = rng.integers(0, 256, (360 // 4, 640 // 4), dtype=np.uint8)
        assert find_codes(np.kron(noise, np.ones((4, 4), np.uint8))) == []
        bars = renderer.render(i, 0)[:360].copy()
        bars[renderer.code_y :, :] = bars[0, :]  # the moving bars with the code painted over
        assert find_codes(bars) == []


@pytest.fixture(scope="module")
def vp8_frames() -> list[VideoFrame]:
    renderer = PatternRenderer(640, 360)
    pictures = [renderer.render(k, stamp(k)) for k in range(120)]
    frames, kbps = vp8_roundtrip(pictures, width=640, height=360, bit_rate=300_000)
    assert kbps < 400, f"encoder did not hold 300 kbit/s: {kbps:.0f}"
    assert len(frames) == 120
    return frames


def score(found: list[set[tuple[int, int]]], expected: list[set[int]]) -> tuple[float, int]:
    """(share of expected numbers read, count of reads that were not expected)."""
    hits = sum(len({n for n, _ in f} & e) for f, e in zip(found, expected, strict=True))
    false = sum(
        1
        for f, e in zip(found, expected, strict=True)
        for n, ts in f
        if n not in e or ts != stamp(n)
    )
    return hits / sum(len(e) for e in expected), false


def test_reads_pattern_after_vp8_at_300_kbits(vp8_frames: list[VideoFrame]) -> None:
    found = [
        {(c.number, c.timestamp_ms) for c in find_codes(f.to_ndarray(format="gray"))}
        for f in vp8_frames
    ]
    rate, false = score(found, [{k} for k in range(len(vp8_frames))])
    assert false == 0
    assert rate >= 0.98


@pytest.mark.parametrize(
    ("tile", "canvas"),
    [((320, 180), (1280, 720)), ((213, 120), (1280, 720)), ((213, 120), (640, 360))],
)
def test_reads_every_tile_of_a_composed_picture(
    vp8_frames: list[VideoFrame], tile: tuple[int, int], canvas: tuple[int, int]
) -> None:
    tw, th = tile
    cw, ch = canvas
    offsets = [(3, 5), (tw + 17, 1), (cw - tw - 1, ch - th - 3), (7, ch - th - 1)]
    rng = np.random.default_rng(3)
    found, expected = [], []
    for k in range(len(vp8_frames)):
        picture = rng.integers(40, 200, (ch, cw), dtype=np.uint8)  # busy content around tiles
        numbers = set()
        for j, (x, y) in enumerate(offsets):
            n = (k + 29 * j) % len(vp8_frames)
            scaled = vp8_frames[n].reformat(width=tw, height=th, format="gray").to_ndarray()
            picture[y : y + th, x : x + tw] = scaled
            numbers.add(n)
        found.append({(c.number, c.timestamp_ms) for c in find_codes(picture)})
        expected.append(numbers)
    rate, false = score(found, expected)
    assert false == 0
    assert rate >= 0.97


def test_reads_tiles_after_the_composed_picture_is_encoded_again(
    vp8_frames: list[VideoFrame],
) -> None:
    tw, th = 213, 120
    offsets = [(1, 1), (215, 3), (427, 239), (101, 121)]
    pictures, expected = [], []
    for k in range(len(vp8_frames)):
        canvas = np.full((540, 640), 128, np.uint8)
        canvas[:360] = 60
        numbers = set()
        for j, (x, y) in enumerate(offsets):
            n = (k + 31 * j) % len(vp8_frames)
            canvas[y : y + th, x : x + tw] = (
                vp8_frames[n].reformat(width=tw, height=th, format="gray").to_ndarray()
            )
            numbers.add(n)
        pictures.append(canvas)
        expected.append(numbers)
    frames, _ = vp8_roundtrip(pictures, width=640, height=360, bit_rate=600_000)
    found = [
        {(c.number, c.timestamp_ms) for c in find_codes(f.to_ndarray(format="gray"))}
        for f in frames
    ]
    rate, false = score(found, expected)
    assert false == 0
    assert rate >= 0.95


@pytest.mark.parametrize("size", [(160, 90), (320, 180), (66, 38)])
async def test_pattern_source_of_any_even_size_reads_back(size: tuple[int, int]) -> None:
    """Heights that are not a multiple of 4 (160x90, 66x38) once broke the chroma planes."""
    from media.analyser import luma_plane
    from media.synthetic import PatternVideoSource, chroma_planes

    source = PatternVideoSource(*size, fps=30)
    numbers = []
    for _ in range(3):
        frame = await source.recv()
        numbers += [code.number for code in find_codes(luma_plane(frame))]
        u, v = chroma_planes(frame.to_ndarray(format="yuv420p"), *size)
        assert u.shape == v.shape == (size[1] // 2, size[0] // 2)
    assert numbers == [0, 1, 2]
    source.stop()
