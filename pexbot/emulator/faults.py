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
``/emulator/faults/clear``         forget pending fail/delay rules, leave maintenance
=================================  =====================================================

Rules apply to ``/api/client/v2/...`` requests only, in the order they were added; each
matching request uses up one count of the first rule it matches.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def clear(self) -> None:
        self._rules.clear()
        self._node.maintenance = False
