"""Network impairment of a relayed path: loss, delay and jitter per datagram (pure).

There is no ``tc netem`` where pexbot's tests run, so the emulator's :mod:`.path_relay` plays
its part. :class:`Impairment` is what is asked for (``loss=5%,delay=200ms,jitter=50ms``, the
``--impair`` syntax); :meth:`Impairment.decide` is the whole model, applied to every datagram
the relay passes, in each direction, independently:

- lost with probability ``loss_percent / 100``;
- otherwise held ``delay + U(-jitter, +jitter)`` (never less than zero), netem's default
  (uniform) jitter. Each datagram is drawn on its own, so, as with netem, a jitter larger
  than the spacing of the packets reorders them.

The relay sits once on every path (a symmetric NAT per candidate), so a datagram is impaired
once per direction: the one-way delay is ``delay``, a round trip ``2 x delay``.

:func:`implied_interarrival_jitter_ms` says what a receiver should then report as RTP
interarrival jitter (RFC 3550 §6.4.1): the estimator run over a simulated stream, the way
aiortc runs it (in-order packets only, one update per new timestamp). For uniform jitter of
half-width *J* and no reordering the figure is the mean ``|Dᵢ - Dᵢ₋₁|`` of two independent
draws, ``2J/3``; reordering (packets closer than ``2J``) lowers it, which is why it is
simulated rather than taken from the formula.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

__all__ = ["Impairment", "ImpairmentError", "implied_interarrival_jitter_ms", "rtcp_feedback"]

_PART = re.compile(r"^\s*(loss|delay|jitter)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*(%|ms|s)?\s*$")


class ImpairmentError(ValueError):
    """An impairment that cannot be applied (a bad ``--impair`` text or value)."""


@dataclass(frozen=True)
class Impairment:
    """What the relay does to each datagram, in each direction."""

    loss_percent: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # half-width of the uniform spread around delay_ms

    def __post_init__(self) -> None:
        if not 0 <= self.loss_percent <= 100:
            raise ImpairmentError(f"loss must be within 0..100 %, not {self.loss_percent:g}")
        if self.delay_ms < 0 or self.jitter_ms < 0:
            raise ImpairmentError("delay and jitter must not be negative")
        if self.delay_ms > 10_000 or self.jitter_ms > 10_000:
            raise ImpairmentError("delay and jitter are limited to 10 s")

    @classmethod
    def parse(cls, text: str) -> Impairment:
        """``"loss=5%,delay=200ms,jitter=50ms"`` (any subset, any order; ``s`` or ``ms``)."""
        values: dict[str, float] = {}
        for part in text.split(","):
            if not part.strip():
                continue
            match = _PART.match(part)
            if match is None:
                raise ImpairmentError(
                    f"cannot read {part.strip()!r}: expected loss=N%, delay=Nms or jitter=Nms"
                )
            name, number, unit = match.group(1), float(match.group(2)), match.group(3)
            if name in values:
                raise ImpairmentError(f"{name} is given twice in {text!r}")
            if name == "loss":
                if unit not in (None, "%"):
                    raise ImpairmentError(f"loss is a percentage, not {part.strip()!r}")
            elif unit == "%":
                raise ImpairmentError(f"{name} is a time, not {part.strip()!r}")
            elif unit == "s":
                number *= 1000.0
            values[name] = number
        return cls(
            loss_percent=values.get("loss", 0.0),
            delay_ms=values.get("delay", 0.0),
            jitter_ms=values.get("jitter", 0.0),
        )

    @property
    def active(self) -> bool:
        return bool(self.loss_percent or self.delay_ms or self.jitter_ms)

    def decide(self, rng: random.Random) -> float | None:
        """Seconds to hold one datagram, or None: it is lost."""
        if self.loss_percent and rng.random() * 100 < self.loss_percent:
            return None
        if not (self.delay_ms or self.jitter_ms):
            return 0.0
        spread = rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.delay_ms + spread) / 1000.0

    def describe(self) -> str:
        return f"loss={self.loss_percent:g}%,delay={self.delay_ms:g}ms,jitter={self.jitter_ms:g}ms"


def implied_interarrival_jitter_ms(
    impairment: Impairment,
    *,
    packet_interval_ms: float,
    packets: int = 20_000,
    seed: int = 0,
    hops: int = 1,
) -> float:
    """The RFC 3550 interarrival jitter a receiver reports for a stream of one packet per
    ``packet_interval_ms`` (each its own timestamp, like Opus at 20 ms) sent through
    ``impairment``: the mean of the estimator over a long simulated stream.

    Run as aiortc runs it: packets in arrival order, only those newer than any seen before
    update it (a reordered, late packet does not), ``J += (|D| - J) / 16``.

    ``hops=2``: the stream crossed the impairment twice with its timing kept (a node that
    sends each packet as it arrives, like the emulator's test call looping audio back), so
    each packet's transit is the sum of two draws."""
    rng = random.Random(seed)
    arrivals: list[tuple[float, int]] = []
    for seq in range(packets):
        draws = [impairment.decide(rng) for _ in range(hops)]
        if all(d is not None for d in draws):
            held = sum(d for d in draws if d is not None)
            arrivals.append((seq * packet_interval_ms + held * 1000.0, seq))
    arrivals.sort()
    jitter = 0.0
    total, count = 0.0, 0
    last: tuple[float, int] | None = None
    for arrival, seq in arrivals:
        if last is not None and seq <= last[1]:
            continue
        if last is not None:
            transit_change = (arrival - last[0]) - (seq - last[1]) * packet_interval_ms
            jitter += (abs(transit_change) - jitter) / 16.0
            if seq > packets // 10:  # past the estimator's warm-up
                total += jitter
                count += 1
        last = (arrival, seq)
    return total / count if count else 0.0


_RTPFB, _PSFB = 205, 206  # RFC 4585 §6.1
_NACK_FMT, _PLI_FMT = 1, 1


def rtcp_feedback(datagram: bytes) -> str | None:
    """``"nack"`` or ``"pli"`` when the datagram is an RTCP message of that kind, else None.

    SRTCP leaves the first RTCP header in the clear (RFC 3711 §3.4), and aiortc sends each
    NACK and PLI as a packet of its own, so a path can count the repairs asked across it
    without any key. RTP and RTCP share the port (RFC 5761): RTCP types are 192..223."""
    if len(datagram) < 12 or datagram[0] >> 6 != 2:
        return None
    fmt, kind = datagram[0] & 0x1F, datagram[1]
    if kind == _RTPFB and fmt == _NACK_FMT:
        return "nack"
    if kind == _PSFB and fmt == _PLI_FMT:
        return "pli"
    return None
