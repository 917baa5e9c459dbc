"""The event classes (see :mod:`pexbot.events` for the overview; import from there)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias

from pexbot import wire
from pexbot.wire.events import LayoutData, SplashScreenData, StageEntry


class EventName(StrEnum):
    """Event names: the 25 of the spec, v14's ``message``, the known extras, and the names of
    the session-level events (those never come off the wire)."""

    PRESENTATION_START = "presentation_start"
    PRESENTATION_STOP = "presentation_stop"
    PRESENTATION_FRAME = "presentation_frame"
    PARTICIPANT_CREATE = "participant_create"
    PARTICIPANT_UPDATE = "participant_update"
    PARTICIPANT_DELETE = "participant_delete"
    PARTICIPANT_SYNC_BEGIN = "participant_sync_begin"
    PARTICIPANT_SYNC_END = "participant_sync_end"
    CONFERENCE_UPDATE = "conference_update"
    LAYOUT = "layout"
    LIVE_CAPTIONS = "live_captions"
    MESSAGE_RECEIVED = "message_received"
    STAGE = "stage"
    CALL_DISCONNECTED = "call_disconnected"
    DISCONNECT = "disconnect"
    SPLASH_SCREEN = "splash_screen"
    NEW_OFFER = "new_offer"
    UPDATE_SDP = "update_sdp"
    NEW_CANDIDATE = "new_candidate"
    PEER_DISCONNECT = "peer_disconnect"
    REFER = "refer"
    BREAKOUT_BEGIN = "breakout_begin"
    BREAKOUT_EVENT = "breakout_event"
    BREAKOUT_END = "breakout_end"
    BREAKOUT_REFER = "breakout_refer"
    # v14 name of message_received
    MESSAGE = "message"
    # known extras the official client listens to
    REFRESH_TOKEN = "refresh_token"
    CANCEL_REFER = "cancel_refer"
    PRESENTATION_ENDED = "presentation_ended"
    ON_HOLD = "on_hold"
    FECC = "fecc"
    # not wire names: made by the session / for events the parser does not know
    SESSION_STARTED = "session_started"
    STREAM_CONNECTED = "stream_connected"
    STREAM_LOST = "stream_lost"
    SESSION_ENDED = "session_ended"
    UNKNOWN = "unknown"


SPEC_EVENT_NAMES: frozenset[EventName] = frozenset(
    list(EventName)[: list(EventName).index(EventName.BREAKOUT_REFER) + 1]
)
WIRE_EVENT_NAMES: frozenset[EventName] = frozenset(
    list(EventName)[: list(EventName).index(EventName.FECC) + 1]
)


@dataclass(frozen=True)
class EventBase:
    """Common base: every event class names its event in ``name``."""

    name: ClassVar[EventName]


# -- presentation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresentationStarted(EventBase):
    name: ClassVar[EventName] = EventName.PRESENTATION_START
    presenter_name: str = ""
    presenter_uri: str = ""
    presenter_uuid: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class PresentationStopped(EventBase):
    name: ClassVar[EventName] = EventName.PRESENTATION_STOP


@dataclass(frozen=True)
class PresentationFrame(EventBase):
    """``event_id`` goes in the ``id`` parameter of ``presentation.jpeg`` requests."""

    name: ClassVar[EventName] = EventName.PRESENTATION_FRAME
    event_id: str


@dataclass(frozen=True)
class PresentationEnded(EventBase):
    """Undocumented; the official client ignores it. Raw data kept."""

    name: ClassVar[EventName] = EventName.PRESENTATION_ENDED
    data: Any = None


# -- roster ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantCreated(EventBase):
    name: ClassVar[EventName] = EventName.PARTICIPANT_CREATE
    participant: wire.Participant


@dataclass(frozen=True)
class ParticipantUpdated(EventBase):
    name: ClassVar[EventName] = EventName.PARTICIPANT_UPDATE
    participant: wire.Participant


@dataclass(frozen=True)
class ParticipantDeleted(EventBase):
    name: ClassVar[EventName] = EventName.PARTICIPANT_DELETE
    uuid: str


@dataclass(frozen=True)
class SyncBegin(EventBase):
    name: ClassVar[EventName] = EventName.PARTICIPANT_SYNC_BEGIN


@dataclass(frozen=True)
class SyncEnd(EventBase):
    name: ClassVar[EventName] = EventName.PARTICIPANT_SYNC_END


# -- conference --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConferenceUpdated(EventBase):
    name: ClassVar[EventName] = EventName.CONFERENCE_UPDATE
    status: wire.ConferenceStatus


@dataclass(frozen=True)
class LayoutChanged(EventBase):
    name: ClassVar[EventName] = EventName.LAYOUT
    data: LayoutData

    @property
    def view(self) -> str:
        return self.data.view

    @property
    def participants(self) -> list[str]:
        return list(self.data.participants)


@dataclass(frozen=True)
class StageChanged(EventBase):
    """Active speakers, most recent first (``stage_index`` 0)."""

    name: ClassVar[EventName] = EventName.STAGE
    entries: Sequence[StageEntry] = ()


@dataclass(frozen=True)
class LiveCaptions(EventBase):
    name: ClassVar[EventName] = EventName.LIVE_CAPTIONS
    text: str
    is_final: bool = False


@dataclass(frozen=True)
class MessageReceived(EventBase):
    name: ClassVar[EventName] = EventName.MESSAGE_RECEIVED
    payload: str
    origin: str = ""
    uuid: str = ""
    type: str = "text/plain"
    direct: bool | None = None


@dataclass(frozen=True)
class Message(MessageReceived):
    """The v14 ``message`` event: same data as ``message_received``."""

    name: ClassVar[EventName] = EventName.MESSAGE


@dataclass(frozen=True)
class SplashScreen(EventBase):
    """``data`` None means: clear the splash screen."""

    name: ClassVar[EventName] = EventName.SPLASH_SCREEN
    data: SplashScreenData | None = None

    @property
    def screen_key(self) -> str | None:
        return self.data.screen_key if self.data is not None else None


@dataclass(frozen=True)
class Fecc(EventBase):
    """Far-end camera control aimed at us; the data is passed through unvalidated."""

    name: ClassVar[EventName] = EventName.FECC
    data: Any = None


@dataclass(frozen=True)
class OnHold(EventBase):
    """Undocumented; the official client ignores it. Raw data kept."""

    name: ClassVar[EventName] = EventName.ON_HOLD
    data: Any = None


# -- calls and lifetime ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallDisconnected(EventBase):
    name: ClassVar[EventName] = EventName.CALL_DISCONNECTED
    call_uuid: str
    reason: str | None = None


@dataclass(frozen=True)
class Disconnected(EventBase):
    """The node is disconnecting us: the session is over."""

    name: ClassVar[EventName] = EventName.DISCONNECT
    reason: str | None = None


@dataclass(frozen=True)
class NewOffer(EventBase):
    name: ClassVar[EventName] = EventName.NEW_OFFER
    sdp: str


@dataclass(frozen=True)
class UpdateSdp(EventBase):
    name: ClassVar[EventName] = EventName.UPDATE_SDP
    sdp: str


@dataclass(frozen=True)
class NewCandidate(EventBase):
    name: ClassVar[EventName] = EventName.NEW_CANDIDATE
    candidate: str
    mid: str | None = None
    ufrag: str | None = None
    pwd: str | None = None


@dataclass(frozen=True)
class PeerDisconnected(EventBase):
    name: ClassVar[EventName] = EventName.PEER_DISCONNECT


@dataclass(frozen=True)
class Refer(EventBase):
    """Move to conference ``alias``, joining with the one-time ``token`` (kept out of repr)."""

    name: ClassVar[EventName] = EventName.REFER
    alias: str
    token: str | None = field(default=None, repr=False)
    breakout_name: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class CancelRefer(EventBase):
    name: ClassVar[EventName] = EventName.CANCEL_REFER
    data: Any = None


@dataclass(frozen=True)
class RefreshTokenRequested(EventBase):
    """The node asks for an immediate token refresh."""

    name: ClassVar[EventName] = EventName.REFRESH_TOKEN


# -- breakouts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakoutBegin(EventBase):
    """A breakout room exists; ``participant_uuid`` is our control participant inside it."""

    name: ClassVar[EventName] = EventName.BREAKOUT_BEGIN
    breakout_uuid: str
    participant_uuid: str


@dataclass(frozen=True)
class BreakoutEvent(EventBase):
    """An event from inside breakout room ``breakout_uuid``, parsed like any other."""

    name: ClassVar[EventName] = EventName.BREAKOUT_EVENT
    breakout_uuid: str
    event: Event


@dataclass(frozen=True)
class BreakoutEnd(EventBase):
    name: ClassVar[EventName] = EventName.BREAKOUT_END
    breakout_uuid: str
    participant_uuid: str | None = None


@dataclass(frozen=True)
class BreakoutRefer(EventBase):
    name: ClassVar[EventName] = EventName.BREAKOUT_REFER
    breakout_uuid: str
    breakout_name: str | None = None


# -- not understood ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UnknownEvent(EventBase):
    """An event the parser could not type: ``event_name`` as sent, ``data`` as decoded JSON
    (or the raw string when it was not JSON), ``error`` saying what failed (None when the name
    is simply unknown) and the SSE ``id``."""

    name: ClassVar[EventName] = EventName.UNKNOWN
    event_name: str
    data: Any = None
    error: str | None = None
    id: str = ""

    def __repr__(self) -> str:
        return (
            f"UnknownEvent(event_name={self.event_name!r}, data={_redacted(self.data)!r}, "
            f"error={self.error!r}, id={self.id!r})"
        )


_SECRET_KEYS = frozenset({"token", "pin", "sso_token"})


def _redacted(data: Any) -> Any:
    """Data as shown in repr: secrets (a refer's one-time token, say) masked."""
    if isinstance(data, dict):
        return {k: "<redacted>" if k in _SECRET_KEYS else _redacted(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_redacted(v) for v in data]
    return data


# -- made by the session -----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStarted(EventBase):
    name: ClassVar[EventName] = EventName.SESSION_STARTED
    participant_uuid: str = ""
    role: str = ""


@dataclass(frozen=True)
class StreamConnected(EventBase):
    """The event stream is (re)connected; ``attempt`` is the 1-based connection count."""

    name: ClassVar[EventName] = EventName.STREAM_CONNECTED
    attempt: int


@dataclass(frozen=True)
class StreamLost(EventBase):
    """The event stream dropped; the reader is reconnecting."""

    name: ClassVar[EventName] = EventName.STREAM_LOST
    reason: str


@dataclass(frozen=True)
class SessionEndedEvent(EventBase):
    """The session is over. Named ``SessionEnded`` in :mod:`pexbot.events` too; this longer
    name avoids clashing with the :class:`pexbot.errors.SessionEnded` exception."""

    name: ClassVar[EventName] = EventName.SESSION_ENDED
    reason: str


SessionEnded = SessionEndedEvent


Event: TypeAlias = (
    PresentationStarted
    | PresentationStopped
    | PresentationFrame
    | PresentationEnded
    | ParticipantCreated
    | ParticipantUpdated
    | ParticipantDeleted
    | SyncBegin
    | SyncEnd
    | ConferenceUpdated
    | LayoutChanged
    | StageChanged
    | LiveCaptions
    | MessageReceived
    | Message
    | SplashScreen
    | Fecc
    | OnHold
    | CallDisconnected
    | Disconnected
    | NewOffer
    | UpdateSdp
    | NewCandidate
    | PeerDisconnected
    | Refer
    | CancelRefer
    | RefreshTokenRequested
    | BreakoutBegin
    | BreakoutEvent
    | BreakoutEnd
    | BreakoutRefer
    | UnknownEvent
    | SessionStarted
    | StreamConnected
    | StreamLost
    | SessionEndedEvent
)


def name_of(event: EventBase) -> str:
    """The event's name as sent on the wire (for :class:`UnknownEvent`, the name it came with)."""
    if isinstance(event, UnknownEvent):
        return event.event_name
    return str(event.name)
