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
"""

from __future__ import annotations

from dataclasses import dataclass

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


class Faults:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._rules: list[FaultRule] = []

    # -- event streams and tokens -------------------------------------------------------------

    def drop_streams(self, participant_uuid: str | None = None) -> int:
        """End the event streams of one participant (or all) now; how many were open."""
        bus = self._node.bus
        if participant_uuid is None:
            return bus.close_all("dropped by fault injection")
        return bus.close_participant(participant_uuid, "dropped by fault injection")

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

    def take(self, path: str) -> FaultRule | None:
        """The rule this request triggers (one count used up), if any."""
        for rule in self._rules:
            if rule.matches(path):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
                return rule
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
        self._node.maintenance = False
        self._node.direct_media.relay.clear_faults()
