"""The audio mix and voice detection, pure: jitter buffers, mix-minus arithmetic and clipping,
the shared period clock, hysteresis, and input formats."""

from __future__ import annotations

import numpy as np
from av import AudioFrame

from pexbot.emulator.media.audio_mixer import (
    HISTORY_PERIODS,
    MAX_BUFFER_PERIODS,
    PERIOD_SECONDS,
    PERIOD_VALUES,
    AudioMixer,
    JitterBuffer,
)
from pexbot.emulator.media.compose_tracks import AudioNormaliser
from pexbot.emulator.media.speakers import VoiceActivity


def const(value: int, periods: float = 1.0) -> np.ndarray:
    return np.full(int(PERIOD_VALUES * periods), value, np.int16)


def test_jitter_buffer_prebuffers_bounds_and_recovers() -> None:
    buf = JitterBuffer()
    buf.push(const(7))
    assert buf.take() is None  # one period is not enough to start
    buf.push(const(8, 0.5))
    buf.push(const(9, 0.5))
    first = buf.take()
    assert first is not None and (first == 7).all()
    second = buf.take()
    assert second is not None
    assert (second[: PERIOD_VALUES // 2] == 8).all() and (second[PERIOD_VALUES // 2 :] == 9).all()
    assert buf.underruns == 0
    dry = buf.take()  # ran dry: silence, counted, and buffering again
    assert dry is not None and not dry.any() and buf.underruns == 1
    assert buf.take() is None
    buf.push(const(1, 2))
    buf.push(const(2, 0.5))
    assert buf.take() is not None and buf.take() is not None
    short = buf.take()
    assert short is not None and buf.underruns == 2
    assert (short[: PERIOD_VALUES // 2] == 2).all() and (short[PERIOD_VALUES // 2 :] == 0).all()
    for i in range(MAX_BUFFER_PERIODS + 5):
        buf.push(const(i))
    assert buf.buffered_periods == MAX_BUFFER_PERIODS
    assert buf.dropped_values == 5 * PERIOD_VALUES
    oldest = buf.take()
    assert oldest is not None and (oldest == 5).all()  # the oldest went first


def test_mix_minus_own_and_clipping() -> None:
    mixer = AudioMixer(epoch=100.0)
    for key, value in (("a", 1000), ("b", 20), ("c", 300)):
        mixer.push(key, const(value, 2))
    assert (mixer.mix(0, exclude="a") == 320).all()
    assert (mixer.mix(0, exclude="b") == 1300).all()
    assert (mixer.mix(0, exclude="c") == 1020).all()
    assert (mixer.mix(0) == 1320).all()  # someone with no input hears everybody
    assert (mixer.mix(1, exclude="a") == 320).all()  # the second period, same for all
    loud = AudioMixer(epoch=0.0)
    for key, value in (("a", 30000), ("b", 30000), ("c", -25000), ("d", -25000), ("e", 0)):
        loud.push(key, const(value, 2))
    # the sum is formed wide and clipped once, per listener
    assert (loud.mix(0, exclude="c") == 32767).all()  # 30000 + 30000 - 25000
    assert (loud.mix(0, exclude="a") == -20000).all()
    quiet = AudioMixer(epoch=0.0)
    for key, value in (("c", -25000), ("d", -25000), ("e", 0)):
        quiet.push(key, const(value, 2))
    assert (quiet.mix(0, exclude="e") == -32768).all()


def test_periods_are_shared_and_history_is_bounded() -> None:
    mixer = AudioMixer(epoch=10.0)
    assert mixer.period_at(10.0) == 0 and mixer.period_at(10.0 + 2.5 * PERIOD_SECONDS) == 2
    assert mixer.period_end(0) == 10.0 + PERIOD_SECONDS
    ramp = np.concatenate([const(k) for k in range(1, 31)])
    mixer.push("a", ramp)
    # listeners asking in any order for the same period hear the same samples
    assert (mixer.mix(3, exclude="b") == mixer.mix(3, exclude="c")).all()
    later = mixer.mix(4, exclude="b")
    assert (mixer.mix(3, exclude="b") != later).all()
    # a listener too far behind gets silence rather than rewinding everyone
    mixer.mix(3 + HISTORY_PERIODS + 2, exclude="b")
    assert (mixer.mix(3, exclude="b") == 0).all()
    # own input removed: it no longer counts
    mixer.remove("a")
    assert mixer.keys == []


def test_nobody_listening_skips_ahead_instead_of_replaying() -> None:
    mixer = AudioMixer(epoch=0.0)
    mixer.push("a", const(5, 4))
    assert (mixer.mix(0, exclude="z") == 5).all()
    # a long gap: periods in between are not taken one by one (the buffer bounded itself)
    assert mixer.buffer("a") is not None
    mixer.mix(10_000, exclude="z")
    assert mixer.buffer("a").buffered_periods == 0  # type: ignore[union-attr]


def sine(freq: float, dbfs: float, seconds: float, rate: int = 48000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = np.sin(2 * np.pi * freq * t) * 32767 * 10 ** (dbfs / 20)
    return np.repeat(mono.astype(np.int16), 2)  # interleaved stereo


def feed_in_frames(vad: VoiceActivity, pcm: np.ndarray) -> list[bool]:
    changes = []
    for start in range(0, pcm.size, 1920):
        changed = vad.feed(pcm[start : start + 1920])
        if changed is not None:
            changes.append(changed)
    return changes


def test_voice_activity_hysteresis() -> None:
    vad = VoiceActivity()
    assert feed_in_frames(vad, sine(300, -60, 0.9)) == []  # background hum: not speech
    assert feed_in_frames(vad, sine(300, -20, 0.3)) == [True]
    assert vad.speaking and -21 < vad.level < -19
    # between the thresholds: a quiet syllable keeps the state
    assert feed_in_frames(vad, sine(300, -45, 1.2)) == []
    # one quiet window is a pause between words; two end the speech
    assert feed_in_frames(vad, np.zeros(28800, np.int16)) == []
    assert feed_in_frames(vad, sine(300, -20, 0.3)) == []
    assert feed_in_frames(vad, np.zeros(2 * 28800, np.int16)) == [False]
    assert not vad.speaking and vad.level == -120.0


def test_voice_windows_count_samples_across_frame_boundaries() -> None:
    vad = VoiceActivity()
    pcm = sine(440, -10, 0.3)
    assert vad.feed(pcm[:1000]) is None
    assert vad.feed(pcm[1000:-1]) is None  # one value short of a window
    assert vad.feed(pcm[-1:]) is True


def test_normaliser_accepts_what_decoders_give() -> None:
    normalise = AudioNormaliser()
    stereo = AudioFrame.from_ndarray(
        np.arange(1920, dtype=np.int16).reshape(1, -1), format="s16", layout="stereo"
    )
    stereo.sample_rate = 48000
    assert (normalise(stereo) == np.arange(1920)).all()
    mono = AudioFrame.from_ndarray(np.array([[1, 2, 3]], np.int16), format="s16", layout="mono")
    mono.sample_rate = 48000
    assert list(normalise(mono)) == [1, 1, 2, 2, 3, 3]
    # G.711 decodes to 8 kHz mono: resampled to 48 kHz stereo, the frame left untouched
    narrow = AudioFrame.from_ndarray(np.full((1, 160), 1000, np.int16), format="s16", layout="mono")
    narrow.sample_rate = 8000
    narrow.pts = 1234
    out = np.concatenate([normalise(narrow) for _ in range(10)])
    # (the resampler holds back a few ms)
    assert 0 <= 10 * 960 * 2 - out.size <= 2 * 240 and narrow.pts == 1234
    assert abs(int(np.median(out[out.size // 2 :])) - 1000) < 50
