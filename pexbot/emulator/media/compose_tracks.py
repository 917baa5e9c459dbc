"""The tracks a compositor hands to each participant's outputs, and audio input normalising.

Both tracks are paced by the clock, not by their inputs: :class:`ComposedVideoTrack` asks for
a fresh picture every ``1/fps`` (the painting itself runs in the compositor's worker thread),
:class:`MixedAudioTrack` takes one 20 ms period of the mix when the period has ended (like a
microphone). Both skip ahead instead of bursting when they fall far behind. They are sources of
the call's long-lived :mod:`pexbot.rtc.tracks` outputs, which restamp and gate what they send.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Awaitable, Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

from .audio_mixer import CHANNELS, I16, PERIOD_SAMPLES, RATE, AudioMixer

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, RATE)
#: further behind schedule than this: skip ahead
MAX_BEHIND = 0.5
Clock = Callable[[], float]


class ComposedVideoTrack(MediaStreamTrack):
    """Frame ``k`` is rendered at ``start + k / fps``."""

    kind = "video"

    def __init__(
        self,
        render: Callable[[], Awaitable[VideoFrame]],
        fps: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__()
        self._render = render
        self._fps = fps
        self._clock = clock
        self._start: float | None = None
        self._index = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._index / self._fps
        if now - due > MAX_BEHIND:
            self._index = int((now - self._start) * self._fps)
            due = self._start + self._index / self._fps
        if due > now:
            await asyncio.sleep(due - now)
        frame = await self._render()
        if self.readyState != "live":
            raise MediaStreamError
        frame.pts = round(self._index * 90000 / self._fps)
        frame.time_base = VIDEO_TIME_BASE
        self._index += 1
        return frame


class MixedAudioTrack(MediaStreamTrack):
    """What the listener ``key`` hears: the mixer's periods, excluding its own input."""

    kind = "audio"

    def __init__(self, mixer: AudioMixer, key: str, *, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self._mixer = mixer
        self._key = key
        self._clock = clock
        self._next: int | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        mixer = self._mixer
        now = self._clock()
        if self._next is None or now - mixer.period_end(self._next) > MAX_BEHIND:
            self._next = mixer.period_at(now)
        end = mixer.period_end(self._next)
        if end > now:
            await asyncio.sleep(end - now)
        if self.readyState != "live":
            raise MediaStreamError
        pcm = mixer.mix(self._next, exclude=self._key)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self._next * PERIOD_SAMPLES
        frame.time_base = AUDIO_TIME_BASE
        self._next += 1
        return frame


class AudioNormaliser:
    """Decoded audio of any format as interleaved s16 stereo at 48 kHz (the mixer's format)."""

    def __init__(self) -> None:
        self._resampler: AudioResampler | None = None
        self._source: tuple[str, str, int] | None = None

    def __call__(self, frame: AudioFrame) -> I16:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key == ("s16", "stereo", RATE):
            return np.asarray(frame.to_ndarray(), np.int16).reshape(-1)
        if key == ("s16", "mono", RATE):
            return np.repeat(np.asarray(frame.to_ndarray(), np.int16).reshape(-1), CHANNELS)
        mono = frame.layout.name == "mono"
        if self._resampler is None or self._source != key:
            # mono stays mono (copied to both channels below): no pan-law attenuation
            layout = "mono" if mono else "stereo"
            self._resampler = AudioResampler(format="s16", layout=layout, rate=RATE)
            self._source = key
        # A copy without pts (the resampler would check continuity against the sender's
        # clock); the frame itself is shared with other consumers.
        copy = AudioFrame.from_ndarray(
            frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
        )
        copy.sample_rate = frame.sample_rate
        parts = [
            np.asarray(f.to_ndarray(), np.int16).reshape(-1) for f in self._resampler.resample(copy)
        ]
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        return np.repeat(pcm, CHANNELS) if mono else pcm
