"""What the session does with each event from the node, in arrival order, on the event loop.

Split from :mod:`pexbot.session` because it is a concept of its own: the session's lifetime
(join, tasks, close) does not care what an event means, and the meaning of events does not care
how the stream is kept open. :class:`EventIntake` is the event-stream reader's sink; the
session owns it and hands it what the events act on.

Every event is applied to ``state`` (a ``ConferenceState``) before it is published. Roster
events are published as what they did to the roster: a re-sync after a reconnect yields
``ParticipantCreated`` / ``ParticipantUpdated`` / ``ParticipantDeleted`` only for real changes,
so consumers see no duplicates and miss no one who came or went while the stream was down. The
first ``SyncEnd`` sets :attr:`EventIntake.synced` (``Session.open`` waits for it).

Then the event goes to the routes, in order (the media call slot, the presentation
controller), and a few change the session itself: our own roster entry sets our role
(``HOST`` for a chair), ``refresh_token`` triggers one immediate token refresh and
``disconnect`` asks the session to end with the node's reason. ``refer`` and
``breakout_refer`` are only published: moving is the application's decision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from pexbot import wire
from pexbot.events import (
    Disconnected,
    Event,
    ParticipantCreated,
    ParticipantDeleted,
    ParticipantUpdated,
    RefreshTokenRequested,
    StreamConnected,
    StreamLost,
    SyncEnd,
    parse_event,
)
from pexbot.events.dispatch import EventDispatcher
from pexbot.events.ids import StreamStats
from pexbot.events.sse import SseEvent
from pexbot.events.state import ConferenceState, RosterDiff
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.token import TokenKeeper

# Logged under the session's name, as before the split: that is what log filters select.
log = logging.getLogger("pexbot.session")

_ROSTER_EVENTS = (ParticipantCreated, ParticipantUpdated, ParticipantDeleted, SyncEnd)


class EventIntake:
    """Applies, publishes and routes the session's events; see the module docstring."""

    def __init__(
        self,
        state: ConferenceState,
        dispatcher: EventDispatcher,
        *,
        routes: Sequence[Callable[[Event], None]],
        transport: ApiTransport,
        me: Callable[[], str | None],
        keeper: Callable[[], TokenKeeper | None],
        end: Callable[[str], None],
    ) -> None:
        self._state = state
        self._dispatcher = dispatcher
        self._routes = tuple(routes)
        self._transport = transport
        self._me = me
        self._keeper = keeper
        self._end = end
        #: set by the first roster sync (``SyncEnd``)
        self.synced = asyncio.Event()
        #: the event stream's counters, kept across readers (drops, re-syncs, duplicates...)
        self.stats = StreamStats()

    def on_connected(self, attempt: int) -> None:
        log.info("event stream connected (#%d)", attempt)
        self._dispatcher.publish(StreamConnected(attempt))

    def on_lost(self, reason: str) -> None:
        event = StreamLost(reason)
        self._state.apply(event)
        self._dispatcher.publish(event)

    def on_sse(self, sse: SseEvent) -> None:
        event = parse_event(sse)
        diff = self._state.apply(event)
        if isinstance(event, _ROSTER_EVENTS) and diff.breakout_uuid is None:
            self._publish_diff(diff)
            if isinstance(event, SyncEnd):
                self._dispatcher.publish(event)
                self.synced.set()
        else:
            self._dispatcher.publish(event)
        for route in self._routes:
            route(event)
        if isinstance(event, ParticipantCreated | ParticipantUpdated):
            self._track_own_role(event.participant)
        elif isinstance(event, RefreshTokenRequested):
            keeper = self._keeper()
            if keeper is not None:
                keeper.request_refresh()
        elif isinstance(event, Disconnected):
            self._end(event.reason or "disconnected by the node")

    def _publish_diff(self, diff: RosterDiff) -> None:
        for p in diff.created:
            self._dispatcher.publish(ParticipantCreated(p))
        for p in diff.updated:
            self._dispatcher.publish(ParticipantUpdated(p))
        for p in diff.deleted:
            self._dispatcher.publish(ParticipantDeleted(p.uuid))

    def _track_own_role(self, participant: wire.Participant) -> None:
        if participant.uuid == self._me():
            self._transport.role = "HOST" if participant.role == "chair" else "GUEST"
