"""Built-in participants: virtual callers the emulator itself puts in a conference.

A conference's ``builtin_participants`` (:class:`.config.BuiltinParticipant`) join its main
room when the conference starts (its first client joins) and are in every roster from then on:
``participant_create`` with ``has_media`` true, protocol ``webrtc``, role guest. They never
leave on their own; a host may disconnect one (or move it to a breakout room), and a
disconnected one stays away until the conference ends. They do not keep a conference alive: it
ends when its last client leaves, as always, and its built-ins are made afresh (new uuids) the
next time it is used.

Media: a built-in's picture (the moving test pattern of :mod:`media.synthetic`, its frame
numbers counted from ``first_frame``) and sound (a tone, or silence) enter its room's media
router as the inputs of a leg, exactly where a caller's decoded tracks go, so the compositor
tiles and mixes it and hears it speak (``stage``, ``layout`` events) and the relay forwards it.
They run only while someone can receive them: the sources start when a client in the
built-in's room has an acked main media call and stop when the last such call ends, so an idle
emulator spends no CPU on them. A backend that cannot take such legs
(:class:`.media.NullMediaBackend`) gets roster-only built-ins.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from media.clock import MediaClock
from media.synthetic import PatternVideoSource, SilenceAudioSource, ToneAudioSource
from media.tone import ToneSpec
from pexbot.emulator.config import BuiltinParticipant
from pexbot.emulator.media.backend import CallContext, MediaBackend
from pexbot.rtc.sdp import MediaRole

from .model import Conference, Participant, Room, new_uuid
from .timers import Timers

log = logging.getLogger(__name__)

#: the first built-in's pattern numbers start here, each next one's a ``FRAME_STRIDE`` higher
#: (callers' own patterns conventionally count from 0, so a reader can tell them apart)
DEFAULT_FIRST_FRAME = 9_000_000
FRAME_STRIDE = 1_000_000
VENDOR = "pexbot-emulator built-in"
#: the smallest picture the pattern can be drawn at
MIN_SIZE = (64, 36)


def first_frame(spec: BuiltinParticipant, position: int) -> int:
    """The first pattern number of the built-in at ``position`` in its conference's list."""
    if spec.first_frame is not None:
        return spec.first_frame
    return DEFAULT_FIRST_FRAME + FRAME_STRIDE * position


def tone_spec(spec: BuiltinParticipant) -> ToneSpec:
    """The tone, with :mod:`media.tone`'s once-a-second markers at 1.5 times its frequency."""
    return ToneSpec(frequency=spec.tone_hz, marker_frequency=spec.tone_hz * 1.5)


def receiving(p: Participant) -> bool:
    """Whether ``p`` is a client in the conference with an acked main media call."""
    return (
        p.kind == "client"
        and p.admitted
        and any(
            call.acked and not call.closed and call.present in (None, "main")
            for call in p.calls.values()
        )
    )


def wanted_rooms(conference: Conference) -> dict[str, str]:
    """Built-in uuid → the room whose router should get its media now: its own room, if some
    client there can receive it (nobody to send to otherwise). Pure."""
    wanted: dict[str, str] = {}
    for room in conference.rooms():
        members = list(room.participants.values())
        if any(receiving(p) for p in members):
            wanted.update((p.uuid, room.id) for p in members if p.kind == "builtin" and p.has_media)
    return wanted


@runtime_checkable
class SourceLegHost(Protocol):
    """A backend that takes legs fed in-process (:class:`.media_aiortc.AiortcMediaBackend`)."""

    @property
    def source_format(self) -> tuple[tuple[int, int], float]:
        """(width, height) and frames per second of the pictures the node sends."""
        ...

    def add_source_leg(
        self, call: CallContext, inputs: Mapping[MediaRole, MediaStreamTrack]
    ) -> object: ...

    async def remove_source_leg(self, call_uuid: str) -> None: ...


# -- sources ------------------------------------------------------------------------------------


class BuiltinPattern(PatternVideoSource):
    """The pattern with numbers from ``first``, drawn with a large code (about 3/4 of the width)
    so it stays readable scaled into a small tile; ``made`` is told of every frame."""

    def __init__(
        self,
        first: int,
        size: tuple[int, int],
        fps: float,
        *,
        clock: MediaClock,
        made: Callable[[str], None],
    ) -> None:
        width, height = max(size[0], MIN_SIZE[0]) // 2 * 2, max(size[1], MIN_SIZE[1]) // 2 * 2
        module = max(2, min(width // 40, height // 12))
        super().__init__(width, height, fps=fps, clock=clock, module=module)
        self.first = first
        self._made = made

    async def render(self, index: int, t: float) -> VideoFrame:
        self._made("video")
        return await super().render(index + self.first, t)


class BuiltinTone(ToneAudioSource):
    def __init__(self, spec: ToneSpec, *, clock: MediaClock, made: Callable[[str], None]) -> None:
        super().__init__(spec, clock=clock)
        self._made = made

    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        self._made("audio")
        return await super().render(index, first_sample, t)


class BuiltinSilence(SilenceAudioSource):
    def __init__(self, *, clock: MediaClock, made: Callable[[str], None]) -> None:
        super().__init__(clock=clock)
        self._made = made

    async def render(self, index: int, first_sample: int, t: float) -> AudioFrame:
        self._made("audio")
        return await super().render(index, first_sample, t)


def make_sources(
    spec: BuiltinParticipant,
    first: int,
    size: tuple[int, int],
    fps: float,
    made: Callable[[str], None],
) -> dict[MediaRole, MediaStreamTrack]:
    """The built-in's tracks by role, on one clock (so their A/V offset is zero)."""
    clock = MediaClock()
    tracks: dict[MediaRole, MediaStreamTrack] = {}
    if spec.video == "pattern":
        tracks["video"] = BuiltinPattern(first, size, fps, clock=clock, made=made)
    if spec.audio == "tone":
        tracks["audio"] = BuiltinTone(tone_spec(spec), clock=clock, made=made)
    elif spec.audio == "silence":
        tracks["audio"] = BuiltinSilence(clock=clock, made=made)
    return tracks


# -- the node's side ----------------------------------------------------------------------------


class BuiltinsHost(Protocol):
    """What the built-ins need of the node (:class:`.node.Node` is one)."""

    @property
    def media(self) -> MediaBackend: ...

    @property
    def timers(self) -> Timers: ...

    @property
    def conferences(self) -> Mapping[str, Conference]: ...

    @property
    def participants(self) -> Mapping[str, Participant]: ...

    def wall(self) -> float: ...

    def add_to_room(self, participant: Participant, room: Room) -> None:
        """Join as any participant does: roster events, media views."""
        ...


@dataclass(frozen=True)
class Running:
    """A built-in's media in one room's router."""

    conference_id: str
    room_id: str
    call_uuid: str
    tracks: tuple[MediaStreamTrack, ...]


class Builtins:
    """The node's built-in participants: who they are, and whether their media runs.

    The node calls :meth:`populate` before a client joins, :meth:`sync` whenever calls or
    rooms change (every media-view refresh and every ``ack``) and :meth:`conference_ended`
    when a conference ends. Everything runs on the event loop; media teardown is a job of the
    node's timers.
    """

    def __init__(self, node: BuiltinsHost) -> None:
        self._node = node
        self._started: set[str] = set()  # conferences whose built-ins have joined
        self._specs: dict[str, tuple[BuiltinParticipant, int]] = {}  # uuid → (spec, first frame)
        self._running: dict[str, Running] = {}  # by built-in uuid
        #: frames the built-ins' sources made, by kind ("video", "audio"), since the start
        self.frames: Counter[str] = Counter()

    def running(self) -> dict[str, Running]:
        """The built-ins whose media runs now, by participant uuid."""
        return dict(self._running)

    def first_frame_of(self, participant_uuid: str) -> int | None:
        """The first pattern number of a built-in (None: not a built-in of this node)."""
        entry = self._specs.get(participant_uuid)
        return entry[1] if entry is not None else None

    def populate(self, conference: Conference) -> list[Participant]:
        """The conference's first client is about to join: its built-ins join first (once per
        conference run). Returns the built-ins added."""
        specs = conference.config.builtin_participants
        if conference.id in self._started or not specs:
            return []
        self._started.add(conference.id)
        added = []
        for position, spec in enumerate(specs):
            p = Participant(
                uuid=new_uuid(),
                display_name=spec.display_name,
                role="GUEST",
                conference_id=conference.id,
                room_id=conference.main.id,
                service_type=conference.config.service_type,
                start_time=self._node.wall(),
                kind="builtin",
                protocol="webrtc",
                vendor=VENDOR,
                audio_only=spec.video == "none",
                has_media_override=spec.video != "none" or spec.audio != "none",
            )
            self._specs[p.uuid] = (spec, first_frame(spec, position))
            self._node.add_to_room(p, conference.main)
            added.append(p)
        return added

    def conference_ended(self, conference_id: str) -> None:
        """Its participants are gone: media stops; the next run makes new built-ins."""
        self._started.discard(conference_id)
        self.sync(conference_id)
        for uuid in [u for u in self._specs if u not in self._node.participants]:
            del self._specs[uuid]

    def sync(self, conference_id: str) -> None:
        """Start and stop the conference's built-in media to match :func:`wanted_rooms`."""
        conference = self._node.conferences.get(conference_id)
        wanted = wanted_rooms(conference) if conference is not None else {}
        for uuid, running in list(self._running.items()):
            if running.conference_id == conference_id and wanted.get(uuid) != running.room_id:
                self._stop(uuid)
        host = self._node.media
        if conference is None or not isinstance(host, SourceLegHost):
            return
        for uuid, room_id in wanted.items():
            if uuid not in self._running and uuid in self._specs:
                try:
                    self._start(host, conference, room_id, uuid)
                except Exception:
                    # The roster and signalling must go on without the built-in's media.
                    log.exception("built-in %s could not start its media", uuid)

    def _start(self, host: SourceLegHost, conference: Conference, room_id: str, uuid: str) -> None:
        spec, first = self._specs[uuid]
        size, fps = host.source_format
        tracks = make_sources(spec, first, size, fps, self._made)
        call = CallContext(
            conference_id=conference.id,
            conference_alias=conference.alias,
            participant_uuid=uuid,
            display_name=spec.display_name,
            call_uuid=new_uuid(),
            media_type="video" if "video" in tracks else "audio",
            present=None,
            service_type=conference.config.service_type,
            room_id=room_id,
        )
        host.add_source_leg(call, tracks)
        self._running[uuid] = Running(
            conference.id, room_id, call.call_uuid, tuple(tracks.values())
        )
        log.debug("built-in %s sends into room %s", spec.display_name, room_id)

    def _stop(self, uuid: str) -> None:
        running = self._running.pop(uuid)
        host = self._node.media
        if isinstance(host, SourceLegHost):
            self._node.timers.spawn(self._detach(host, running))
        else:
            _stop_tracks(running)

    @staticmethod
    async def _detach(host: SourceLegHost, running: Running) -> None:
        try:
            await host.remove_source_leg(running.call_uuid)
        finally:
            _stop_tracks(running)

    def _made(self, kind: str) -> None:
        self.frames[kind] += 1


def _stop_tracks(running: Running) -> None:
    for track in running.tracks:
        with contextlib.suppress(Exception):
            track.stop()
