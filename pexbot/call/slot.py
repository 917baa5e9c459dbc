"""The session's media call: at most one at a time, fed the events that concern it, ended in
the official client's order.

A :class:`CallSlot` holds the live :class:`~pexbot.call.MediaCall` of a session. While a call
is attached, a *router* task (spawned on the session, so the session owns it) applies the
events the session hands over, in arrival order:

- ``call_disconnected`` for the call's uuid: the node ended it; the call is closed (no REST)
  with the node's reason, which lands in ``call.end_reason``;
- ``new_candidate``: a candidate trickled by the far end (direct media) goes to the call;
- ``new_offer`` / ``update_sdp``: the far end's offers (direct media), answered by the call;
- ``peer_disconnect``: the direct-media far end left; the call waits for the next one.

One at a time and in order: a candidate that follows an offer is applied after the answer.
When the call ends by itself (its media could not be recovered), the router tells the node
(``calls/<uuid>/disconnect``) and closes it. Either way the slot is then free for another call.

Ending with the session (:meth:`CallSlot.close`): when the application leaves, the call is
disconnected over REST before the token is released, as Pexip's client does (§13 of
official-client-flow.md); when the node ended the session (``disconnect`` event, token lost)
the call is only closed, again like Pexip's client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from pexbot.errors import CallError
from pexbot.events import Event

from .media_call import MediaCall
from .signalling import CALL_EVENTS

log = logging.getLogger(__name__)

#: events waiting for the router; a node trickles a few dozen candidates at most
ROUTER_QUEUE = 256
Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


class CallSlot:
    """One media call at a time; see the module docstring."""

    def __init__(self, spawn: Spawn, *, disconnect_timeout: float = 3.0) -> None:
        self._spawn = spawn
        self._disconnect_timeout = disconnect_timeout
        self._call: MediaCall | None = None
        self._queue: asyncio.Queue[Event] | None = None
        self._router: asyncio.Task[None] | None = None
        #: events that did not fit the router's queue
        self.dropped_events = 0

    def __repr__(self) -> str:
        return f"CallSlot({self._call!r})"

    @property
    def call(self) -> MediaCall | None:
        """The call attached and not ended, if any."""
        call = self._call
        return call if call is not None and not call.ended.is_set() else None

    def attach(self, call: MediaCall) -> None:
        """Make ``call`` the session's call and start routing events to it.

        Raises CallError while another call is live (one call per session).
        """
        live = self.call
        if live is not None:
            raise CallError(
                f"this session already has a live media call ({live!r}); "
                "disconnect it before starting another"
            )
        queue: asyncio.Queue[Event] = asyncio.Queue(ROUTER_QUEUE)
        self._router = self._spawn(self._route(call, queue))
        self._call, self._queue = call, queue

    def detach(self, call: MediaCall) -> None:
        """Forget ``call`` (its set-up failed); its router ends with it."""
        if self._call is call:
            self._stop_router()
            self._call = self._queue = None

    def on_event(self, event: Event) -> None:
        """Hand the call what concerns it (called for every event, on the event loop)."""
        if not isinstance(event, CALL_EVENTS) or self._queue is None:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_events += 1
            log.warning("media call router behind: %s event dropped", event.name)

    async def close(self, reason: str, *, tell_node: bool) -> None:
        """End the call (if any) with ``reason``: ``calls/<uuid>/disconnect`` first when
        ``tell_node`` (bounded by the disconnect timeout), then the peer connection. Idempotent."""
        call, self._call, self._queue = self._call, None, None
        self._stop_router()
        if call is None:
            return
        if tell_node:
            try:
                async with asyncio.timeout(self._disconnect_timeout):
                    await call.disconnect(reason)
            except TimeoutError:
                log.warning("call disconnect took over %.1f s; closing", self._disconnect_timeout)
        await call.close(reason)

    def _stop_router(self) -> None:
        router, self._router = self._router, None
        if router is not None and router is not asyncio.current_task():
            router.cancel()

    async def _route(self, call: MediaCall, queue: asyncio.Queue[Event]) -> None:
        ended = asyncio.ensure_future(call.ended.wait())
        getter: asyncio.Future[Event] | None = None
        try:
            while not ended.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, ended}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break
                await self._apply(call, getter.result())
        finally:
            ended.cancel()
            if getter is not None:
                getter.cancel()
        if self._call is call:
            # The call ended by itself (media failed) or the node ended it: free the slot.
            self._call = self._queue = None
            self._router = None
        # Tell the node (unless it ended the call itself: then the call is closed already and
        # this does nothing), and release the peer connection.
        try:
            await call.disconnect(call.end_reason or "media call ended")
        except Exception as exc:
            log.warning("closing the ended call %s failed: %r", call.call_uuid, exc)

    async def _apply(self, call: MediaCall, event: Event) -> None:
        try:
            await call.handle_event(event)
        except Exception as exc:  # one bad event (a refused candidate...) must not stop routing
            log.warning("%s event not applied to the call: %r", event.name, exc)
