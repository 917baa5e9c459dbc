"""The marker tone: generator properties, detection of level, tone and markers, through Opus."""

from __future__ import annotations

import numpy as np
import pytest
from av_testmedia import opus_roundtrip

from media.tone import ToneDetector, ToneSpec, level_dbfs, tone_samples

EPOCH_MS = 1_700_000_000_337  # capture wall time of sample 0: markers at 663 ms, 1663 ms, ...


def expected_onsets(spec: ToneSpec, seconds: int) -> list[float]:
    first = (spec.period_ms - EPOCH_MS % spec.period_ms) * spec.sample_rate / 1000
    return [first + k * spec.period_samples for k in range(seconds)]


def marker_mask(spec: ToneSpec, n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for onset in expected_onsets(spec, n // spec.period_samples + 1):
        mask[int(onset) : int(onset) + spec.marker_samples] = True
    return mask


def test_generator_switches_frequency_at_capture_second_boundaries() -> None:
    spec = ToneSpec()
    x = tone_samples(spec, 0, 3 * 48000, epoch_ms=EPOCH_MS).astype(np.float64)
    mask = marker_mask(spec, x.size)
    # zero crossings per second tell the frequency: 2 per cycle
    crossings = np.flatnonzero(np.diff(np.signbit(x)))
    in_marker = mask[crossings]
    marker_rate = in_marker.sum() / (mask.sum() / 48000) / 2
    tone_rate = (~in_marker).sum() / ((~mask).sum() / 48000) / 2
    assert marker_rate == pytest.approx(1500, rel=0.02)
    assert tone_rate == pytest.approx(1000, rel=0.01)
    peak_dbfs = 20 * np.log10(np.abs(x).max() / 32767)
    assert peak_dbfs == pytest.approx(-12.0, abs=0.1)


def test_generated_stretches_join_without_a_seam() -> None:
    spec = ToneSpec()
    whole = tone_samples(spec, 0, 48000 * 2, epoch_ms=EPOCH_MS)
    pieces = np.concatenate(
        [tone_samples(spec, i, 960, epoch_ms=EPOCH_MS) for i in range(0, 48000 * 2, 960)]
    )
    assert np.array_equal(whole, pieces)
    # phase continuity: no sample-to-sample step larger than the fastest sine allows
    step = np.abs(np.diff(whole.astype(np.int32))).max()
    assert step <= 2 * np.pi * 1500 / 48000 * 32767 * 10 ** (-12 / 20) + 2


@pytest.mark.parametrize("chunk", [960, 441, 4800])
def test_detector_finds_markers_exactly_in_clean_pcm(chunk: int) -> None:
    spec = ToneSpec()
    x = tone_samples(spec, 0, 48000 * 4, epoch_ms=EPOCH_MS)
    detector = ToneDetector(spec)
    markers: list[float] = []
    blocks = tone_blocks = 0
    for i in range(0, x.size, chunk):
        found = detector.feed(x[i : i + chunk])
        markers += found.markers
        blocks += found.blocks
        tone_blocks += found.tone_blocks
    errors_ms = np.array(markers) - np.array(expected_onsets(spec, 4))
    assert len(markers) == 4
    assert np.abs(errors_ms / 48).max() < 1.0
    assert tone_blocks == blocks


def test_detector_reports_level_and_no_tone_in_noise_or_silence() -> None:
    spec = ToneSpec()
    detector = ToneDetector(spec)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3000, 48000).astype(np.int16)
    found = detector.feed(noise)
    assert found.markers == [] and found.tone_blocks == 0 and found.blocks == 100
    rms_dbfs = level_dbfs(found.sum_squares, found.samples) - 3.01
    assert rms_dbfs == pytest.approx(20 * np.log10(3000 / 32768), abs=0.3)
    silence = detector.feed(np.zeros(48000, np.int16))
    assert silence.tone_blocks == 0 and silence.markers == []
    assert level_dbfs(silence.sum_squares, silence.samples) == -120.0


def test_tone_and_markers_survive_opus_within_20_ms() -> None:
    spec = ToneSpec()
    seconds = 5
    x = tone_samples(spec, 0, 48000 * seconds, epoch_ms=EPOCH_MS)
    decoded, delay = opus_roundtrip(x)
    detector = ToneDetector(spec)
    found = detector.feed(decoded)
    expected = expected_onsets(spec, seconds)
    assert len(found.markers) == seconds
    errors_ms = (np.array(found.markers) - np.array(expected)) / 48
    assert np.abs(errors_ms).max() <= 20.0
    # what remains once the codec's own lookahead is taken off is the detector's error
    assert np.abs(errors_ms - delay / 48).max() <= 3.0
    assert found.tone_blocks >= 0.98 * found.blocks
    assert level_dbfs(found.sum_squares, found.samples) == pytest.approx(-12.0, abs=0.5)


def test_spec_rejects_periods_that_are_not_whole_samples() -> None:
    with pytest.raises(ValueError, match="whole"):
        ToneSpec(sample_rate=44100, period_ms=1000, marker_ms=33)
    with pytest.raises(ValueError, match="does not fit"):
        ToneSpec(marker_ms=1000)
