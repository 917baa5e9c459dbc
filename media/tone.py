"""A test tone with timing markers: pure generator and detector, no I/O.

The tone is a sine at ``frequency``. Every ``period_ms`` of the *capture* wall clock (at each
whole second by default) it switches, phase-continuously, to ``marker_frequency`` for
``marker_ms``. A marker therefore starts at a wall-clock time that is a multiple of the period,
which a receiver can compare with its own clock (latency below one period is unambiguous).
A frequency switch rather than a gap keeps the tone present and level steady, and passes a
voice codec untouched.

Levels follow AES17: a full-scale sine reads 0 dBFS (RMS level + 3.01 dB).

:class:`ToneDetector` works on 10 ms blocks whose length holds a whole number of cycles of
both default frequencies, so each block's two single-bin DFTs do not leak into each other. A
marker onset is placed inside the block where the switch happened by the share of the block's
amplitude that is already at the marker frequency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class ToneSpec:
    frequency: float = 1000.0
    marker_frequency: float = 1500.0
    period_ms: int = 1000
    marker_ms: int = 40
    amplitude_dbfs: float = -12.0
    sample_rate: int = 48000

    def __post_init__(self) -> None:
        if (self.period_ms * self.sample_rate) % 1000 or (self.marker_ms * self.sample_rate) % 1000:
            raise ValueError(
                f"period {self.period_ms} ms and marker {self.marker_ms} ms must be whole "
                f"numbers of samples at {self.sample_rate} Hz"
            )
        if not 0 < self.marker_ms < self.period_ms:
            raise ValueError(
                f"marker of {self.marker_ms} ms does not fit a {self.period_ms} ms period"
            )

    @property
    def period_samples(self) -> int:
        return self.period_ms * self.sample_rate // 1000

    @property
    def marker_samples(self) -> int:
        return self.marker_ms * self.sample_rate // 1000


def _marker_samples_before(pos: npt.NDArray[np.int64], period: int, marker: int) -> np.ndarray:
    """How many of the positions 0 .. pos-1 (counted from a period start) are marker samples."""
    return (pos // period) * marker + np.minimum(pos % period, marker)


def tone_samples(
    spec: ToneSpec, first_sample: int, count: int, *, epoch_ms: int
) -> npt.NDArray[np.int16]:
    """Samples ``first_sample`` .. ``first_sample + count - 1`` as int16 mono.

    Sample 0 is captured at wall-clock ``epoch_ms``. The result depends only on the arguments,
    so any stretch can be generated independently (frames, files, tests).
    """
    sr = spec.sample_rate
    period, marker = spec.period_samples, spec.marker_samples
    offset = (epoch_ms % spec.period_ms) * sr // 1000
    n = np.arange(first_sample, first_sample + count, dtype=np.int64)
    in_marker = _marker_samples_before(offset + n, period, marker)
    in_marker -= _marker_samples_before(np.array([offset], np.int64), period, marker)
    f, fm = spec.frequency, spec.marker_frequency
    if float(f).is_integer() and float(fm).is_integer():
        cycles_num = (int(f) * n + (int(fm) - int(f)) * in_marker) % sr
        phase = cycles_num.astype(np.float64) / sr
    else:
        phase = np.mod((f * n + (fm - f) * in_marker) / sr, 1.0)
    amplitude = 32767.0 * 10 ** (spec.amplitude_dbfs / 20.0)
    samples: npt.NDArray[np.int16] = np.round(amplitude * np.sin(2 * np.pi * phase)).astype(
        np.int16
    )
    return samples


def level_dbfs(sum_squares: float, samples: int) -> float:
    """AES17 level of ``samples`` samples (in [-1, 1]) whose squares add up to ``sum_squares``."""
    if samples <= 0 or sum_squares <= 0:
        return -120.0
    return max(-120.0, 10 * math.log10(2.0 * sum_squares / samples))


@dataclass(slots=True)
class ToneChunk:
    """What one :meth:`ToneDetector.feed` call found."""

    markers: list[float] = field(default_factory=list)  # onset sample positions in the stream
    samples: int = 0
    sum_squares: float = 0.0
    blocks: int = 0
    tone_blocks: int = 0  # blocks in which the tone (or its marker) carries most of the power


def to_mono_float(pcm: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    """int16 or float PCM, shaped (samples,) or (samples, channels), as mono floats in [-1, 1]."""
    data = np.asarray(pcm)
    floats = data.astype(np.float64)
    if np.issubdtype(data.dtype, np.integer):
        floats /= 32768.0
    if floats.ndim == 2:
        floats = floats.mean(axis=1)
    return floats.ravel()


class ToneDetector:
    """Fed PCM in any chunk sizes; reports level, tone presence and marker onsets."""

    def __init__(self, spec: ToneSpec | None = None, *, block_ms: int = 10) -> None:
        self.spec = spec or ToneSpec()
        sr = self.spec.sample_rate
        self.block = sr * block_ms // 1000
        n = np.arange(self.block)
        self._ref_tone = np.exp(-2j * np.pi * self.spec.frequency * n / sr)
        self._ref_marker = np.exp(-2j * np.pi * self.spec.marker_frequency * n / sr)
        self._pending = np.empty(0, np.float64)
        self._blocks_done = 0
        self._history: list[tuple[float, float, bool]] = []  # (tone amp, marker amp, tonal)
        self._last_onset = -math.inf
        self.samples_fed = 0

    def feed(self, pcm: npt.NDArray[np.generic]) -> ToneChunk:
        mono = to_mono_float(pcm)
        chunk = ToneChunk(samples=mono.size, sum_squares=float(np.dot(mono, mono)))
        self.samples_fed += mono.size
        data = np.concatenate((self._pending, mono)) if self._pending.size else mono
        count = data.size // self.block
        self._pending = data[count * self.block :].copy()
        if count == 0:
            return chunk
        blocks = data[: count * self.block].reshape(count, self.block)
        scale = 2.0 / self.block
        amp_tone = np.abs(blocks @ self._ref_tone) * scale
        amp_marker = np.abs(blocks @ self._ref_marker) * scale
        power = np.mean(blocks * blocks, axis=1)
        tonal = ((amp_tone**2 + amp_marker**2) / 2 > 0.5 * power) & (power > 1e-8)
        chunk.blocks = count
        chunk.tone_blocks = int(tonal.sum())
        for i in range(count):
            onset = self._step(float(amp_tone[i]), float(amp_marker[i]), bool(tonal[i]))
            if onset is not None:
                chunk.markers.append(onset)
        return chunk

    def _step(self, tone: float, marker: float, tonal: bool) -> float | None:
        index = self._blocks_done
        self._blocks_done += 1
        history = self._history
        history.append((tone, marker, tonal))
        if len(history) > 3:
            del history[0]
        if len(history) < 3 or not (tonal and marker > tone):
            return None
        (t2, m2, tonal2), (t1, m1, tonal1) = history[0], history[1]
        if not (tonal1 and tonal2 and t1 >= m1 and t2 >= m2):
            return None
        block_start = index * self.block
        share_prev = m1 / (m1 + t1)
        if share_prev > 0.08:
            onset = block_start - self.block * share_prev
        else:
            onset = block_start + self.block * (1.0 - marker / (marker + tone))
        if onset - self._last_onset < self.spec.period_samples / 2:
            return None
        self._last_onset = onset
        return onset
