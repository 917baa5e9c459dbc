"""Who is forwarded to whom in a forwarding room (``--media forward``): the policy, no media.

A forwarder cannot compose (that needs decoding), so each participant is sent ONE other
participant's media, as that participant encoded it:

- main audio and video: those of the participant in the first tile of its view, which the
  node makes a ``1:0`` view of the first other participant in stage order (spotlight first,
  then join order: without decoding there is no voice activity to reorder it). So the
  ``layout`` event names exactly the participant whose picture and sound arrive. Audio is that
  one participant's Opus packets, not a mix: mixing needs decoding. A router never told any
  view (used on its own) forwards the first other leg to have joined. Nothing is sent when
  there is nobody else, or when that participant sends nothing on the role (no filler: a
  filler would have to be encoded, and would mix two encoders' streams in one decoder).
- slides: the presenter's, as they are, to everyone but the presenter (the node's floor;
  without it, the latest-joined leg sending slides).
- a test call gets its own media back.

Policy (:class:`~.backend.MediaPolicy`): a server-muted participant's audio is forwarded to
nobody (its listeners get nothing), and a participant denied the presentation gets no slides.

The router deals in outputs (anything with ``set_source``): the RTP fast path's
:class:`~.forward_fast.RtpOutput` or the frame path's :class:`~.forward_tracks.ForwardTrack`.
The backend hands each packet or frame of a source to :meth:`ForwardRouter.subscribed` of it;
an output whose leg does not receive on that role (an inactive slides line) is not subscribed
at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from pexbot.rtc.sdp import MediaRole

from .backend import MediaPolicy, MediaView
from .forward_tracks import SourceKey
from .router import Leg, VoiceCallback

__all__ = ["FORWARD_LAYOUT", "ForwardOutput", "ForwardRouter"]

#: the layout every participant of a forwarding room is shown: one picture, no thumbnails
FORWARD_LAYOUT = "1:0"


class ForwardOutput(Protocol):
    """What one leg is sent on one role: told which source feeds it (None: nothing)."""

    def set_source(self, source: SourceKey | None) -> None: ...


Output = TypeVar("Output", bound=ForwardOutput)


class ForwardRouter(Generic[Output]):
    """The :class:`~.router.MediaRouter` of one forwarding room (also a floor router: the
    presentation module tells it who presents)."""

    def __init__(self, room: str, tracks_of: Callable[[Leg], Mapping[MediaRole, Output]]) -> None:
        self.room = room
        self.layout: str | None = None
        self.views: dict[str, MediaView] = {}
        self.views_known = False
        self.presenter: str | None = None
        self.floor_known = False
        self.policy = MediaPolicy()
        self._legs: list[Leg] = []
        #: a leg's outputs by role (kept by the backend; empty for a leg it does not serve)
        self._tracks_of = tracks_of
        self._subscribers: dict[SourceKey, list[Output]] = {}

    @property
    def legs(self) -> list[Leg]:
        return list(self._legs)

    # --- who is fed what ----------------------------------------------------------------

    def subscribed(self, source: SourceKey) -> Sequence[Output]:
        """The outputs forwarded ``source`` now (read per packet: not copied, never changed;
        a refresh replaces it)."""
        return self._subscribers.get(source, ())

    def subscribers(self, source: SourceKey) -> list[Output]:
        return list(self._subscribers.get(source, ()))

    # --- MediaRouter ---------------------------------------------------------------------

    def leg_added(self, leg: Leg) -> None:
        self._legs.append(leg)
        self._refresh()

    async def leg_removed(self, leg: Leg) -> None:
        if leg in self._legs:
            self._legs.remove(leg)
        for track in self._tracks_of(leg).values():
            track.set_source(None)
        self._refresh()

    def inputs_changed(self, leg: Leg) -> None:
        self._refresh()

    def layout_changed(self, layout: str) -> None:
        self.layout = layout  # every view is FORWARD_LAYOUT; kept for inspection

    def views_changed(self, views: Mapping[str, MediaView]) -> None:
        self.views, self.views_known = dict(views), True
        self._refresh()

    def watch_voice(self, callback: VoiceCallback | None) -> None:
        pass  # nothing is decoded, so nobody is heard speaking

    def policy_changed(self, policy: MediaPolicy) -> None:
        if policy != self.policy:
            self.policy = policy
            self._refresh()

    def set_presenter(self, participant_uuid: str | None) -> None:
        if self.floor_known and participant_uuid == self.presenter:
            return
        self.presenter, self.floor_known = participant_uuid, True
        self._refresh()

    async def aclose(self) -> None:
        for leg in self._legs:
            for track in self._tracks_of(leg).values():
                track.set_source(None)
        self._legs.clear()
        self._subscribers.clear()

    # --- the policy ----------------------------------------------------------------------

    def choose(self, dest: Leg, role: MediaRole) -> SourceKey | None:
        """The source ``dest`` is forwarded on ``role`` (None: nothing)."""
        if dest.call.service_type == "test_call":
            return _key(dest, role) if _sends(dest, role) else None
        if role == "slides":
            if dest.call.participant_uuid in self.policy.slides_denied:
                return None
            presenter = self._presenter_leg(dest)
            return _key(presenter, role) if presenter is not None else None
        source = self.forwarded(dest)
        if source is None or not _sends(source, role):
            return None
        if role == "audio" and source.call.participant_uuid in self.policy.audio_muted:
            return None
        return _key(source, role)

    def forwarded(self, dest: Leg) -> Leg | None:
        """The leg whose main media ``dest`` is sent."""
        others = [
            leg for leg in self._legs if leg.call.participant_uuid != dest.call.participant_uuid
        ]
        if not self.views_known:
            sending = [leg for leg in others if leg.sending & {"audio", "video"}]
            return sending[0] if sending else None
        view = self.views.get(dest.call.participant_uuid)
        if view is None or not view.participants:
            return None
        wanted = view.participants[0]
        # A participant's latest call is its live one (a reconnect may overlap the old one).
        legs = [leg for leg in others if leg.call.participant_uuid == wanted]
        return legs[-1] if legs else None

    def _presenter_leg(self, dest: Leg) -> Leg | None:
        if self.floor_known:
            if self.presenter is None or dest.call.participant_uuid == self.presenter:
                return None
            wanted = [
                leg
                for leg in self._legs
                if leg.call.participant_uuid == self.presenter and _sends(leg, "slides")
            ]
        else:
            wanted = [leg for leg in self._legs if leg is not dest and _sends(leg, "slides")]
        return wanted[-1] if wanted else None

    def _refresh(self) -> None:
        subscribers: dict[SourceKey, list[Output]] = {}
        for dest in self._legs:
            for role, track in self._tracks_of(dest).items():
                source = self.choose(dest, role) if role in dest.receiving else None
                track.set_source(source)
                if source is not None:
                    subscribers.setdefault(source, []).append(track)
        self._subscribers = subscribers


def _key(leg: Leg, role: MediaRole) -> SourceKey:
    return leg.call.call_uuid, role


def _sends(leg: Leg, role: MediaRole) -> bool:
    return leg.live_input(role) is not None
