"""Media calls: ``/calls`` and ``calls/<uuid>/*``, brokered per conference.

A conference's :class:`CallBroker` decides what happens to SDP and candidates. A transcoded
conference uses :class:`TranscodedBroker`, which hands everything to the node's
:class:`.media.MediaBackend` (the node terminates media, as a transcoding Infinity does). A
``direct_media`` conference uses :class:`DirectBroker`: offers, answers and candidates are
relayed between its two media participants (:mod:`.direct_media`) and the media backend is
never called for them (``node.media_opens`` counts the backend's ``open_call`` per conference
alias: it stays 0 for a direct-media one).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol, TypeVar

from pexbot import wire
from pexbot.emulator.media.backend import CallContext
from pexbot.errors import NegotiationError

from .model import (
    ApiRefusal,
    BadRequestError,
    Call,
    Conference,
    ForbiddenError,
    Participant,
    Room,
    new_uuid,
)
from .node import Node

log = logging.getLogger(__name__)
T = TypeVar("T")


class CallBroker(Protocol):
    async def open(
        self, room: Room, participant: Participant, call: Call, body: wire.CallsBody
    ) -> wire.CallsResult: ...

    async def ack(self, call: Call, body: wire.AckBody) -> None: ...

    async def candidate(self, call: Call, body: wire.NewCandidateBody) -> None: ...

    async def update(self, call: Call, body: wire.UpdateBody) -> str | wire.UpdateResult: ...

    async def close(self, call: Call) -> None: ...


class TranscodedBroker:
    def __init__(self, node: Node, conference: Conference) -> None:
        self._node = node
        self._conference = conference

    async def open(
        self, room: Room, participant: Participant, call: Call, body: wire.CallsBody
    ) -> wire.CallsResult:
        context = CallContext(
            conference_id=self._conference.id,
            conference_alias=self._conference.alias,
            participant_uuid=participant.uuid,
            display_name=participant.display_name,
            call_uuid=call.uuid,
            media_type=call.media_type,
            present=call.present,
            service_type=self._conference.config.service_type,
            room_id=room.id,
        )
        self._node.media_opens[self._conference.alias] += 1
        answer = await _media_step("open_call", self._node.media.open_call(context, body.sdp))
        return wire.CallsResult(call_uuid=call.uuid, sdp=answer)

    async def ack(self, call: Call, body: wire.AckBody) -> None:
        await _media_step("ack", self._node.media.ack(call.uuid))

    async def candidate(self, call: Call, body: wire.NewCandidateBody) -> None:
        await _media_step(
            "add_remote_candidate",
            self._node.media.add_remote_candidate(call.uuid, body.candidate, body.mid),
        )

    async def update(self, call: Call, body: wire.UpdateBody) -> wire.UpdateResult:
        answer = await _media_step("update_call", self._node.media.update_call(call.uuid, body.sdp))
        return wire.UpdateResult(call_uuid=call.uuid, sdp=answer)

    async def close(self, call: Call) -> None:
        await _media_step("close_call", self._node.media.close_call(call.uuid))


async def _media_step(what: str, step: Awaitable[T]) -> T:
    try:
        return await step
    except ApiRefusal:
        raise
    except (ValueError, NegotiationError) as exc:
        # A malformed or unanswerable offer is the client's fault: 400 with the reason.
        raise BadRequestError(f"Media backend refused the SDP: {exc}") from None
    except Exception:
        log.exception("media backend failed in %s", what)
        raise ApiRefusal("Media backend failure", http_status=502) from None


class DirectBroker:
    """Direct media: the node's :class:`.direct_media.DirectMediaHub` brokers; no backend."""

    def __init__(self, node: Node, conference: Conference) -> None:
        self._hub = node.direct_media
        self._conference = conference

    async def open(
        self, room: Room, participant: Participant, call: Call, body: wire.CallsBody
    ) -> wire.CallsResult:
        return await self._hub.open(self._conference, participant, call, body)

    async def ack(self, call: Call, body: wire.AckBody) -> None:
        self._hub.ack(call, body)

    async def candidate(self, call: Call, body: wire.NewCandidateBody) -> None:
        self._hub.candidate(call, body)

    async def update(self, call: Call, body: wire.UpdateBody) -> str | wire.UpdateResult:
        return await self._hub.update(call, body)

    async def close(self, call: Call) -> None:
        self._hub.release(call)


def broker_for(node: Node, conference: Conference) -> CallBroker:
    if conference.config.direct_media:
        return DirectBroker(node, conference)
    return TranscodedBroker(node, conference)


def release_call(node: Node, call: Call) -> None:
    """A call the node ends on its own: the direct-media far end is told, or the media goes."""
    if not node.direct_media.release(call):
        node.timers.spawn(node.media.close_call(call.uuid))


# -- the operations the routes call ----------------------------------------------------------------


async def create_call(
    node: Node, conference: Conference, room: Room, p: Participant, body: wire.CallsBody
) -> wire.CallsResult:
    if not body.sdp.strip():
        raise BadRequestError("The offer SDP is empty")
    call = Call(
        uuid=new_uuid(),
        participant_uuid=p.uuid,
        media_type=body.media_type or "video",
        present=body.present,
        offer_sdp=body.sdp,
    )
    p.calls[call.uuid] = call
    try:
        result = await broker_for(node, conference).open(room, p, call, body)
    except BaseException:
        call.closed = True
        p.calls.pop(call.uuid, None)
        raise
    if p.uuid not in node.participants:
        # Disconnected while the backend was answering: the call must not outlive it.
        call.closed = True
        release_call(node, call)
        raise ForbiddenError("Participant disconnected")
    call.answer_sdp = result.sdp
    if call.present is None or call.present == "main":
        p.audio_only = call.media_type == "audio"
    node.participant_updated(p)
    node.refresh_media_views(node.room_of(p))
    return result


async def ack(node: Node, conference: Conference, call: Call, body: wire.AckBody) -> bool:
    await broker_for(node, conference).ack(call, body)
    call.acked = True
    node.builtins.sync(conference.id)  # built-ins send from the first acked call on
    return True


async def new_candidate(
    node: Node, conference: Conference, call: Call, body: wire.NewCandidateBody
) -> None:
    call.remote_candidates.append(body)
    await broker_for(node, conference).candidate(call, body)


async def update(
    node: Node, conference: Conference, call: Call, body: wire.UpdateBody
) -> str | wire.UpdateResult:
    if not body.sdp.strip():
        raise BadRequestError("The offer SDP is empty")
    return await broker_for(node, conference).update(call, body)


async def disconnect_call(node: Node, conference: Conference, p: Participant, call: Call) -> None:
    call.closed = True
    await broker_for(node, conference).close(call)
    if p.uuid in node.participants:
        node.participant_updated(p)
        node.refresh_media_views(node.room_of(p))


def drop_call(
    node: Node, p: Participant, call_uuid: str, reason: str = "Call disconnected"
) -> bool:
    """The node ends a call on its own: ``call_disconnected`` to the participant."""
    call = p.calls.get(call_uuid)
    if call is None or call.closed:
        return False
    call.closed = True
    release_call(node, call)
    node.bus.send(p.uuid, "call_disconnected", {"call_uuid": call.uuid, "reason": reason})
    node.participant_updated(p)
    node.refresh_media_views(node.room_of(p))
    return True


def record_statistics(node: Node, p: Participant, call: Call, body: wire.StatisticsBody) -> None:
    """Kept for tests: ``node.statistics[participant_uuid]`` (and the call's latest)."""
    call.statistics = body.body()
    node.statistics.record(p.uuid, call.uuid, body, node.now())
