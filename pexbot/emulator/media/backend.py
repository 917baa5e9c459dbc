"""The emulator's media seam: what a media backend must do, and the names of the backends.

``Emulator(config, media=...)`` takes a backend or a name (:data:`MediaChoice`, built by
:func:`.choice.make_media_backend`); the call routes (``/calls``, ``ack``, ``new_candidate``,
``update``, ``calls/<id>/disconnect``) hand every SDP and candidate to it. The default,
``"compose"``, answers with aiortc and transcodes the conference (:mod:`.compositor`);
``"relay"`` forwards media 1:1; ``"none"`` is :class:`NullMediaBackend`, which answers with a
valid SDP that rejects every m-line (port 0), so a client can go through the whole signalling
dance without any media flowing.

This module imports no backend: the backends import it (for :class:`CallContext`,
:class:`MediaView`...), and :mod:`.choice` builds them. :class:`NullMediaBackend` lives here as
it needs nothing but the seam.

A composing backend also has the :class:`ComposingBackend` methods: the node tells it what each
participant is shown (:class:`MediaView`: the layout and the participants in tile order, the
very list the ``layout`` event carries) and hears back who is speaking. A
:class:`PolicyBackend` is also told each room's :class:`MediaPolicy`: whose audio stays out of
what others hear (server-side mute) and who is sent no presentation (``denyrxpresentation``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class CallContext:
    """Everything a backend may want to know about a new call."""

    conference_id: str
    conference_alias: str
    participant_uuid: str
    display_name: str
    call_uuid: str
    media_type: str  # "video" | "video-only" | "audio"
    present: str | None  # None, "main", "send", "receive"
    service_type: str  # "conference" | "lecture" | "test_call"
    room_id: str = ""  # main room (== conference_id) or a breakout uuid


@runtime_checkable
class MediaBackend(Protocol):
    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        """Answer SDP for the offer (complete, candidates included)."""
        ...

    async def add_remote_candidate(self, call_uuid: str, candidate: str, mid: str | None) -> None:
        """A trickled candidate from the client; ``candidate == ""`` is end-of-candidates."""
        ...

    async def ack(self, call_uuid: str) -> None:
        """The client has applied the answer: media may flow from now on."""
        ...

    async def update_call(self, call_uuid: str, offer_sdp: str) -> str:
        """Renegotiation: answer SDP for a new offer on an existing call."""
        ...

    async def close_call(self, call_uuid: str) -> None: ...

    async def layout_changed(self, conference_id: str, layout: str) -> None:
        """transform_layout changed the conference layout (composition backends re-tile)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class MediaView:
    """What one participant is sent: ``layout`` (canonical name, see :mod:`.layouts`) filled
    with ``participants`` in tile order (tile 0: the main speaker position)."""

    layout: str
    participants: tuple[str, ...]


@dataclass(frozen=True)
class MediaPolicy:
    """What the node's participant state asks of a room's media, by participant uuid."""

    #: muted on the server (``mute``, ``muteguests``): nobody hears them
    audio_muted: frozenset[str] = frozenset()
    #: ``rx_presentation_policy`` ``DENY``: sent no slides
    slides_denied: frozenset[str] = frozenset()


class VoiceListener(Protocol):
    def voice_activity(self, room_id: str, participant_uuid: str, speaking: bool) -> None:
        """A participant started or stopped speaking (called on the event loop)."""
        ...


@runtime_checkable
class ComposingBackend(Protocol):
    """Optional extras of a backend that composes layouts (the node uses them if present)."""

    def set_views(self, room_id: str, views: Mapping[str, MediaView]) -> None:
        """The view of every participant of the room, by participant uuid (all of them, each
        time: a participant missing from ``views`` is shown nothing)."""
        ...

    def set_voice_listener(self, listener: VoiceListener | None) -> None: ...

    def participant_moved(self, participant_uuid: str, room_id: str) -> None:
        """The participant's calls now belong to another room (breakouts)."""
        ...


@runtime_checkable
class PolicyBackend(Protocol):
    """Optional: a backend that enforces mute and presentation policy in its media."""

    def set_policy(self, room_id: str, policy: MediaPolicy) -> None:
        """The room's policy from now on (all of it, each time; cheap when unchanged)."""
        ...


@runtime_checkable
class ForwardingBackend(Protocol):
    """Optional: a backend that forwards one participant's encoded media instead of composing.
    Every participant is shown ``forward_layout`` (one tile), so the node's views, and the
    ``layout`` events, name exactly the participant whose media is forwarded."""

    @property
    def forward_layout(self) -> str: ...


def reject_all_answer(offer_sdp: str) -> str:
    """An answer that declines every m-line of the offer (RFC 3264 §6: port 0)."""
    session_id = str(int(time.time() * 1000))
    lines = [
        "v=0",
        f"o=pexbot-emulator {session_id} 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
    ]
    for raw in offer_sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) < 3:
                continue
            kind, proto = parts[0], parts[2]
            fmt = parts[3] if len(parts) > 3 else "0"
            lines += [f"m={kind} 0 {proto} {fmt}", "c=IN IP4 0.0.0.0", "a=inactive"]
        elif line.startswith("a=mid:") and lines[-1] == "a=inactive":
            lines.append(line)
    return "\r\n".join(lines) + "\r\n"


class NullMediaBackend:
    """Signalling only: every call is answered, every m-line rejected, nothing flows."""

    def __init__(self) -> None:
        self.calls: dict[str, CallContext] = {}
        self.acked: set[str] = set()
        self.candidates: dict[str, list[tuple[str, str | None]]] = {}
        self.layouts: dict[str, str] = {}

    async def open_call(self, call: CallContext, offer_sdp: str) -> str:
        self.calls[call.call_uuid] = call
        return reject_all_answer(offer_sdp)

    async def add_remote_candidate(self, call_uuid: str, candidate: str, mid: str | None) -> None:
        self.candidates.setdefault(call_uuid, []).append((candidate, mid))

    async def ack(self, call_uuid: str) -> None:
        self.acked.add(call_uuid)

    async def update_call(self, call_uuid: str, offer_sdp: str) -> str:
        return reject_all_answer(offer_sdp)

    async def close_call(self, call_uuid: str) -> None:
        self.calls.pop(call_uuid, None)
        self.acked.discard(call_uuid)
        self.candidates.pop(call_uuid, None)

    async def layout_changed(self, conference_id: str, layout: str) -> None:
        self.layouts[conference_id] = layout

    async def aclose(self) -> None:
        self.calls.clear()


#: ``compose``: a transcoding conference (layouts, audio mix); ``relay``: the other participant's
#: media 1:1; ``forward``: one other participant's encoded media, never decoded (for load,
#: :mod:`.forward`); ``none``: signalling only (:class:`NullMediaBackend`)
MediaChoice = Literal["compose", "relay", "forward", "none"]
MEDIA_CHOICES: tuple[MediaChoice, ...] = ("compose", "relay", "forward", "none")
