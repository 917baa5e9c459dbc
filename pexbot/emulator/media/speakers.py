"""Who is speaking, and the stage order that follows from it. Pure: no media, no clock.

:class:`VoiceActivity` turns one participant's decoded audio into speaking / not speaking:
the level of each 300 ms window (AES17 dBFS, so a full-scale sine reads 0), with hysteresis
(a window above ``on_dbfs`` starts speech; ``hang_windows`` windows in a row below
``off_dbfs`` end it), so a pause between words or a quiet syllable does not flap the stage.

:class:`StageOrder` keeps the stage: spotlighted participants first, in the order they were
spotlighted (spec: "the first one to be spotlighted has the main speaker position"), then
whoever is speaking (the one who started first keeps the main position while others chime
in), then those who spoke, most recent first, then those never heard, in join order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

WINDOW_SECONDS = 0.3


class VoiceActivity:
    """Speech detection over fixed windows of samples (counted, not timed)."""

    def __init__(
        self,
        *,
        rate: int = 48000,
        channels: int = 2,
        window: float = WINDOW_SECONDS,
        on_dbfs: float = -40.0,
        off_dbfs: float = -50.0,
        hang_windows: int = 2,
    ) -> None:
        if off_dbfs > on_dbfs:
            raise ValueError(f"off threshold {off_dbfs} dBFS is above on threshold {on_dbfs}")
        self.window_values = int(rate * window) * channels
        self.on_dbfs = on_dbfs
        self.off_dbfs = off_dbfs
        self.hang_windows = hang_windows
        self.speaking = False
        #: level of the last complete window
        self.level = -120.0
        self._sum_squares = 0.0
        self._values = 0
        self._quiet = 0

    def feed(self, pcm: npt.NDArray[np.int16]) -> bool | None:
        """Interleaved samples; the new state if it changed at a window end, else None."""
        changed: bool | None = None
        start = 0
        while start < pcm.size:
            n = min(pcm.size - start, self.window_values - self._values)
            part = pcm[start : start + n].astype(np.float64) / 32768.0
            self._sum_squares += float(np.dot(part, part))
            self._values += n
            start += n
            if self._values >= self.window_values:
                if self._window_done():
                    changed = self.speaking
        return changed

    def _window_done(self) -> bool:
        mean_square = self._sum_squares / self._values
        self._sum_squares, self._values = 0.0, 0
        self.level = max(-120.0, 10 * math.log10(2 * mean_square)) if mean_square > 0 else -120.0
        if self.level >= self.on_dbfs:
            self._quiet = 0
            if not self.speaking:
                self.speaking = True
                return True
        elif self.level < self.off_dbfs:
            self._quiet += 1
            if self.speaking and self._quiet >= self.hang_windows:
                self.speaking = False
                return True
        return False


class StageMember(Protocol):
    @property
    def uuid(self) -> str: ...
    @property
    def spotlight(self) -> float: ...
    @property
    def start_time(self) -> float: ...


M = TypeVar("M", bound=StageMember)


class StageOrder:
    """Voice history of one room's participants, and the stage order it gives."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._started: dict[str, int] = {}  # speaking now: when this burst started
        self._stopped: dict[str, int] = {}  # not speaking: when the last burst ended

    def speaking(self, uuid: str) -> bool:
        return uuid in self._started

    def voice(self, uuid: str, speaking: bool) -> bool:
        """Record a voice change; whether it was one."""
        if speaking == (uuid in self._started):
            return False
        if speaking:
            self._started[uuid] = next(self._seq)
            self._stopped.pop(uuid, None)
        else:
            del self._started[uuid]
            self._stopped[uuid] = next(self._seq)
        return True

    def forget(self, uuid: str) -> None:
        self._started.pop(uuid, None)
        self._stopped.pop(uuid, None)

    def order(self, members: Sequence[M]) -> list[M]:
        def key(m: M) -> tuple[bool, float, int, int, float]:
            if m.uuid in self._started:
                recency = (0, self._started[m.uuid])
            else:
                recency = (1, -self._stopped.get(m.uuid, 0))
            return (m.spotlight == 0, m.spotlight, *recency, m.start_time)

        return sorted(members, key=key)
