"""Capped exponential backoff with jitter (pure; the caller sleeps).

The defaults match the official client's event-source backoff: 100 ms, 200 ms, 400 ms ... each
±20 %, capped at 30 s. Jitter keeps many bots that lost the same node from reconnecting in
lock-step. The rng is injectable so tests and simulations are reproducible.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays for consecutive failures: ``initial * factor**n``, capped, then jittered.

    The delay after a failure is never 0 (``initial > 0`` and ``jitter < 1``) and never above
    ``maximum``. :meth:`reset` after a success starts again from ``initial``.
    """

    def __init__(
        self,
        *,
        initial: float = 0.1,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not initial > 0:
            raise ValueError(f"initial delay must be > 0 (got {initial})")
        if maximum < initial:
            raise ValueError(f"maximum delay {maximum} is below the initial delay {initial}")
        if factor < 1:
            raise ValueError(f"factor must be >= 1 (got {factor})")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1) (got {jitter})")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        # A private Random: the module-level one is shared process state.
        self._rng = rng if rng is not None else random.Random()
        self._base = initial
        self._failures = 0

    @property
    def failures(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._failures

    def next_delay(self) -> float:
        """The delay to wait before the next attempt; advances the schedule."""
        base = self._base
        self._failures += 1
        # Grow the base only until it reaches the cap, so factor**n never overflows.
        self._base = min(self.maximum, base * self.factor)
        spread = self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return min(self.maximum, base * (1.0 + spread))

    def peek_base(self) -> float:
        """The un-jittered delay the next call to :meth:`next_delay` is centred on."""
        return self._base

    def reset(self) -> None:
        """Back to ``initial`` after a success."""
        self._base = self.initial
        self._failures = 0

    def __repr__(self) -> str:
        return (
            f"Backoff(initial={self.initial}, maximum={self.maximum}, factor={self.factor}, "
            f"jitter={self.jitter}, failures={self._failures})"
        )
