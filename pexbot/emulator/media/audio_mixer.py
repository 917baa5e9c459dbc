"""The audio mix of a transcoded conference: everybody hears the sum of the others.

Pure (numpy, no I/O, time passed in). Every input gets a small jitter buffer of interleaved
s16 stereo samples at 48 kHz; a shared clock cuts the conference into 20 ms *periods*, and the
first listener to ask for a period takes one period of samples from every input at once, so
all listeners hear the same instant. Each listener's mix is the sum of all inputs minus its own,
clipped to 16 bits; the period's total is computed once.

Buffers are bounded: an input that has fallen more than :data:`MAX_BUFFER_PERIODS` behind loses
its oldest samples (latency stays bounded whatever the sender's clock does), and one that runs
dry is silent until :data:`PREBUFFER_PERIODS` have arrived again (so network jitter costs one
short gap, not a gap per packet).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

RATE = 48000
CHANNELS = 2
PERIOD_SECONDS = 0.020
PERIOD_SAMPLES = int(RATE * PERIOD_SECONDS)  # per channel
PERIOD_VALUES = PERIOD_SAMPLES * CHANNELS  # interleaved
PREBUFFER_PERIODS = 2
MAX_BUFFER_PERIODS = 10
#: periods kept for listeners that ask a little late
HISTORY_PERIODS = 8

I16 = npt.NDArray[np.int16]
I32 = npt.NDArray[np.int32]


class JitterBuffer:
    """Interleaved stereo samples of one input, taken a period at a time."""

    def __init__(self) -> None:
        self._chunks: collections.deque[I16] = collections.deque()
        self._values = 0
        self._buffering = True
        self.underruns = 0
        self.dropped_values = 0

    @property
    def buffered_periods(self) -> float:
        return self._values / PERIOD_VALUES

    def push(self, pcm: I16) -> None:
        if pcm.size == 0:
            return
        self._chunks.append(pcm)
        self._values += pcm.size
        excess = self._values - MAX_BUFFER_PERIODS * PERIOD_VALUES
        if excess > 0:
            self._discard(excess)

    def take(self) -> I32 | None:
        """One period, or None (silence) while buffering."""
        if self._buffering:
            if self._values < PREBUFFER_PERIODS * PERIOD_VALUES:
                return None
            self._buffering = False
        out = np.zeros(PERIOD_VALUES, np.int32)
        filled = 0
        while filled < PERIOD_VALUES and self._chunks:
            chunk = self._chunks[0]
            n = min(chunk.size, PERIOD_VALUES - filled)
            out[filled : filled + n] = chunk[:n]
            filled += n
            if n == chunk.size:
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
        self._values -= filled
        if filled < PERIOD_VALUES:
            self.underruns += 1
            self._buffering = True
        return out

    def _discard(self, values: int) -> None:
        self.dropped_values += values
        self._values -= values
        while values > 0:
            chunk = self._chunks[0]
            if chunk.size <= values:
                values -= chunk.size
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[values:]
                values = 0


@dataclass
class MixPeriod:
    """One period of the conference: each input's samples and their sum."""

    index: int
    total: I32
    parts: dict[str, I32] = field(default_factory=dict)


def clip16(values: I32) -> I16:
    return np.clip(values, -32768, 32767).astype(np.int16)


def silence() -> I16:
    return np.zeros(PERIOD_VALUES, np.int16)


class AudioMixer:
    """Inputs by key (a participant's call); ``mix(k, exclude=key)`` is what ``key`` hears."""

    def __init__(self, epoch: float) -> None:
        #: the clock time at which period 0 starts
        self.epoch = epoch
        self._inputs: dict[str, JitterBuffer] = {}
        self._history: collections.deque[MixPeriod] = collections.deque(maxlen=HISTORY_PERIODS)
        self._next = 0  # the first period not taken yet

    # -- clock --------------------------------------------------------------------------------

    def period_at(self, now: float) -> int:
        return max(0, int((now - self.epoch) / PERIOD_SECONDS))

    def period_end(self, index: int) -> float:
        return self.epoch + (index + 1) * PERIOD_SECONDS

    # -- inputs -------------------------------------------------------------------------------

    def push(self, key: str, pcm: I16) -> None:
        """Interleaved s16 stereo 48 kHz samples from ``key``."""
        buffer = self._inputs.get(key)
        if buffer is None:
            buffer = self._inputs[key] = JitterBuffer()
        buffer.push(pcm)

    def remove(self, key: str) -> None:
        self._inputs.pop(key, None)

    def buffer(self, key: str) -> JitterBuffer | None:
        return self._inputs.get(key)

    @property
    def keys(self) -> list[str]:
        return list(self._inputs)

    # -- output -------------------------------------------------------------------------------

    def mix(self, index: int, *, exclude: str | None = None) -> I16:
        """What a listener whose own input is ``exclude`` hears in period ``index``."""
        period = self._period(index)
        if period is None:
            return silence()
        own = period.parts.get(exclude) if exclude is not None else None
        return clip16(period.total - own if own is not None else period.total)

    def _period(self, index: int) -> MixPeriod | None:
        if index >= self._next:
            # Nobody listened for a while: skip what nobody will ask for (the buffers have
            # dropped those samples already) instead of taking periods one by one.
            self._next = max(self._next, index - HISTORY_PERIODS + 1)
            while self._next <= index:
                self._history.append(self._take(self._next))
                self._next += 1
        for period in self._history:
            if period.index == index:
                return period
        return None

    def _take(self, index: int) -> MixPeriod:
        total = np.zeros(PERIOD_VALUES, np.int32)
        period = MixPeriod(index, total)
        for key, buffer in self._inputs.items():
            part = buffer.take()
            if part is not None:
                period.parts[key] = part
                total += part
        return period
