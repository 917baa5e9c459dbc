"""Typed conference events: one frozen dataclass per server-sent event, and the parser.

:func:`parse_event` turns an :class:`~pexbot.events.sse.SseEvent` into one of these and never
raises: an unknown name, bad JSON or data that fails validation all come back as
:class:`UnknownEvent` carrying the raw data (the last two with ``error`` set and a warning
logged). Nothing is dropped.

Validation is lenient where it can be: an *optional* field whose value does not fit the model
(a node newer than the model, say) falls back to its default with a warning, so a participant
with an unexpected ``protocol`` still reaches the roster. Only a missing or broken required
field turns the event into an :class:`UnknownEvent`.

Notes on particular events:

- ``message`` (API v14 name of ``message_received``, same data) parses to :class:`Message`, a
  subclass of :class:`MessageReceived`, so ``isinstance(e, MessageReceived)`` catches both.
  Beware that WHATWG also names events with no ``event:`` line ``message``; such events parse
  to :class:`Message` only if their data has the chat shape, otherwise :class:`UnknownEvent`.
- ``presentation_frame``: the frame id is the SSE ``id`` field (the official client reads it
  from the data, which is a bug).
- ``breakout_event`` wraps a whole event from the breakout room: its inner event is parsed too.
- ``splash_screen`` with no data or ``null`` means "clear the splash screen" (``data=None``).
- :class:`Refer` carries a one-time token: it is left out of ``repr``.

The session-level events (:class:`StreamConnected`, :class:`StreamLost`,
:class:`SessionStarted`, :class:`SessionEnded`) are made by the session, never by the parser.
"""

from __future__ import annotations

from .parse import parse_event, parse_payload
from .types import (
    BreakoutBegin,
    BreakoutEnd,
    BreakoutEvent,
    BreakoutRefer,
    CallDisconnected,
    CancelRefer,
    ConferenceUpdated,
    Disconnected,
    Event,
    EventBase,
    EventName,
    Fecc,
    LayoutChanged,
    LiveCaptions,
    Message,
    MessageReceived,
    NewCandidate,
    NewOffer,
    OnHold,
    ParticipantCreated,
    ParticipantDeleted,
    ParticipantUpdated,
    PeerDisconnected,
    PresentationEnded,
    PresentationFrame,
    PresentationStarted,
    PresentationStopped,
    Refer,
    RefreshTokenRequested,
    SessionEnded,
    SessionEndedEvent,
    SessionStarted,
    SplashScreen,
    StageChanged,
    StreamConnected,
    StreamLost,
    SyncBegin,
    SyncEnd,
    UnknownEvent,
    UpdateSdp,
    name_of,
)

__all__ = [
    "BreakoutBegin",
    "BreakoutEnd",
    "BreakoutEvent",
    "BreakoutRefer",
    "CallDisconnected",
    "CancelRefer",
    "ConferenceUpdated",
    "Disconnected",
    "Event",
    "EventBase",
    "EventName",
    "Fecc",
    "LayoutChanged",
    "LiveCaptions",
    "Message",
    "MessageReceived",
    "NewCandidate",
    "NewOffer",
    "OnHold",
    "ParticipantCreated",
    "ParticipantDeleted",
    "ParticipantUpdated",
    "PeerDisconnected",
    "PresentationEnded",
    "PresentationFrame",
    "PresentationStarted",
    "PresentationStopped",
    "Refer",
    "RefreshTokenRequested",
    "SessionEnded",
    "SessionEndedEvent",
    "SessionStarted",
    "SplashScreen",
    "StageChanged",
    "StreamConnected",
    "StreamLost",
    "SyncBegin",
    "SyncEnd",
    "UnknownEvent",
    "UpdateSdp",
    "name_of",
    "parse_event",
    "parse_payload",
]
