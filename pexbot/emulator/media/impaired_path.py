"""The path relay in front of the emulator's own media ports: an impaired transcoded path.

``Emulator(media_impairment=Impairment(...))`` (``pexbot emulator --impair ...``) wraps its
media backend in :class:`ImpairedPathBackend`. Every candidate of both ends of every call is
rewritten while it is brokered, exactly as :mod:`.path_relay` does for direct media: the
caller's (offer SDP, trickled ``new_candidate``) before the backend sees them, the node's (the
answer SDP) before the caller does. Each end then knows the other only by relay ports, so every
datagram (ICE checks, DTLS, RTP, RTCP) crosses the relay once each way, and the impairment
applies once per direction: a one-way delay of ``delay``, a round trip of ``2 x delay``.

Each call is a scope of its own (its uuid): ``backend.relay.set_path(call_uuid,
blocked=True)`` cuts one transcoded call's path (:meth:`ImpairedPathBackend.calls_of` finds a
participant's calls), and the scope outlives the peer connections of a restart. With
``Impairment()`` (nothing impaired) it is a plain relay: the baseline of a measurement through
the same sockets.

Whatever else the wrapped backend offers (composition, policy, in-process sources, inspection)
is reached through attribute lookup, so the node sees the same capabilities.
"""

from __future__ import annotations

import logging
from typing import Any

from .backend import CallContext, MediaBackend
from .impairment import Impairment
from .path_relay import PathRelay

log = logging.getLogger(__name__)

__all__ = ["ImpairedPathBackend"]


class ImpairedPathBackend:
    """A :class:`~.backend.MediaBackend` whose media path goes through a :class:`PathRelay`."""

    def __init__(
        self, inner: MediaBackend, impairment: Impairment, *, relay: PathRelay | None = None
    ) -> None:
        self.inner = inner
        self.impairment = impairment
        self.relay = relay or PathRelay(impairment=impairment)
        self._scopes: dict[str, str] = {}  # call uuid -> relay scope (the call uuid)
        self._calls: dict[str, CallContext] = {}
        self._seen: set[str] = set()  # every scope used (their counters stay)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def calls_of(self, participant_uuid: str) -> list[str]:
        """The open calls (relay scopes) of a participant."""
        return [uuid for uuid, c in self._calls.items() if c.participant_uuid == participant_uuid]

    def totals(self) -> dict[str, int]:
        """The counters of every scope so far, summed (see ``PathCounters``)."""
        out: dict[str, int] = {}
        for scope in self._seen:
            for name, value in vars(self.relay.state(scope).counters).items():
                out[name] = out.get(name, 0) + value
        return out

    # --- MediaBackend ----------------------------------------------------------------------

    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        scope = call.call_uuid
        self._scopes[call.call_uuid] = scope
        self._calls[call.call_uuid] = call
        self._seen.add(scope)
        offer = self.relay.rewrite_sdp(scope, _caller(call.call_uuid), offer_sdp)
        answer = await self.inner.open_call(call, offer)
        return self.relay.rewrite_sdp(scope, _node(call.call_uuid), answer)

    async def add_remote_candidate(self, call_uuid: str, candidate: str, mid: str | None) -> None:
        scope = self._scopes.get(call_uuid)
        if scope is not None and candidate.strip():
            rewritten = self.relay.rewrite_candidate(scope, _caller(call_uuid), candidate)
            if rewritten is None:
                return  # not relayable (TCP, IPv6, mDNS): it would bypass the relay
            candidate = rewritten
        await self.inner.add_remote_candidate(call_uuid, candidate, mid)

    async def ack(self, call_uuid: str) -> None:
        await self.inner.ack(call_uuid)

    async def update_call(self, call_uuid: str, offer_sdp: str) -> str:
        scope = self._scopes.get(call_uuid)
        if scope is None:
            return await self.inner.update_call(call_uuid, offer_sdp)
        offer = self.relay.rewrite_sdp(scope, _caller(call_uuid), offer_sdp)
        answer = await self.inner.update_call(call_uuid, offer)
        return self.relay.rewrite_sdp(scope, _node(call_uuid), answer)

    async def close_call(self, call_uuid: str) -> None:
        try:
            await self.inner.close_call(call_uuid)
        finally:
            scope = self._scopes.pop(call_uuid, None)
            self._calls.pop(call_uuid, None)
            if scope is not None:
                self.relay.release(scope, _caller(call_uuid))
                self.relay.release(scope, _node(call_uuid))

    async def layout_changed(self, conference_id: str, layout: str) -> None:
        await self.inner.layout_changed(conference_id, layout)

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.relay.close()
            self._scopes.clear()
            self._calls.clear()


def _caller(call_uuid: str) -> str:
    return f"{call_uuid}/caller"


def _node(call_uuid: str) -> str:
    return f"{call_uuid}/node"
