"""Conference state kept current from events (pure: no I/O, no clock, no tasks).

Feed every event to :meth:`ConferenceState.apply`, in order. The roster is the interesting part:

- Outside a sync, ``participant_create`` / ``_update`` / ``_delete`` change the roster at once.
  A create for a known uuid counts as an update, an update for an unknown one as a create.
- ``participant_sync_begin`` starts a re-sync (every connection of the event stream starts with
  one). The previous roster stays visible while the node re-sends everyone as creates, which go
  into a buffer. ``participant_sync_end`` swaps the buffer in at once.
- Updates during a sync go to the buffer *and* to the visible entry (a consumer that saw the
  update event then sees it in ``roster``); deletes during a sync leave both, so the swap never
  resurrects or re-reports them.
- Every ``apply`` returns a :class:`RosterDiff`: what joined, changed and left, so a consumer can
  emit the right events. For a sync it is the difference between the roster before and after
  the swap: someone who left while the stream was down is reported deleted, a newcomer created,
  and the ones still there are neither lost nor duplicated.
- A stream that drops mid-sync (:class:`~pexbot.events.StreamLost`) abandons the buffer; the
  next connection syncs again from scratch.

Breakout rooms get a nested :class:`ConferenceState` each, fed by ``breakout_event``; their diffs
carry ``breakout_uuid``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from pexbot import wire
from pexbot.wire.events import LayoutData, SplashScreenData, StageEntry

from . import (
    BreakoutBegin,
    BreakoutEnd,
    BreakoutEvent,
    ConferenceUpdated,
    Disconnected,
    Event,
    LayoutChanged,
    LiveCaptions,
    MessageReceived,
    NewCandidate,
    NewOffer,
    ParticipantCreated,
    ParticipantDeleted,
    ParticipantUpdated,
    PeerDisconnected,
    PresentationFrame,
    PresentationStarted,
    PresentationStopped,
    SplashScreen,
    StageChanged,
    StreamLost,
    SyncBegin,
    SyncEnd,
    UpdateSdp,
)

__all__ = ["Breakout", "ConferenceState", "PresentationState", "RosterDiff"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RosterDiff:
    """What one event did to a roster. ``deleted`` holds the last known participant objects.

    ``resync`` is True for the diff of a ``participant_sync_end``; ``breakout_uuid`` names the
    breakout room whose roster changed (None: the main conference).
    """

    created: tuple[wire.Participant, ...] = ()
    updated: tuple[wire.Participant, ...] = ()
    deleted: tuple[wire.Participant, ...] = ()
    resync: bool = False
    breakout_uuid: str | None = None

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


_NO_CHANGE = RosterDiff()


@dataclass(frozen=True)
class PresentationState:
    """Who presents what; ``last_frame_id`` is the id of the latest ``presentation_frame``."""

    active: bool = False
    presenter_name: str = ""
    presenter_uri: str = ""
    presenter_uuid: str | None = None
    source: str | None = None
    last_frame_id: str | None = None


@dataclass
class Breakout:
    """A breakout room we (a host) watch; ``participant_uuid`` is our control participant."""

    breakout_uuid: str
    participant_uuid: str | None
    state: ConferenceState = field(repr=False)

    @property
    def roster(self) -> Mapping[str, wire.Participant]:
        return self.state.roster


class ConferenceState:
    """Everything the events say about the conference. See the module docstring."""

    def __init__(self, *, chat_history: int = 200, caption_history: int = 100) -> None:
        self._chat_history = chat_history
        self._caption_history = caption_history
        self._roster: dict[str, wire.Participant] = {}
        self._sync_buffer: dict[str, wire.Participant] | None = None
        self.last_resync: RosterDiff | None = None
        self.status: wire.ConferenceStatus | None = None
        self.layout: LayoutData | None = None
        self.stage: tuple[StageEntry, ...] = ()
        self.chat: deque[MessageReceived] = deque(maxlen=chat_history)
        self.presentation = PresentationState()
        #: the latest caption, final or not
        self.caption: LiveCaptions | None = None
        #: text of the final captions, oldest first
        self.captions: deque[str] = deque(maxlen=caption_history)
        self._breakouts: dict[str, Breakout] = {}
        self.splash_screen: SplashScreenData | None = None
        #: direct media: a far end is there to negotiate with
        self.peer_present = False
        #: set by the node's ``disconnect`` event
        self.disconnected = False
        self.disconnect_reason: str | None = None

    # -- views ---------------------------------------------------------------------------------

    @property
    def roster(self) -> Mapping[str, wire.Participant]:
        """uuid → participant; exact after each sync, the previous roster during one."""
        return MappingProxyType(self._roster)

    @property
    def syncing(self) -> bool:
        return self._sync_buffer is not None

    @property
    def breakouts(self) -> Mapping[str, Breakout]:
        return MappingProxyType(self._breakouts)

    # -- the one entry point -------------------------------------------------------------------

    def apply(self, event: Event) -> RosterDiff:
        """Apply one event; return what it did to the roster (empty for most events)."""
        match event:
            case ParticipantCreated(participant=p):
                return self._upsert(p, created=True)
            case ParticipantUpdated(participant=p):
                return self._upsert(p, created=False)
            case ParticipantDeleted(uuid=uuid):
                return self._delete(uuid)
            case SyncBegin():
                if self._sync_buffer is not None:
                    log.info("participant_sync_begin during a sync: starting over")
                self._sync_buffer = {}
            case SyncEnd():
                return self._end_sync()
            case StreamLost():
                self._sync_buffer = None
            case ConferenceUpdated(status=status):
                self.status = status
            case LayoutChanged(data=data):
                self.layout = data
            case StageChanged(entries=entries):
                self.stage = tuple(entries)
            case MessageReceived():
                self.chat.append(event)
            case LiveCaptions(text=text, is_final=is_final):
                self.caption = event
                if is_final:
                    self.captions.append(text)
            case PresentationStarted():
                self.presentation = PresentationState(
                    active=True,
                    presenter_name=event.presenter_name,
                    presenter_uri=event.presenter_uri,
                    presenter_uuid=event.presenter_uuid,
                    source=event.source,
                )
            case PresentationStopped():
                self.presentation = PresentationState()
            case PresentationFrame(event_id=event_id):
                self.presentation = replace(self.presentation, last_frame_id=event_id)
            case SplashScreen(data=data):
                self.splash_screen = data
            case NewOffer() | UpdateSdp() | NewCandidate():
                self.peer_present = True
            case PeerDisconnected():
                self.peer_present = False
            case Disconnected(reason=reason):
                self.disconnected = True
                self.disconnect_reason = reason
            case BreakoutBegin(breakout_uuid=b_uuid, participant_uuid=p_uuid):
                self._breakout(b_uuid).participant_uuid = p_uuid
            case BreakoutEvent(breakout_uuid=b_uuid, event=inner):
                diff = self._breakout(b_uuid).state.apply(inner)
                return replace(diff, breakout_uuid=b_uuid) if diff else _NO_CHANGE
            case BreakoutEnd(breakout_uuid=b_uuid):
                self._breakouts.pop(b_uuid, None)
        return _NO_CHANGE

    # -- roster --------------------------------------------------------------------------------

    def _upsert(self, p: wire.Participant, *, created: bool) -> RosterDiff:
        if self._sync_buffer is not None:
            self._sync_buffer[p.uuid] = p
            if created or p.uuid not in self._roster:
                # Creates are the re-sync itself: reported once, by the swap.
                return _NO_CHANGE
        old = self._roster.get(p.uuid)
        self._roster[p.uuid] = p
        if old is None:
            return RosterDiff(created=(p,))
        if old == p:
            return _NO_CHANGE
        return RosterDiff(updated=(p,))

    def _delete(self, uuid: str) -> RosterDiff:
        if self._sync_buffer is not None:
            self._sync_buffer.pop(uuid, None)
        old = self._roster.pop(uuid, None)
        return RosterDiff(deleted=(old,)) if old is not None else _NO_CHANGE

    def _end_sync(self) -> RosterDiff:
        new = self._sync_buffer
        if new is None:
            log.warning("participant_sync_end without participant_sync_begin: ignored")
            return _NO_CHANGE
        old = self._roster
        self._sync_buffer = None
        self._roster = new
        diff = RosterDiff(
            created=tuple(p for uuid, p in new.items() if uuid not in old),
            updated=tuple(p for uuid, p in new.items() if uuid in old and old[uuid] != p),
            deleted=tuple(p for uuid, p in old.items() if uuid not in new),
            resync=True,
        )
        self.last_resync = diff
        return diff

    def _breakout(self, breakout_uuid: str) -> Breakout:
        breakout = self._breakouts.get(breakout_uuid)
        if breakout is None:
            nested = ConferenceState(
                chat_history=self._chat_history, caption_history=self._caption_history
            )
            breakout = Breakout(breakout_uuid, None, nested)
            self._breakouts[breakout_uuid] = breakout
        return breakout

    def __repr__(self) -> str:
        return (
            f"ConferenceState(participants={len(self._roster)}, syncing={self.syncing}, "
            f"presentation_active={self.presentation.active}, breakouts={len(self._breakouts)}, "
            f"disconnected={self.disconnected})"
        )
