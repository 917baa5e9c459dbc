"""Who receives what in an emulated conference: legs, fan-out of inputs, the media router.

Each participant's call is a :class:`Leg`: the tracks it sends us (*inputs*, by m-line role)
and the long-lived tracks we send it (*outputs*, whose source can be switched). A
:class:`MediaRouter` per room decides, whenever legs or inputs change, which source each output
gets. :class:`RelayRouter` is the simple policy (the other participant's media, the caller's own
for a test call, the waiting card when alone); a compositor (grid, main speaker, audio mix) is
another router that taps the same inputs and sets composed tracks as output sources.

The node's :class:`~.media.MediaPolicy` (:meth:`MediaRouter.policy_changed`) is honoured by
every router: a server-muted participant's audio reaches nobody, and a participant denied the
presentation gets the filler on its slides line whoever presents.

Every input is read continuously by a :class:`Fanout` (aiortc queues decoded frames without
bound until someone reads them) which hands each frame to any number of taps (tracks that
restamp what they get, so each gets its own copy) and watchers (callbacks that only look).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame
from av.frame import Frame

from pexbot.rtc.sdp import MediaRole
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack

from .backend import CallContext, MediaPolicy, MediaView

log = logging.getLogger(__name__)

OutputTrack = OutgoingAudioTrack | OutgoingVideoTrack
#: (participant uuid, speaking)
VoiceCallback = Callable[[str, bool], None]
FrameWatcher = Callable[[AudioFrame | VideoFrame], None]


@dataclass(eq=False)
class Leg:
    """One participant's call as the media side sees it."""

    call: CallContext
    outputs: dict[MediaRole, OutputTrack]
    inputs: dict[MediaRole, MediaStreamTrack] = field(default_factory=dict)
    #: roles the participant currently sends on (its offer's direction includes send)
    sending: set[MediaRole] = field(default_factory=set)
    #: roles it currently wants to receive
    receiving: set[MediaRole] = field(default_factory=set)
    frames_in: collections.Counter[MediaRole] = field(default_factory=collections.Counter)
    last_in: dict[MediaRole, AudioFrame | VideoFrame] = field(default_factory=dict)

    @property
    def room(self) -> str:
        return self.call.room_id or self.call.conference_id

    def live_input(self, role: MediaRole) -> MediaStreamTrack | None:
        return self.inputs.get(role) if role in self.sending else None


class MediaRouter(Protocol):
    """Decides what every leg of one room receives. Called on the event loop; never blocks."""

    def leg_added(self, leg: Leg) -> None: ...
    async def leg_removed(self, leg: Leg) -> None: ...
    def inputs_changed(self, leg: Leg) -> None:
        """A leg got a new input track, or started / stopped sending or receiving on a role."""
        ...

    def layout_changed(self, layout: str) -> None: ...
    def views_changed(self, views: Mapping[str, MediaView]) -> None:
        """What each participant (by uuid) is to be shown, decided by the node."""
        ...

    def watch_voice(self, callback: VoiceCallback | None) -> None:
        """Report who starts / stops speaking (routers that decode audio may)."""
        ...

    def policy_changed(self, policy: MediaPolicy) -> None:
        """Who is muted and who may not receive the presentation, decided by the node."""
        ...

    async def aclose(self) -> None: ...


class Tap(MediaStreamTrack):
    """One consumer's view of a fanned-out input: the newest ``depth`` frames."""

    def __init__(self, kind: str, depth: int) -> None:
        super().__init__()
        self.kind = kind
        self._frames: collections.deque[Frame] = collections.deque(maxlen=depth)
        self._event = asyncio.Event()
        self._ended = False

    def push(self, frame: Frame | None) -> None:
        if frame is None:
            self._ended = True
        else:
            self._frames.append(frame)
        self._event.set()

    async def recv(self) -> Frame:
        while not self._frames:
            if self._ended or self.readyState != "live":
                raise MediaStreamError
            self._event.clear()
            await self._event.wait()
        return self._frames.popleft()


class Fanout:
    """Reads ``track`` in a task it owns until the track ends or :meth:`aclose`."""

    def __init__(self, leg: Leg, role: MediaRole, track: MediaStreamTrack) -> None:
        self.leg = leg
        self.role = role
        self.track = track
        self._taps: set[Tap] = set()
        self._watchers: list[FrameWatcher] = []
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"fanout-{leg.call.call_uuid}-{role}"
        )

    def tap(self) -> Tap:
        # Audio keeps a few frames so a consumer a little late drops nothing; video only the
        # newest (a late consumer should skip, not lag).
        tap = Tap(self.track.kind, 8 if self.track.kind == "audio" else 1)
        self._taps.add(tap)
        return tap

    def untap(self, tap: Tap) -> None:
        self._taps.discard(tap)
        tap.push(None)

    def watch(self, watcher: FrameWatcher) -> None:
        """Call ``watcher`` with every frame, on the event loop. It gets the original frame,
        shared with others: it may read it (or hand it to a thread to read), not change it."""
        self._watchers.append(watcher)

    def unwatch(self, watcher: FrameWatcher) -> None:
        with contextlib.suppress(ValueError):
            self._watchers.remove(watcher)

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                if isinstance(frame, AudioFrame | VideoFrame):
                    self.leg.frames_in[self.role] += 1
                    self.leg.last_in[self.role] = frame
                    for watcher in list(self._watchers):
                        try:
                            watcher(frame)
                        except Exception:
                            log.exception("watcher of %s %s failed", self.leg.room, self.role)
                    # Each consumer restamps its frames: only the first gets the original.
                    for i, tap in enumerate(self._taps):
                        tap.push(frame if i == 0 else clone_frame(frame))
        except MediaStreamError:
            pass
        finally:
            for tap in self._taps:
                tap.push(None)

    def cancel(self) -> None:
        """Stop reading now; :meth:`aclose` still has to be awaited."""
        self._task.cancel()

    async def aclose(self) -> None:
        self._task.cancel()
        await asyncio.wait({self._task})  # (suppressing CancelledError would eat ours)


def clone_frame(frame: AudioFrame | VideoFrame) -> AudioFrame | VideoFrame:
    """A copy whose timestamps can be changed without touching the original."""
    if isinstance(frame, VideoFrame):
        return VideoFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name)
    copy = AudioFrame.from_ndarray(
        frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
    )
    copy.sample_rate = frame.sample_rate
    return copy


class RelayRouter:
    """1:1 relay: each leg gets the other participant's audio and video, the caller's own for a
    test call, the waiting card and silence when alone; slides carry whoever presents.

    Slides follow the node's floor once it has been told (:meth:`set_presenter`): only the
    presenter's slides are relayed, to everyone but the presenter. A router the node never
    told (used on its own) relays the latest-joined leg that sends slides.

    Policy: a server-muted participant's audio is replaced by silence wherever it would go (not
    by someone else's: the relay's choice of source does not depend on mute), and a participant
    denied the presentation gets the filler on its slides line.
    """

    def __init__(self, room: str) -> None:
        self.room = room
        self.layout: str | None = None
        self.views: dict[str, MediaView] = {}
        self._legs: list[Leg] = []
        self._fanouts: dict[tuple[Leg, MediaRole], Fanout] = {}
        self._retired: list[Fanout] = []  # replaced by a renegotiation: cancelled, not awaited
        self._routes: dict[tuple[Leg, MediaRole], tuple[Fanout, Tap]] = {}
        #: the participant holding the floor (None: nobody), once ``floor_known``
        self.presenter: str | None = None
        self.floor_known = False
        self.policy = MediaPolicy()

    @property
    def legs(self) -> list[Leg]:
        return list(self._legs)

    def set_presenter(self, participant_uuid: str | None) -> None:
        """The node's floor: relay this participant's slides (None: nobody's)."""
        if self.floor_known and participant_uuid == self.presenter:
            return
        self.presenter, self.floor_known = participant_uuid, True
        self._refresh()

    def policy_changed(self, policy: MediaPolicy) -> None:
        if policy == self.policy:
            return
        self.policy = policy
        self._refresh()

    def muted(self, leg: Leg) -> bool:
        """Whether the node has muted the leg's participant (its audio is heard by nobody)."""
        return leg.call.participant_uuid in self.policy.audio_muted

    def leg_added(self, leg: Leg) -> None:
        self._legs.append(leg)
        self._refresh()

    async def leg_removed(self, leg: Leg) -> None:
        if leg in self._legs:
            self._legs.remove(leg)
        for key in [k for k in self._routes if k[0] is leg]:
            self._unroute(key)
        for key in [k for k in self._fanouts if k[0] is leg]:
            await self._fanouts.pop(key).aclose()
        for fanout in [f for f in self._retired if f.leg is leg]:
            self._retired.remove(fanout)
            await fanout.aclose()
        self._refresh()

    def inputs_changed(self, leg: Leg) -> None:
        for role, track in leg.inputs.items():
            fanout = self._fanouts.get((leg, role))
            if fanout is None or fanout.track is not track:
                if fanout is not None:
                    fanout.cancel()  # a renegotiation replaced the track
                    self._retired.append(fanout)
                self._fanouts[(leg, role)] = Fanout(leg, role, track)
        self._refresh()

    def layout_changed(self, layout: str) -> None:
        self.layout = layout  # a relay has no layout; kept for inspection

    def views_changed(self, views: Mapping[str, MediaView]) -> None:
        self.views = dict(views)  # likewise

    def watch_voice(self, callback: VoiceCallback | None) -> None:
        pass  # a relay does not listen to what it forwards

    async def aclose(self) -> None:
        for key in list(self._routes):
            self._unroute(key)
        for fanout in [*self._fanouts.values(), *self._retired]:
            await fanout.aclose()
        self._fanouts.clear()
        self._retired.clear()
        self._legs.clear()

    def choose(self, dest: Leg, role: MediaRole) -> tuple[Leg, MediaRole] | None:
        """The (leg, role) whose input ``dest`` should receive on ``role``; None: the filler."""
        if role == "slides" and dest.call.participant_uuid in self.policy.slides_denied:
            return None
        chosen = self._choose(dest, role)
        if chosen is not None and role == "audio" and self.muted(chosen[0]):
            return None
        return chosen

    def _choose(self, dest: Leg, role: MediaRole) -> tuple[Leg, MediaRole] | None:
        if dest.call.service_type == "test_call":
            return (dest, role) if dest.live_input(role) is not None else None
        if role == "slides" and self.floor_known:
            if self.presenter is None or dest.call.participant_uuid == self.presenter:
                return None
            presenting = [
                leg
                for leg in self._legs
                if leg.call.participant_uuid == self.presenter and leg.live_input(role)
            ]
            return (presenting[-1], role) if presenting else None
        others = [leg for leg in self._legs if leg is not dest and leg.live_input(role)]
        if not others:
            return None
        # Slides: the latest-joined presenter (the floor normally allows one); main media: the
        # first to have joined.
        source = others[-1] if role == "slides" else others[0]
        return source, role

    def _refresh(self) -> None:
        for dest in self._legs:
            for role in dest.outputs:
                self._route(dest, role, self.choose(dest, role))

    def _route(self, dest: Leg, role: MediaRole, source: tuple[Leg, MediaRole] | None) -> None:
        key = (dest, role)
        fanout = self._fanouts.get(source) if source is not None else None
        current = self._routes.get(key)
        if current is not None and current[0] is fanout:
            return
        if current is not None:
            self._unroute(key)
        if fanout is None:
            dest.outputs[role].set_source(None)
            return
        tap = fanout.tap()
        self._routes[key] = (fanout, tap)
        dest.outputs[role].set_source(tap)

    def _unroute(self, key: tuple[Leg, MediaRole]) -> None:
        fanout, tap = self._routes.pop(key)
        key[0].outputs[key[1]].set_source(None)
        fanout.untap(tap)
