"""Fault injection for tests: ``emu.faults`` in process, ``/emulator/faults/*`` over HTTP.

HTTP (POST, JSON body; every field optional):

=================================  =====================================================
``/emulator/faults/drop_streams``  ``{"participant_uuid"}`` → end event streams now
``/emulator/faults/fail``          ``{"count": 1, "status": 500, "path_contains",
                                   "delay": 0, "result"}`` → the next ``count`` matching
                                   requests wait ``delay`` s, then answer ``status`` (or
                                   are served normally when ``status`` is null)
``/emulator/faults/expire_tokens`` ``{"participant_uuid"}`` → tokens expire now; the
                                   participant is removed (``disconnect`` event)
``/emulator/faults/maintenance``   ``{"enabled": true}`` → status and request_token 503
``/emulator/faults/path``          ``{"target", "blocked", "loss_percent"}`` → the
                                   direct-media path of a conference (alias, id or a
                                   participant uuid; needs ``direct_media_relay: true``):
                                   blocked drops every datagram both ways; answers the
                                   state and packet counters (GET: ``?target=``)
``/emulator/faults/clear``         forget pending fail/delay rules, leave maintenance,
                                   unblock every path
=================================  =====================================================

Rules apply to ``/api/client/v2/...`` requests only, in the order they were added; each
matching request uses up one count of the first rule it matches.

Random faults (in process: ``emu.faults.random(rate=0.1, kinds=("5xx", "timeout"), seed=1)``)
hit a fraction of every request that no rule matched, for as long as they are on (until
``random_off()`` or ``clear()``): ``"5xx"`` answers one of 500/502/503/504 at once without
handling the request; ``"timeout"`` holds the request ``hold`` seconds (longer than the
client's timeout) and then handles it, so the client gives up on a request the node did carry
out, the case a retry must be safe for. ``hold`` keeps every held request bounded.
``random_counts`` says how many of each were injected, out of how many requests seen.
"""

from __future__ import annotations

import random as random_module
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pexbot.emulator.media.path_relay import PathState

from .model import Conference
from .node import Node


@dataclass
class FaultRule:
    remaining: int
    status: int | None
    delay: float
    path_contains: str | None
    result: str

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path_contains is None or self.path_contains in path)


RANDOM_KINDS = ("5xx", "timeout")
RANDOM_STATUSES = (500, 502, 503, 504)


@dataclass
class RandomFaults:
    """A fraction ``rate`` of requests fail as one of ``kinds``; reproducible from ``seed``."""

    rate: float
    kinds: tuple[str, ...]
    hold: float
    path_contains: str | None
    rng: random_module.Random
    #: requests seen, and faults injected by kind
    counts: Counter[str] = field(default_factory=Counter)

    def draw(self, path: str) -> FaultRule | None:
        if self.path_contains is not None and self.path_contains not in path:
            return None
        self.counts["requests"] += 1
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        self.counts[kind] += 1
        if kind == "timeout":
            return FaultRule(1, None, self.hold, None, "")
        status = self.rng.choice(RANDOM_STATUSES)
        return FaultRule(1, status, 0.0, None, f"Injected random fault ({status})")


class Faults:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._rules: list[FaultRule] = []
        self._random: RandomFaults | None = None

    # -- event streams and tokens -------------------------------------------------------------

    def drop_streams(self, participant_uuid: str | None = None, *, forget: bool = False) -> int:
        """End the event streams of one participant (or all) now; how many were open.
        ``forget``: drop their replay logs too, so a reconnect must re-sync."""
        bus = self._node.bus
        if forget:
            bus.forget_streams(participant_uuid)
        if participant_uuid is None:
            return bus.close_all("dropped by fault injection")
        return bus.close_participant(participant_uuid, "dropped by fault injection")

    def lose_events(self, participant_uuid: str, count: int = 1) -> None:
        """The next ``count`` events of the participant's stream are numbered but never sent
        nor kept for replay: a gap in its event ids."""
        self._node.bus.lose_next(participant_uuid, count)

    def replay_overlap(self, count: int) -> None:
        """The next stream resumed from ``Last-Event-ID`` also repeats the ``count`` events
        before that id: duplicates the client must drop."""
        if count < 0:
            raise ValueError("count must be >= 0")
        self._node.bus.replay_overlap = count

    def expire_tokens(self, participant_uuid: str | None = None) -> None:
        self._node.expire_tokens(participant_uuid)

    # -- maintenance --------------------------------------------------------------------------

    @property
    def maintenance(self) -> bool:
        return self._node.maintenance

    @maintenance.setter
    def maintenance(self, enabled: bool) -> None:
        self._node.maintenance = enabled

    def set_maintenance(self, enabled: bool = True) -> None:
        self._node.maintenance = enabled

    # -- failing and delaying requests --------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        path_contains: str | None = None,
        delay: float = 0.0,
        result: str = "Injected fault",
    ) -> None:
        self._add(FaultRule(count, status, delay, path_contains, result))

    def delay_next(self, count: int = 1, *, delay: float, path_contains: str | None = None) -> None:
        self._add(FaultRule(count, None, delay, path_contains, ""))

    def _add(self, rule: FaultRule) -> None:
        if rule.remaining < 1:
            raise ValueError("a fault rule needs count >= 1")
        if rule.status is not None and not 100 <= rule.status <= 599:
            raise ValueError(f"not an HTTP status: {rule.status}")
        if rule.delay < 0:
            raise ValueError("delay must be >= 0")
        self._rules.append(rule)

    def random(
        self,
        rate: float = 0.1,
        *,
        kinds: Iterable[str] = RANDOM_KINDS,
        seed: int | None = None,
        hold: float = 11.0,
        path_contains: str | None = None,
    ) -> None:
        """From now on fail ``rate`` of the requests (see the module docstring); replaces an
        earlier random mode. ``hold``: how long a ``"timeout"`` holds its request (s)."""
        chosen = tuple(kinds)
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1] (got {rate})")
        unknown = set(chosen) - set(RANDOM_KINDS)
        if not chosen or unknown:
            raise ValueError(f"kinds must be some of {RANDOM_KINDS} (got {chosen})")
        if not 0 <= hold <= 120:
            raise ValueError(f"hold must be in [0, 120] s (got {hold})")
        rng = random_module.Random(seed)
        self._random = RandomFaults(rate, chosen, hold, path_contains, rng)

    def random_off(self) -> None:
        self._random = None

    @property
    def random_counts(self) -> dict[str, int]:
        """Requests seen and faults injected by kind since ``random()`` (empty when off)."""
        return dict(self._random.counts) if self._random is not None else {}

    def take(self, path: str) -> FaultRule | None:
        """The rule this request triggers (one count used up), if any."""
        for rule in self._rules:
            if rule.matches(path):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
                return rule
        if self._random is not None:
            return self._random.draw(path)
        return None

    @property
    def pending(self) -> int:
        return sum(rule.remaining for rule in self._rules)

    # -- the direct-media path (see .path_relay) ------------------------------------------------

    def block_path(self, target: str, blocked: bool = True) -> PathState:
        """Drop (or pass again) every datagram between the two peers of a direct-media
        conference; ``target``: its alias or id, or one of its participants' uuid."""
        return self.set_path(target, blocked=blocked)

    def set_path(
        self, target: str, *, blocked: bool | None = None, loss_percent: float | None = None
    ) -> PathState:
        conference = self._relayed_conference(target)
        return self._node.direct_media.relay.set_path(
            conference.id, blocked=blocked, loss_percent=loss_percent
        )

    def path(self, target: str) -> PathState:
        """The path's fault settings and packet counters (forwarded, dropped)."""
        return self._node.direct_media.relay.state(self._relayed_conference(target).id)

    def _relayed_conference(self, target: str) -> Conference:
        node = self._node
        conference = node.conference_by_alias(target) or node.conferences.get(target)
        if conference is None and target in node.participants:
            conference = node.conference_of(node.participants[target])
        if conference is None:
            raise ValueError(f"no conference or participant {target!r}")
        if not conference.config.direct_media_relay:
            raise ValueError(
                f"conference {conference.alias!r} has no direct-media path relay "
                "(configure it with direct_media: true, direct_media_relay: true)"
            )
        return conference

    def clear(self) -> None:
        self._rules.clear()
        self._random = None
        self._node.maintenance = False
        self._node.direct_media.relay.clear_faults()
