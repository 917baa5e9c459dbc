"""Slowing PIN guessing: wrong PINs from one client for one conference, remembered for a
window, and a delay before each further attempt once a few were wrong (pure, fed ``now``).

The rate, with the defaults: three wrong PINs within 60 s are answered at once; from then on
every attempt with a PIN from that client (a right one too, so a guess that hits is no quicker
to learn) waits 1 s, then 2, 4, 8, 16 s, and 16 s each after that: about four guesses a minute.
A right PIN clears the record; so does a minute without a wrong one. Keyed by client address
and conference, so one noisy client slows only itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Key = tuple[str, str]  # (client address, conference alias as asked)


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)


class PinGuard:
    """Remembers wrong PINs and says how long the next attempt waits."""

    def __init__(
        self,
        *,
        free: int = 3,
        window: float = 60.0,
        first_delay: float = 1.0,
        max_delay: float = 16.0,
    ) -> None:
        self.free = free
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._records: dict[Key, _Record] = {}

    def delay(self, client: str, alias: str, now: float) -> float:
        """Seconds the next attempt from ``client`` for ``alias`` waits before it is judged."""
        recent = self._recent((client, alias.lower()), now)
        if recent == 0 or recent < self.free:
            return 0.0
        # The attempt right after the last free failure waits first_delay; each failure more
        # doubles it, up to max_delay.
        return min(self.first_delay * 2.0 ** (recent - max(self.free, 1)), self.max_delay)

    def failed(self, client: str, alias: str, now: float) -> None:
        key = (client, alias.lower())
        self._recent(key, now)
        self._records.setdefault(key, _Record()).failures.append(now)

    def succeeded(self, client: str, alias: str) -> None:
        self._records.pop((client, alias.lower()), None)

    def _recent(self, key: Key, now: float) -> int:
        record = self._records.get(key)
        if record is None:
            return 0
        record.failures = [t for t in record.failures if now - t < self.window]
        if not record.failures:
            del self._records[key]  # bounded: only clients that failed within the window
            return 0
        return len(record.failures)

    def __len__(self) -> int:
        return len(self._records)
